"""The discriminator calibration (awd/style/disc_calibration.py): built as the train config builds it, it tells
shifted windows from the demos and stays near chance on windows of the same distribution."""

import dataclasses

import torch

from awd.config import load_run_config
from awd.style.disc_calibration import calibrate, disc_setup


def test_setup_follows_the_shipped_train_config():
    train = load_run_config("DucklingCommand")["train"]
    setup, config = disc_setup(train), train["params"]["config"]
    assert setup.steps_per_epoch == config["mini_epochs"] * config["num_minibatches"]
    assert setup.weights.loss == config["disc_loss"] and setup.learning_rate == config["disc_learning_rate"]


def test_a_shifted_source_is_told_apart_and_the_same_source_is_not():
    torch.set_num_threads(1)
    setup = dataclasses.replace(disc_setup(load_run_config("DucklingCommand")["train"]), units=[64, 32],
                                learning_rate=1e-3)
    generator = torch.Generator().manual_seed(0)
    demo, same = torch.randn(2, 4000, 8, generator=generator)
    shifted = same.clone()
    shifted[:, 0] += 6.0
    kwargs = dict(steps=150, minibatch=256, report_every=150)
    apart, alike = calibrate(shifted, demo, setup, **kwargs)[-1], calibrate(same, demo, setup, **kwargs)[-1]
    assert apart["agent_acc"] > 0.85 and apart["demo_acc"] > 0.85
    assert abs(alike["agent_acc"] - 0.5) < 0.15 and abs(alike["demo_acc"] - 0.5) < 0.15
