"""Demo windows in proportion to the commands (awd.tasks.demo_weights, `env.amp.demo_weights: commands`)."""

from __future__ import annotations

import pytest
import torch
from test_tasks import make_clip, make_env

from awd.errors import AwdError
from awd.motion.motion_lib import motion_lib_for_robot
from awd.tasks.config import CommandConfig
from awd.tasks.demo_weights import command_weights

COMMANDS = CommandConfig(lin_vel_x=(-0.1, 0.3), lin_vel_y=(-0.1, 0.1), ang_vel_z=(-0.5, 0.5))


def test_each_command_goes_to_the_nearest_clip_it_can_ask_for():
    velocities = torch.tensor([[0.2, 0.0, 0.0],    # walks forward
                               [0.5, 0.0, 0.0],    # faster than any command: no command is nearer to it
                               [0.0, 0.0, 0.0],    # stands
                               [0.01, 0.0, 0.0],   # steps in place: a velocity the sampler zeroes
                               [0.0, 0.0, 0.4]])   # turns
    stepping = torch.tensor([True, True, False, True, True])
    commands = torch.tensor([[0.3, 0.0, 0.0], [0.15, 0.02, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.5], [0.0, 0.0, 0.3], [0.0, 0.0, 0.0], [0.25, 0.0, 0.1]])
    weights = command_weights(velocities, stepping, commands, COMMANDS)
    torch.testing.assert_close(weights, torch.tensor([3 / 8, 0.0, 3 / 8, 0.0, 2 / 8]))
    with pytest.raises(AwdError, match="env.amp.demo_weights: no clip walks"):
        command_weights(velocities[2:4], stepping[2:4], commands, COMMANDS)


def test_a_command_task_draws_demo_windows_only_from_clips_its_commands_ask_for(spec):
    lib = motion_lib_for_robot(spec, [make_clip(spec), make_clip(spec, speed=-0.1, yaw_rate=-0.3),
                                      make_clip(spec, speed=0.8, yaw_rate=0.0)])
    env, _ = make_env(spec, lib, amp={"demo_weights": "commands"})
    assert env.demo_weights[2] == 0 and float(env.demo_weights.sum()) == pytest.approx(1.0)
    clip_ids, _ = env.amp_demo_keys(512)
    assert set(clip_ids.tolist()) == {0, 1}
    default, _ = make_env(spec, lib)
    assert default.demo_weights is None and 2 in set(default.amp_demo_keys(512)[0].tolist())
    with pytest.raises(AwdError, match="env.amp.demo_weights"):
        make_env(spec, lib, task="DucklingAMP", amp={"demo_weights": "commands"})
