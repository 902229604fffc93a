"""Commands from the clip an env resets from (awd.tasks.clip_commands, `env.commands.clip_command_prob`), past the
range ends (`env.commands.sample_beyond`), along one axis (`env.commands.single_axis_prob`) and from the clips'
velocities (`env.commands.clip_draw_prob`): how training draws commands, and that a policy is run on its ranges."""

from __future__ import annotations

import pytest
import torch
from test_tasks import make_env, motion_lib, spec  # noqa: F401 (fixtures)

from awd.tasks.tracking import stride_velocity


def _clip_velocity(lib, clip: int, dt: float) -> torch.Tensor:
    return stride_velocity(lib.get_state(*lib.time_grid(clip, dt))).float()


def test_envs_reset_from_a_clip_are_commanded_its_velocity_and_the_others_keep_the_draw(spec, motion_lib):  # noqa: F811
    env, _ = make_env(spec, motion_lib, num_envs=64, init={"mode": "Hybrid", "hybrid_prob": 0.5},
                      commands={"clip_command_prob": 1.0, "zero_prob": 0.0, "small_lin_vel": 0.0,
                                "small_ang_vel": 0.0, "lin_vel_x": [-1.0, 1.0], "lin_vel_y": [-1.0, 1.0],
                                "ang_vel_z": [-2.0, 2.0]})
    env.reset()
    from_clip, clip_ids = env.last_reset_was_reference, env.reset_states.sampled[0]
    assert from_clip.any() and (~from_clip).any()
    velocities = {int(c): _clip_velocity(motion_lib, int(c), env.dt) for c in clip_ids.unique()}
    expected = torch.stack([velocities[int(c)] for c in clip_ids])
    torch.testing.assert_close(env.commands[from_clip], expected[from_clip], atol=1e-5, rtol=1e-5)
    assert (env.commands[~from_clip] - expected[~from_clip]).abs().amax(dim=-1).min() > 1e-3


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_the_clip_velocity_is_held_inside_the_ranges_and_an_override_wins(spec, motion_lib, prob):  # noqa: F811
    env, _ = make_env(spec, motion_lib, num_envs=32, init={"mode": "Random"},
                      commands={"clip_command_prob": prob, "zero_prob": 0.0, "lin_vel_x": [0.3, 0.4]})
    env.reset()
    forward = env.commands[:, 0]
    assert ((forward == 0) | ((forward >= 0.3) & (forward <= 0.4))).all()
    assert (forward == 0.3).any() == (prob == 1.0)  # the clips walk slower than 0.3 m/s: held at the range's end
    env.set_commands([0.35, 0.0, 0.0])
    env.reset()
    assert torch.allclose(env.commands, torch.tensor([0.35, 0.0, 0.0]).expand(32, 3))


def test_training_draws_past_the_range_ends_by_sample_beyond(spec, motion_lib):  # noqa: F811
    env, _ = make_env(spec, motion_lib, num_envs=256, init={"mode": "Default"},
                      commands={"sample_beyond": 1.5, "zero_prob": 0.0, "lin_vel_x": [-0.2, 0.4]})
    env.reset()
    forward = env.commands[:, 0]
    assert (forward < -0.2).any() and (forward > 0.4).any()
    assert ((forward >= -0.3) & (forward <= 0.6)).all()


def test_a_policy_of_a_run_trained_with_them_is_played_from_the_default_pose_on_its_ranges():
    from awd.config import load_run_config
    from awd.loader import policy_env

    overrides = ["env.commands.clip_command_prob=1", "env.commands.sample_beyond=2", "env.commands.zero_prob=0",
                 "env.commands.single_axis_prob=1", "env.commands.clip_draw_prob=1"]
    mapping = load_run_config("DucklingCommand", overrides=overrides)["env"]
    env = policy_env("DucklingCommand", mapping, None, num_envs=64)
    env.reset()
    assert env.clip_commands is None and env.cfg.commands.clip_command_prob == 1.0
    assert env.cfg.commands.clip_draw_prob == 0.0
    low, high = mapping["commands"]["lin_vel_x"]
    commands = env.sample_commands(512)
    forward = commands[:, 0]
    assert forward.abs().sum() > 0 and ((forward >= low) & (forward <= high)).all()
    assert ((commands != 0).sum(dim=-1) > 1).any()  # uniform draws, not the single-axis share


def test_a_single_axis_share_of_the_draws_moves_along_one_axis_only(spec, motion_lib):  # noqa: F811
    def draws(prob: float, count: int) -> torch.Tensor:
        env, _ = make_env(spec, motion_lib, num_envs=8, init={"mode": "Default"}, commands={
            "single_axis_prob": prob, "zero_prob": 0.0, "small_lin_vel": 0.0, "small_ang_vel": 0.0})
        return env.sample_commands(count) != 0

    moving = draws(1.0, 600)
    assert (moving.sum(dim=-1) == 1).all()
    assert (moving.sum(dim=0) > 150).all()  # each axis about a third
    assert 0.4 < (draws(0.5, 2000).sum(dim=-1) == 1).float().mean() < 0.6


def test_a_clip_draw_share_of_the_draws_is_walking_clips_velocities(spec, motion_lib):  # noqa: F811
    from awd.errors import AwdError

    def env_with(prob: float):
        return make_env(spec, motion_lib, num_envs=8, init={"mode": "Default"}, commands={
            "clip_draw_prob": prob, "zero_prob": 0.0, "small_lin_vel": 0.0, "small_ang_vel": 0.0})[0]

    env = env_with(1.0)
    walking = env.clip_commands.walking
    draws = env.sample_commands(400)
    nearest = (draws.unsqueeze(1) - walking).abs().sum(dim=-1).min(dim=-1)
    assert len(walking) == 2 and nearest.values.max() < 1e-6  # the two clips of the library, both walking
    assert nearest.indices.bincount(minlength=2).min() > 150  # drawn evenly
    half = (env_with(0.5).sample_commands(2000).unsqueeze(1) - walking).abs().sum(dim=-1).min(dim=-1).values
    assert 0.4 < (half < 1e-6).float().mean() < 0.6
    with pytest.raises(AwdError, match="clip_draw_prob.*probability"):
        env_with(1.5)
