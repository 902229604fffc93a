"""Reward weight ramps: a term's weight rises from 0 over a span of training frames; play keeps the full weight."""

import pytest
import torch

from awd import DATA_DIR
from awd.config import apply_override, load_run_config
from awd.tasks.reward_ramp import ramp_scale
from awd.utils.io import read_yaml
from awd.utils.rotations import quat_to_matrix


def test_the_share_of_the_weight_rises_linearly_from_start_to_end():
    assert [ramp_scale(f, 100, 300) for f in (0, 100, 200, 300, 1e9)] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert ramp_scale(0, 0, 0) == 1.0  # the default span: the full weight from the first frame
    assert (ramp_scale(49, 50, 50), ramp_scale(50, 50, 50)) == (0.0, 1.0)


@pytest.fixture(scope="module")
def env():
    from awd.tasks import build_env

    mapping = read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml")["env"]
    rewards = {"alive": {"weight": 2.0, "ramp": [100, 300]}, "lin_vel_xy": {"weight": 1.0}}
    return build_env({**mapping, "rewards": rewards, "init": {"mode": "Default"}}, 2, seed=0)


def weighted_terms(env) -> dict[str, torch.Tensor]:
    return env.compute_reward(quat_to_matrix(env.engine.root_quat))[1]


def test_a_ramped_term_pays_its_share_in_training_and_all_of_it_in_play(env):
    env.reset()
    unramped = weighted_terms(env)["lin_vel_xy"]
    assert weighted_terms(env)["alive"].tolist() == [2.0, 2.0]  # never trained: play and evaluation
    for frames, paid in ((0, 0.0), (150, 0.5), (200, 1.0), (10**9, 2.0)):
        env.set_train_info(frames, None)
        terms = weighted_terms(env)
        assert terms["alive"].tolist() == [paid, paid]
        torch.testing.assert_close(terms["lin_vel_xy"], unramped)
    assert list(env.reward_ramps.scales) == ["alive"]


def test_an_override_ramps_a_term_of_a_config_written_without_ramps():
    config = load_run_config("G1Command")
    assert "ramp" not in config["env"]["rewards"]["motion_match"]
    apply_override(config, "env.rewards.motion_match.ramp=[0, 8.0e7]")
    assert config["env"]["rewards"]["motion_match"]["ramp"] == [0, 8.0e7]
