"""The concrete Duckling tasks and their registry:

* DucklingAMP: pure imitation; no task observation; task reward = configured terms (none by default -> 0).
* DucklingCommand: track (vx, vy, wz) commands in the yaw frame; commands resampled at reset and on a timer.
* DucklingStand: hold the standing pose, optionally at a per-episode trunk-height target (with or without
  style: the style weight lives in the train config).
* DucklingViewMotion: kinematic playback of clips through engine.reset every step; no rewards, no learning.
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
        c = self.cfg.commands
        commands = torch.stack([self._uniform(*c.lin_vel_x, count), self._uniform(*c.lin_vel_y, count),
                                self._uniform(*c.ang_vel_z, count)], dim=-1)
        small_planar = commands[:, :2].norm(dim=-1) < c.small_lin_vel
        commands[small_planar, :2] = 0.0
        commands[commands[:, 2].abs() < c.small_ang_vel, 2] = 0.0
        commands[self._rand(count) < c.zero_prob] = 0.0
        return commands

    def set_commands(self, commands) -> None:
        """Hold fixed commands (vx, vy, wz) for all envs ((3,)) or per env ((N, 3)); None resumes sampling."""
        if commands is None:
            self.command_override = None
            return
        self.command_override = torch.as_tensor(commands, device=self.device, dtype=self.dtype)
        self.commands[:] = self.command_override

    def _resample(self, env_ids: torch.Tensor) -> None:
        if self.command_override is not None:
            self.commands[:] = self.command_override
        elif env_ids.numel():
            self.commands[env_ids] = self.sample_commands(env_ids.numel())

    def reset_task(self, env_ids):
        self._resample(env_ids)

    def update_task(self):
        if self.resample_steps:
            due = (self.progress % self.resample_steps == 0) & (self.progress > 0)
            self._resample(due.nonzero().flatten())
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

    def reset_task(self, env_ids):
        low, high = self.cfg.stand.height_offset_range
        self.height_target[env_ids] = float(self.spec.init_root_height) + self._uniform(low, high, env_ids.numel())


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
        all_ids = torch.arange(self.num_envs, device=self.device)
        self._play(all_ids)
        self.progress[:] = 0
        return self.compute_observations()

    def _play(self, env_ids):
        lib_ids = env_ids.to(self.motion_lib.device)
        self._reset_to_motion(env_ids, self.clip_ids[lib_ids], self.clip_times[lib_ids])

    def step(self, actions=None):
        lib = self.motion_lib
        self.clip_times += self.dt
        ended = self.clip_times > lib.lengths[self.clip_ids] + 1e-9
        if bool(ended.any()):
            count = int(ended.sum())
            if self.sequential:
                self.clip_ids[ended] = (self.clip_ids[ended] + self.num_envs) % lib.num_clips
            else:
                self.clip_ids[ended] = lib.sample_clips(count, generator=self._motion_generator())
            self.clip_times[ended] = 0.0
        all_ids = torch.arange(self.num_envs, device=self.device)
        self._play(all_ids)
        self.progress += 1
        dones = ended.to(self.device)
        self.progress[dones] = 0
        amp_obs = flatten_window(self.amp_history).clone()
        zeros = self._zeros(self.num_envs)
        infos = {"terminate": torch.zeros_like(dones), "timeout": dones, "amp_obs": amp_obs,
                 "episode": {"episodes_finished": dones.sum().to(self.dtype)},
                 "clip_ids": self.clip_ids.clone(), "clip_times": self.clip_times.clone()}
        return self.compute_observations(), zeros, dones, infos


TASKS = {cls.task_name: cls for cls in (DucklingCommand, DucklingStand, DucklingAMP, DucklingViewMotion)}
