"""The concrete Duckling tasks and their registry:

* DucklingAMP: pure imitation; no task observation; task reward = configured terms (none by default -> 0).
* DucklingCommand: track (vx, vy, wz) commands in the yaw frame; commands resampled at reset and on a timer.
* DucklingStand: hold the standing pose, optionally at a per-episode trunk-height target (with or without
  style: the style weight lives in the train config).
* DucklingViewMotion: kinematic playback of clips through engine.reset every step; no rewards, no learning.

Task resets and updates are full-size masked updates (no host sync; see awd.tasks.duckling).
"""

from __future__ import annotations

import torch

from awd.tasks.amp_features import flatten_window
from awd.tasks.duckling import DucklingTask


class DucklingAMP(DucklingTask):
    task_name = "DucklingAMP"


class DucklingCommand(DucklingTask):
    task_name = "DucklingCommand"

    def __init__(self, cfg, engine, motion_lib=None, spec=None):
        super().__init__(cfg, engine, motion_lib, spec)
        c = cfg.commands
        self.command_scale = self._tensor(c.obs_scale)
        self.resample_steps = int(round(c.resample_s / self.dt)) if c.resample_s > 0 else 0
        self.command_override: torch.Tensor | None = None  # (3,) or (N, 3): fixed commands (player, tests)

    def task_obs_parts(self):
        return [("commands", 3)]

    def compute_task_obs(self):
        return self.commands * self.command_scale

    def sample_commands(self, count: int) -> torch.Tensor:
        """(count, 3) commands: uniform in the ranges, small planar / yaw parts zeroed, some all zero."""
        c = self.cfg.commands
        planar = torch.stack([self._uniform(*c.lin_vel_x, count), self._uniform(*c.lin_vel_y, count)], dim=-1)
        yaw = self._uniform(*c.ang_vel_z, count).unsqueeze(-1)
        planar = torch.where(planar.norm(dim=-1, keepdim=True) < c.small_lin_vel, 0.0, planar)
        yaw = torch.where(yaw.abs() < c.small_ang_vel, 0.0, yaw)
        zero = (self._rand(count) < c.zero_prob).unsqueeze(-1)
        return torch.where(zero, 0.0, torch.cat([planar, yaw], dim=-1))

    def set_commands(self, commands) -> None:
        """Hold fixed commands (vx, vy, wz) for all envs ((3,)) or per env ((N, 3)); None resumes sampling."""
        if commands is None:
            self.command_override = None
            return
        self.command_override = torch.as_tensor(commands, device=self.device, dtype=self.dtype)
        self.commands[:] = self.command_override

    def _resample(self, mask: torch.Tensor) -> None:
        """New commands where `mask` (N,) (all envs hold the override while one is set)."""
        if self.command_override is not None:
            self.commands[:] = self.command_override
        else:
            self.commands = torch.where(mask.unsqueeze(-1), self.sample_commands(self.num_envs), self.commands)

    def reset_task(self, mask):
        self._resample(mask)

    def update_task(self):
        if self.resample_steps:
            self._resample((self.progress % self.resample_steps == 0) & (self.progress > 0))
        elif self.command_override is not None:
            self.commands[:] = self.command_override


class DucklingStand(DucklingTask):
    task_name = "DucklingStand"

    def task_obs_parts(self):
        return [("height_target_offset", 1)] if self.cfg.stand.target_obs else []

    def compute_task_obs(self):
        if not self.cfg.stand.target_obs:
            return self._zeros(self.num_envs, 0)
        return (self.height_target - float(self.spec.init_root_height)).unsqueeze(-1)

    def reset_task(self, mask):
        low, high = self.cfg.stand.height_offset_range
        target = float(self.spec.init_root_height) + self._uniform(low, high, self.num_envs)
        self.height_target = torch.where(mask, target, self.height_target)


class DucklingViewMotion(DucklingTask):
    """Plays clips kinematically: every step puts each env in its clip's state at the current time (actions are
    ignored). A clip that ends restarts a new one (sampled by weight, or the next id when `sequential`)."""

    task_name = "DucklingViewMotion"

    def __init__(self, cfg, engine, motion_lib=None, spec=None, sequential: bool = True):
        super().__init__(cfg, engine, motion_lib, spec)
        self.sequential = sequential
        self.clip_ids = (torch.arange(self.num_envs, device=motion_lib.device) % motion_lib.num_clips)
        self.clip_times = torch.zeros(self.num_envs, dtype=torch.float64, device=motion_lib.device)

    def reset(self):
        self._play()
        self.progress[:] = 0
        return self.compute_observations()

    def _play(self) -> None:
        """Put every env in its clip's state at its clip time, with the AMP history from the clip."""
        state, window = self._motion_reset_state(self.clip_ids, self.clip_times, self.all_ids)
        self.engine.reset_where(torch.ones(self.num_envs, dtype=torch.bool, device=self.device), *state)
        self.amp_history = window

    def step(self, actions=None):
        lib = self.motion_lib
        self.clip_times += self.dt
        ended = self.clip_times > lib.lengths[self.clip_ids] + 1e-9
        if self.sequential:
            next_ids = (self.clip_ids + self.num_envs) % lib.num_clips
        else:
            next_ids = lib.sample_clips(self.num_envs, generator=self._motion_generator())
        self.clip_ids = torch.where(ended, next_ids, self.clip_ids)
        self.clip_times = torch.where(ended, 0.0, self.clip_times)
        self._play()
        dones = ended.to(self.device)
        self.progress = torch.where(dones, 0, self.progress + 1)
        amp_obs = flatten_window(self.amp_history).clone()
        zeros = self._zeros(self.num_envs)
        infos = {"terminate": torch.zeros_like(dones), "timeout": dones, "amp_obs": amp_obs,
                 "episode": {"episodes_finished": dones.sum().to(self.dtype)},
                 "clip_ids": self.clip_ids.clone(), "clip_times": self.clip_times.clone()}
        return self.compute_observations(), zeros, dones, infos


TASKS = {cls.task_name: cls for cls in (DucklingCommand, DucklingStand, DucklingAMP, DucklingViewMotion)}
