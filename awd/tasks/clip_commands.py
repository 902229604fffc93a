"""Commands that agree with the reference state an episode starts from (`env.commands.clip_command_prob`).

An env reset from a clip frame (init mode Start, Random or Hybrid) is, with this probability, commanded that clip's
own mean velocity (vx, vy in its heading frame, yaw rate), zeroed as the sampler zeroes small parts and held inside
the ranges it draws from (`sample_beyond`), until its next resample; the others keep the uniform draw. The uniform
sampler draws each axis on its own, so the single-axis commands most clips walk are rare among its draws (a pure
sidestep, |vx| < 0.05 m/s and no turn, is about 1 % of the G1's draws, and 8 of its 32 clips walk sideways). Here
the clip's pose, its gait clock's phase (awd.tasks.gait_clock) and the command start out as one of the clips. Envs
that start from the default pose (init mode Default, as play, the evaluator and the style judge run a policy) are
not touched.

`env.commands.clip_draw_prob` does the same for the sampler's own draws, at every resample: that share of its draws
is the velocity of a walking clip (one drawn uniformly among the clips whose velocity the sampler does not zero),
so that the clips' commands, one axis fast as most clips walk, are asked for as often as the others; the gait_pose
reward meets a clip's command only near it (`benchmarks/command_exposure.py` measures how often).
"""

from __future__ import annotations

import torch

from awd.errors import AwdError
from awd.tasks.config import sampled_ranges
from awd.tasks.demo_weights import clip_velocities_and_stepping


def zero_small_parts(velocities: torch.Tensor, cfg) -> torch.Tensor:
    """Velocities (..., 3) zeroed as the command sampler zeroes its draws: the planar part where its norm is below
    `cfg.small_lin_vel`, the yaw rate where below `cfg.small_ang_vel` (`cfg`: the task's command config)."""
    planar_small = velocities[..., :2].norm(dim=-1, keepdim=True) < cfg.small_lin_vel
    yaw_small = velocities[..., 2:].abs() < cfg.small_ang_vel
    return torch.cat([velocities[..., :2].masked_fill(planar_small, 0.0),
                      velocities[..., 2:].masked_fill(yaw_small, 0.0)], dim=-1)


class ClipCommands:
    def __init__(self, task, prob: float):
        cfg = task.cfg.commands
        velocities, _ = clip_velocities_and_stepping(task.motion_lib, task.dt)
        ranges = torch.tensor(sampled_ranges(cfg), dtype=velocities.dtype)
        velocities = zero_small_parts(velocities.clamp(ranges[:, 0], ranges[:, 1]), cfg)
        self.velocities = velocities.to(task.device, task.dtype)
        self.walking = self.velocities[self.velocities.abs().sum(dim=-1) > 0]
        if cfg.clip_draw_prob > 0 and len(self.walking) == 0:
            raise AwdError(task.cfg.source, "env.commands.clip_draw_prob",
                           "expected clips that walk at a velocity the command sampler asks for, found none")
        self.prob, self.draw_prob, self.draws = float(prob), float(cfg.clip_draw_prob), task.draws

    def mix_into(self, commands: torch.Tensor) -> torch.Tensor:
        """`commands` (N, 3) with a `clip_draw_prob` share of rows replaced by walking clips' velocities."""
        chosen, pick = self.draws.rand(2, len(commands))
        rows = (pick * len(self.walking)).long().clamp(max=len(self.walking) - 1)
        return torch.where((chosen < self.draw_prob).unsqueeze(-1), self.walking[rows], commands)

    def apply(self, commands: torch.Tensor, mask: torch.Tensor, from_clip: torch.Tensor, sampled) -> torch.Tensor:
        """`commands` (N, 3) with the reset envs (`mask`) that started `from_clip` (`sampled`: the reset's clip
        ids and times, or None) commanded their clip's velocity, each with probability `prob`."""
        if sampled is None:
            return commands
        chosen = mask & from_clip & (self.draws.rand(mask.shape[0]) < self.prob)
        clip_velocity = self.velocities[sampled[0].to(self.velocities.device)]
        return torch.where(chosen.unsqueeze(-1), clip_velocity, commands)
