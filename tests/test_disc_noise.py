"""The discriminator's adaptive instance noise (awd.learning.disc_noise): the std grows while D is surer than its
target and shrinks while it is less sure, within bounds; the loss reports the clean accuracies beside the noised
ones; the saturation warning reads the clean ones."""

import pytest
import torch

from awd.learning.disc_noise import MAX_STD, MIN_STD, DiscNoise
from awd.learning.discriminator import DiscLossWeights, Discriminator, discriminator_loss
from awd.learning.watchdogs import Watchdogs


def _epoch(noise, agent, demo):
    stats = {"info/disc_agent_acc": agent, "info/disc_demo_acc": demo}
    noise.after_epoch(stats)
    return stats["info/disc_input_noise"]


def test_the_std_follows_the_accuracy_towards_its_target_within_bounds():
    noise = DiscNoise(0.5, 0.75, "cpu")
    assert noise.weight() is noise.std
    used = [_epoch(noise, 1.0, 1.0) for _ in range(3)]
    assert used[0] == 0.5 and used[1] > 0.5 and used[2] > used[1] and noise.std.item() == pytest.approx(noise._value)
    grown = noise._value
    _epoch(noise, 0.6, 0.5)
    assert noise._value < grown
    for _ in range(100):
        _epoch(noise, 1.0, 1.0)
    assert noise._value == MAX_STD
    for _ in range(200):
        _epoch(noise, 0.5, 0.5)
    assert noise._value == MIN_STD
    restored = DiscNoise(0.5, 0.75, "cpu")
    restored.load_state_dict(noise.state_dict())
    assert restored.std.item() == pytest.approx(MIN_STD)


def test_a_fixed_std_stays_fixed_and_is_a_plain_number():
    noise = DiscNoise(0.5, 0.0, "cpu")
    for _ in range(5):
        assert _epoch(noise, 1.0, 1.0) == 0.5
    assert noise.weight() == 0.5


def test_the_loss_reports_clean_accuracies_when_inputs_are_noised():
    torch.manual_seed(0)
    disc = Discriminator(4, [32])
    agent, demo = torch.randn(256, 4) - 3.0, torch.randn(256, 4) + 3.0
    optimizer = torch.optim.Adam(disc.parameters(), lr=1e-2)
    for _ in range(100):
        loss, _ = discriminator_loss(disc, agent, demo, DiscLossWeights(input_noise=0.0, loss="lsgan"))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _, plain = discriminator_loss(disc, agent, demo, DiscLossWeights(input_noise=0.0))
    assert "disc_agent_acc_clean" not in plain
    _, noised = discriminator_loss(disc, agent, demo, DiscLossWeights(input_noise=torch.tensor(30.0)))
    assert noised["disc_agent_acc_clean"] == 1.0 and noised["disc_demo_acc_clean"] == 1.0
    assert noised["disc_agent_acc"] < 0.9 and noised["disc_demo_acc"] < 0.9


def test_the_saturation_warning_reads_the_clean_accuracies():
    lines = []
    dogs = Watchdogs(0.95, 3, lines.append)
    for epoch in range(5):
        dogs.after_epoch({"info/disc_agent_acc": 0.6, "info/disc_demo_acc": 0.6, "info/disc_agent_acc_clean": 1.0,
                          "info/disc_demo_acc_clean": 0.99}, epoch)
    assert len(lines) == 1 and "saturated" in lines[0]
