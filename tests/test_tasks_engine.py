"""Duckling tasks on the CPU MuJoCo engine: AMP features of a clip replayed into the engine equal the demo
features of the same clip; a default-pose rollout stands; reference init starts without falling."""

from __future__ import annotations

import pytest
import torch
from test_tasks import make_cfg

from awd.engine import default_tracked_bodies as tracked_bodies
from awd.tasks import make_task
from awd.tasks.amp_features import frame_from_engine, frame_from_motion

mujoco_cpu = pytest.importorskip("awd.engine.mujoco_cpu")


def make_engine(spec, num_envs):
    return mujoco_cpu.MujocoCpuEngine(spec, num_envs, "cpu", tracked_bodies=tracked_bodies(spec), num_threads=1)


def assert_demo_features_match_the_engine(env, motion_lib, ids, times) -> None:
    """The demo AMP window of (clip ids, times) equals, frame by frame, the features of the same clip states
    written into the env's engine."""
    layout, engine = env.amp_layout, env.engine
    demo = frame_from_motion(layout, motion_lib.get_window_states(ids, times, layout.num_steps, env.dt))
    for k in range(layout.num_steps):
        state = motion_lib.get_state(ids, times - k * env.dt)
        engine.reset(torch.arange(len(ids)), state.root_pos, state.root_quat, state.root_lin_vel,
                     state.root_ang_vel, state.joint_pos, state.joint_vel)
        frame = frame_from_engine(layout, engine, env.key_body_indices)
        assert torch.allclose(frame, demo[:, k], atol=1e-4), (frame - demo[:, k]).abs().max()


def test_demo_window_features_equal_features_of_the_clip_replayed_in_the_engine(spec, motion_lib):
    engine = make_engine(spec, 3)
    env = make_task("DucklingAMP", make_cfg("DucklingAMP", amp={"num_steps": 4}), engine, motion_lib, spec)
    assert_demo_features_match_the_engine(env, motion_lib, torch.tensor([0, 1, 0]),
                                          torch.tensor([0.4, 0.75, 1.1], dtype=torch.float64))


def test_default_pose_rollout_stands_and_stays_finite(spec, motion_lib):
    engine = make_engine(spec, 2)
    env = make_task("DucklingCommand", make_cfg(init={"mode": "Default"}), engine, motion_lib, spec)
    env.set_commands([0.0, 0.0, 0.0])
    obs = env.reset()
    for _ in range(25):
        obs, rewards, dones, infos = env.step(torch.zeros(2, spec.num_joints))
        assert not dones.any()
        assert torch.isfinite(obs).all() and torch.isfinite(rewards).all()
    assert (engine.root_pos[:, 2] > 0.15).all()
    assert infos["amp_obs"].shape == (2, env.amp_observation_space.shape[0])


def test_reference_init_in_the_engine_matches_the_clip(spec, motion_lib):
    engine = make_engine(spec, 4)
    env = make_task("DucklingCommand", make_cfg(init={"mode": "Random"}), engine, motion_lib, spec)
    env.reset()
    # the newest AMP frame of the history (from the clip) equals the engine's own features after the reset
    assert torch.allclose(env.amp_history[:, 0], frame_from_engine(env.amp_layout, engine, env.key_body_indices),
                          atol=1e-4)
