"""The gait clock of the command tasks (awd.tasks.gait_clock): its observation, its mirror, the `gait_contact`
reward, the config errors, and the phase sim2sim computes from policy.json."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_tasks import make_env

from awd.errors import AwdError
from awd.robot.mirror import joint_mirror
from awd.tasks.gait_clock import encode, expected_stance

PERIOD = 0.4
CLOCK = {"commands": {"gait_period_s": PERIOD}, "rewards": {"gait_contact": {"weight": 1.0, "stance": 0.6}}}


def clocked_env(spec, motion_lib, **sections):
    env, engine = make_env(spec, motion_lib, num_envs=2, **{**CLOCK, **sections})
    env.compact_resets = False
    return env, engine


def gait_part(env, obs):
    start = sum(size for _, size in env.obs_parts[:[name for name, _ in env.obs_parts].index("gait_phase")])
    return obs[:, start:start + 2]


def test_the_clock_advances_by_the_period_from_a_drawn_offset_and_is_observed_after_the_command(spec, motion_lib):
    env, _ = clocked_env(spec, motion_lib)
    names = [name for name, _ in env.obs_parts]
    assert names[names.index("commands") + 1] == "gait_phase"
    obs = env.reset()
    offset = env.gait_clock.offset.clone()
    assert offset[0] != offset[1]  # drawn per env at reset
    torch.testing.assert_close(gait_part(env, obs), encode(offset))
    for step in range(1, 8):
        obs = env.step(torch.zeros(2, env.num_actions))[0]
        expected = torch.frac(offset + step * env.dt / PERIOD)
        torch.testing.assert_close(gait_part(env, obs), encode(expected), atol=1e-5, rtol=0)
    perm, signs = env.observations.mirror(joint_mirror(spec))
    begin = sum(size for _, size in env.obs_parts[:names.index("gait_phase")])
    assert perm[begin:begin + 2].tolist() == [begin, begin + 1]
    assert signs[begin:begin + 2].tolist() == [-1.0, -1.0]  # the other foot's phase: half a stride on


def test_with_gait_off_at_zero_the_clock_is_observed_as_zero_at_the_zero_command(spec, motion_lib):
    env, _ = clocked_env(spec, motion_lib, commands={"gait_period_s": PERIOD, "gait_off_at_zero": True})
    env.reset()
    env.set_commands(torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.0, 0.0]]))
    obs = env.step(torch.zeros(2, env.num_actions))[0]
    observed, running = gait_part(env, obs), encode(env.gait_clock.phase(env.progress))
    assert observed[0].tolist() == [0.0, 0.0]  # standing: no clock to follow
    torch.testing.assert_close(observed[1], running[1].to(observed.dtype), atol=1e-5, rtol=0)
    assert running[0].norm() > 0.99  # the clock runs on underneath


def test_gait_contact_pays_the_feet_that_touch_the_floor_when_the_clock_says_stance(spec, motion_lib):
    env, engine = clocked_env(spec, motion_lib)
    env.reset()
    env.gait_clock.offset[:] = torch.tensor([0.1, 0.7])  # left in stance / right in stance (stance share 0.6)
    env.progress[:] = 0
    env.set_commands([0.2, 0.0, 0.0])
    engine.foot_contacts[:] = torch.tensor([[True, False], [False, True]])
    _, terms = env.compute_reward(torch.eye(3).expand(2, 3, 3))
    assert terms["gait_contact"].tolist() == [1.0, 1.0]
    engine.foot_contacts[:] = torch.tensor([[False, True], [True, True]])
    _, terms = env.compute_reward(torch.eye(3).expand(2, 3, 3))
    assert terms["gait_contact"].tolist() == [0.0, 0.5]
    env.set_commands([0.0, 0.0, 0.0])  # standing: both feet down, whatever the clock says
    engine.foot_contacts[:] = True
    _, terms = env.compute_reward(torch.eye(3).expand(2, 3, 3))
    assert terms["gait_contact"].tolist() == [1.0, 1.0]


def swing_env(spec, motion_lib, arc):
    swing_term = {"weight": 1.0, "stance": 0.6, "target": 0.05, "arc": arc}
    env, _ = clocked_env(spec, motion_lib, rewards={**CLOCK["rewards"], "gait_swing_height": swing_term})
    env.reset()
    env.progress[:] = 0
    env.set_commands([0.2, 0.0, 0.0])
    return env


def swing_pay(env, offsets, heights, contacts=((False, False), (False, False))):
    env.gait_clock.offset[:] = torch.tensor(offsets)
    env.engine.foot_contacts[:] = torch.tensor(contacts)
    env.feet.height_above_stance[:] = torch.tensor(heights)
    _, terms = env.compute_reward(torch.eye(3).expand(2, 3, 3))
    return terms["gait_swing_height"]


def test_gait_swing_height_pays_the_lift_of_the_feet_the_clock_has_in_swing(spec, motion_lib):
    env = swing_env(spec, motion_lib, arc=0)
    # env 0: the right foot swings (a lifted stance foot earns 0); env 1: the left foot, 30 mm too high
    torch.testing.assert_close(swing_pay(env, [0.1, 0.7], [[0.05, 0.025], [0.08, 0.0]]), torch.tensor([0.25, 0.2]))
    assert swing_pay(env, [0.1, 0.7], [[0.0, 0.05], [float("inf"), 0.0]]).tolist() == [0.5, 0.0]  # unknown stance: 0
    env.set_commands([0.0, 0.0, 0.0])
    assert swing_pay(env, [0.1, 0.7], [[0.0, 0.05], [0.05, 0.0]]).tolist() == [0.0, 0.0]


def test_gait_swing_height_with_an_arc_wants_the_lift_of_a_sine_over_the_swing(spec, motion_lib):
    env = swing_env(spec, motion_lib, arc=1)
    low = 0.05 * math.sin(math.pi / 8)  # an eighth of the way through the swing (stance 0.6: phase 0.65)
    pay = swing_pay(env, [0.8, 0.65], [[0.05, 0.0], [low, 0.0]])  # the left foot mid-swing / early in its swing
    torch.testing.assert_close(pay, torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(swing_pay(env, [0.8, 0.65], [[0.0, 0.0], [0.05, 0.0]]),
                               torch.tensor([0.0, 0.5 * (1.0 - (0.05 - low) / 0.05)]))
    on_the_floor = swing_pay(env, [0.65, 0.65], [[0.0, 0.0], [0.0, 0.0]], contacts=((False, True), (True, True)))
    torch.testing.assert_close(on_the_floor, torch.tensor([0.5 * (1.0 - low / 0.05), 0.0]))  # a foot down earns 0


@pytest.mark.parametrize("compact", [True, False])
def test_an_env_reset_into_a_clip_starts_at_the_clips_phase(spec, motion_lib, compact):
    stride = 2 * math.pi / 6  # the test clips' feet alternate with sin(6 t)
    env, _ = make_env(spec, motion_lib, num_envs=64, init={"mode": "Random"}, commands={"gait_period_s": stride},
                      rewards={"gait_contact": {"weight": 1.0, "stance": 0.5}})
    env.compact_resets = compact
    env.reset()
    clip_ids, times = env.reset_states.sampled
    clip = motion_lib.get_state(clip_ids, times)
    torch.testing.assert_close(env.engine.joint_pos, clip.joint_pos.float())  # the frames the envs were reset to
    clip_contacts = clip.foot_contacts > 0.5
    expected = expected_stance(env.gait_clock.phase(env.progress), 0.5, torch.zeros(64, dtype=torch.bool))
    assert (expected == clip_contacts).float().mean() > 0.9  # off only within a frame of a touchdown or lift-off


@pytest.mark.parametrize("sections, field", [
    ({"commands": {"gait_period_s": 0.0}}, "env.rewards.gait_contact"),
    ({"rewards": {"gait_contact": {"weight": 1.0, "stance": 1.5}}}, "env.rewards.gait_contact.stance"),
    ({"commands": {"gait_period_s": -1.0}}, "commands.gait_period_s"),
    ({"commands": {"gait_period_s": 0.0}, "rewards": {"gait_swing_height": {"weight": 1.0}}},
     "env.rewards.gait_swing_height"),
    ({"rewards": {**CLOCK["rewards"], "gait_swing_height": {"weight": 1.0, "stance": 0.5}}},
     "env.rewards.gait_swing_height.stance"),
    ({"rewards": {**CLOCK["rewards"], "gait_swing_height": {"weight": 1.0, "stance": 0.6, "arc": 0.5}}},
     "env.rewards.gait_swing_height.arc"),
])
def test_a_clock_reward_without_a_clock_or_with_a_bad_or_second_stance_is_refused(spec, motion_lib, sections, field):
    with pytest.raises(AwdError, match=field.replace(".", r"\.")):
        clocked_env(spec, motion_lib, **sections)


def test_a_task_without_commands_has_no_clock_to_pay(spec, motion_lib):
    with pytest.raises(AwdError, match="DucklingAMP does not have"):
        make_env(spec, motion_lib, task="DucklingAMP", num_envs=2, **CLOCK)


def test_sim2sim_observes_the_clock_the_task_does_from_a_zero_offset_and_off_at_the_zero_command():
    tool = Path(__file__).resolve().parent.parent / "tools" / "sim2sim.py"
    module_spec = importlib.util.spec_from_file_location("sim2sim_clock", tool)
    sim2sim = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = sim2sim
    module_spec.loader.exec_module(sim2sim)
    assert "gait_phase" in sim2sim.QUANTITIES
    commands = np.array([[0.0, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 0.0, -0.3]])
    for steps, off_at_zero in ((0, False), (7, False), (31, False), (7, True)):
        settings = {"gait_period_s": PERIOD, "gait_off_at_zero": off_at_zero}
        robots = SimpleNamespace(metadata={"commands": settings}, progress=steps, dt=0.02, num_envs=3)
        mine = sim2sim.Robots._gait_phase(robots, commands)
        theirs = np.repeat(encode(torch.tensor([math.fmod(steps * 0.02 / PERIOD, 1.0)], dtype=torch.float64)).numpy(),
                           3, axis=0)
        if off_at_zero:
            theirs[0] = 0.0  # the zero command, as the task observes it
        np.testing.assert_allclose(mine, theirs, atol=1e-9)
