"""Commands that agree with the reference state an episode starts from (`env.commands.clip_command_prob`).

An env reset from a clip frame (init mode Start, Random or Hybrid) is, with this probability, commanded that clip's
own mean velocity (vx, vy in its heading frame, yaw rate), zeroed as the sampler zeroes small parts and held inside
the ranges it draws from (`sample_beyond`), until its next resample; the others keep the uniform draw. The uniform
sampler draws each axis on its own, so the single-axis commands most clips walk are rare among its draws (a pure
sidestep, |vx| < 0.05 m/s and no turn, is about 1 % of the G1's draws, and 8 of its 32 clips walk sideways). Here
the clip's pose, its gait clock's phase (awd.tasks.gait_clock) and the command start out as one of the clips. Envs
that start from the default pose (init mode Default, as play, the evaluator and the style judge run a policy) are
not touched.
"""

from __future__ import annotations

import torch

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
        self.prob, self.draws = float(prob), task.draws

    def apply(self, commands: torch.Tensor, mask: torch.Tensor, from_clip: torch.Tensor, sampled) -> torch.Tensor:
        """`commands` (N, 3) with the reset envs (`mask`) that started `from_clip` (`sampled`: the reset's clip
        ids and times, or None) commanded their clip's velocity, each with probability `prob`."""
        if sampled is None:
            return commands
        chosen = mask & from_clip & (self.draws.rand(mask.shape[0]) < self.prob)
        clip_velocity = self.velocities[sampled[0].to(self.velocities.device)]
        return torch.where(chosen.unsqueeze(-1), clip_velocity, commands)
