"""A style reward that cannot saturate: the distance from the policy's latest AMP frames to the nearest window of
the dataset (reward term `motion_match`, weighted in the task's YAML like any other).

The bank holds every window of `frames` consecutive AMP frames (newest first, 0.02-s steps) of every clip, each
feature divided by its spread over the bank, next to its clip's mean velocity (vx, vy in the heading frame, yaw
rate) in units of their spread times `command_weight`. Each step the policy's window (the newest `frames` of the
task's AMP history) with the env's command in the same units is compared with all of them; the reward is
exp(-d^2 / std^2) for the mean squared distance d^2 to the nearest one: 1 on the motion of a clip that walks at
the commanded velocity, at any phase, and it does not depend on a discriminator that learns to separate
everything (README "Style"). `command_weight` 0 matches any clip (tasks without commands). With `stand_at_zero` 1
the clips that step at a velocity the command sampler zeroes (`in_place`, the slowest clips) leave the bank, and
the zero command is matched against the clips that stand alone (when the dataset has one), as the style judge has
it (awd.style.judge): the command's share of the distance is too small to keep a slow walk from matching it (a
window of `turn_left_slow` scored 0.77 there). The bank is built once, when the task is made (the term's
`prepare`), so no step waits for it.
"""

from __future__ import annotations

import torch

from awd.errors import AwdError
from awd.tasks.amp_features import window_from_motion
from awd.tasks.rewards import TERMS, RewardInputs, RewardTerm
from awd.tasks.tracking import stride_velocity

MIN_SPREAD = 1e-2  # a feature the clips hold constant (a zeroed slot, a rigid trunk) counts in these units


def zeroed(velocity: torch.Tensor, commands) -> bool:
    """True for a clip's mean velocity (vx, vy, wz) that the command sampler zeroes."""
    return float(velocity[:2].norm()) < commands.small_lin_vel and abs(float(velocity[2])) < commands.small_ang_vel


def _min_partial_sq(query: torch.Tensor, bank_t: torch.Tensor, bank_sq: torch.Tensor) -> torch.Tensor:
    """(N,) min over the bank of |b|^2 - 2 q.b: the squared distance to the nearest window, less |q|^2."""
    return torch.addmm(bank_sq, query, bank_t, alpha=-2.0).amin(dim=-1)


class MotionBank:
    def __init__(self, task, frames: int, command_weight: float, stand_at_zero: bool = False):
        lib, layout, dt = task.motion_lib, task.amp_layout, task.dt
        self.frames = min(int(frames), layout.num_steps)
        span = (self.frames - 1) * dt
        windows, velocities, standing = [], [], []
        for clip in range(lib.num_clips):
            ids, times = lib.time_grid(clip, dt, start=span)
            state = lib.get_state(ids, times)
            velocity = stride_velocity(state)  # the clip's mean vx, vy (heading frame) and yaw rate
            still = stand_at_zero and zeroed(velocity, task.cfg.commands)
            if still and bool((state.foot_contacts < 0.5).any()):  # steps at a zeroed command (`in_place`)
                continue
            windows.append(window_from_motion(layout, lib, ids, times, dt)[:, :self.frames].flatten(1))
            velocities.append(velocity.expand(len(times), 3))
            standing.append(torch.full((len(times),), still))  # zeroed and both feet down: a standing clip
        if not windows:
            raise AwdError(task.cfg.source, "env.rewards.motion_match.stand_at_zero",
                           "every clip steps at a velocity the command sampler zeroes: no window is left to match")
        bank = torch.cat([torch.cat(windows), torch.cat(velocities)], dim=-1).to(task.device, task.dtype)
        self.scale = 1.0 / bank.std(dim=0).clamp_min(MIN_SPREAD)
        self.scale[-3:] *= command_weight
        self.bank = bank * self.scale
        self.bank_t = self.bank.T.contiguous()
        self.bank_sq = (self.bank * self.bank).sum(dim=-1)  # |b|^2, once: cdist recomputed it every step
        rows = torch.cat(standing).to(task.device)
        self.standing = (self.bank_t[:, rows].contiguous(), self.bank_sq[rows]) if bool(rows.any()) else None

    def nearest_sq(self, amp_history: torch.Tensor, commands: torch.Tensor) -> torch.Tensor:
        """(N,) mean squared normalised distance of each env's newest window and command to the nearest in the bank:
        min over the bank of |b|^2 - 2 q.b, plus |q|^2, in one matrix product."""
        query = torch.cat([amp_history[:, :self.frames].flatten(1), commands], dim=-1) * self.scale
        nearest = _min_partial_sq(query, self.bank_t, self.bank_sq)
        if self.standing is not None:  # the zero command: the nearest standing window
            nearest = torch.where((commands == 0).all(dim=-1), _min_partial_sq(query, *self.standing), nearest)
        return (nearest + (query * query).sum(-1)).clamp_min(0.0) / query.shape[-1]


def motion_match(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-d^2 / std^2), d^2 the mean squared normalised distance of the newest `frames` AMP frames and the command to
    the nearest window of the dataset and its clip's velocity."""
    task = inputs.task
    return torch.exp(-task.motion_bank.nearest_sq(task.amp_history, inputs.commands) / p["std"] ** 2)


def build_bank(task, p: dict) -> None:
    task.motion_bank = MotionBank(task, int(p["frames"]), p["command_weight"], bool(p["stand_at_zero"]))


TERMS["motion_match"] = RewardTerm(motion_match, {"std": 0.5, "frames": 2.0, "command_weight": 3.0,
                                                  "stand_at_zero": 0.0},
                                   ("std", "frames"), needs_clips=True, prepare=build_bank)
