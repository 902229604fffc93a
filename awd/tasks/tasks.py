"""The concrete Duckling tasks and their registry:

* DucklingAMP: pure imitation; no task observation; task reward = configured terms (none by default -> 0).
* DucklingCommand: track (vx, vy, wz) commands in the yaw frame; commands resampled at reset and on a timer.
* DucklingStand: hold the standing pose, optionally at a per-episode trunk-height target (with or without
  style: the style weight lives in the train config).
* DucklingViewMotion: kinematic playback of clips through engine.reset every step; no rewards, no learning.
* G1AMP, G1Command: DucklingAMP and DucklingCommand under the humanoid's names. Nothing in the tasks is
  duck-specific: the robot spec (layouts, key bodies) and the env config (awd/data/cfg/g1: terminations with a
  tilt limit, commands, rewards) make the humanoid.

Each task names its default env YAML, rl_games YAML and train overrides, and registers itself in the one task
registry (awd.tasks.registry.TASKS: run.py, the config validator, the loader). Task resets and updates are
full-size masked updates (no host sync; see awd.tasks.duckling).
"""

from __future__ import annotations

import torch

from awd.tasks.amp_features import flatten_window
from awd.tasks.clip_commands import ClipCommands, zero_small_parts
from awd.tasks.config import COMMAND_AXES, sampled_ranges
from awd.tasks.demo_weights import task_demo_weights
from awd.tasks.duckling import DucklingTask
from awd.tasks.gait_clock import GaitClock, phase_observation
from awd.tasks.observations import ObsTerm
from awd.tasks.registry import register

DUCK_TRAIN = "mini_bdx/train/amp_duckling.yaml"
G1_TRAIN = "g1/train/amp_g1.yaml"
STYLE_ONLY = (("config.task_reward_w", 0.0), ("config.disc_reward_w", 1.0))


@register
class DucklingAMP(DucklingTask):
    task_name = "DucklingAMP"
    env_cfg, train_cfg, train_overrides = "mini_bdx/duckling_amp.yaml", DUCK_TRAIN, STYLE_ONLY


@register
class DucklingCommand(DucklingTask):
    task_name = "DucklingCommand"
    env_cfg, train_cfg = "mini_bdx/duckling_command.yaml", DUCK_TRAIN

    def __init__(self, cfg, engine, motion_lib=None, spec=None):
        super().__init__(cfg, engine, motion_lib, spec)
        c = cfg.commands
        ranges = sampled_ranges(c)
        self.command_low = self._tensor([low for low, _ in ranges])
        self.command_span = self._tensor([high - low for low, high in ranges])
        self.resample_steps = int(round(c.resample_s / self.dt)) if c.resample_s > 0 else 0
        self.command_override: torch.Tensor | None = None  # (3,) or (N, 3): fixed commands (player, tests)
        self.demo_weights = task_demo_weights(self)  # None: the clips' own weights (env.amp.demo_weights)

    def _allocate_buffers(self) -> None:
        period = self.cfg.commands.gait_period_s
        self.gait_clock = (GaitClock(period, self.dt, self.draws, self.num_envs, self.device, self.dtype,
                                     self.motion_lib) if period > 0 else None)
        c = self.cfg.commands
        from_clips = (c.clip_command_prob > 0 or c.clip_draw_prob > 0) and self.motion_lib is not None
        self.clip_commands = ClipCommands(self, c.clip_command_prob) if from_clips else None
        super()._allocate_buffers()

    @property
    def graph_holders(self) -> tuple:
        return super().graph_holders + ((self.gait_clock,) if self.gait_clock else ())

    def task_obs_terms(self):
        commands = ObsTerm("commands", 3, lambda task, matrix: task.commands, COMMAND_AXES,
                           "commanded velocity in the yaw frame (m/s, m/s, rad/s)", scale=self.cfg.commands.obs_scale,
                           mirror=(1.0, -1.0, -1.0))
        if self.cfg.commands.gait_period_s <= 0:
            return [commands]
        return [commands, phase_observation(self.cfg.commands.gait_off_at_zero)]

    def sample_commands(self, count: int) -> torch.Tensor:
        """(count, 3) commands: uniform in the ranges (ends times `sample_beyond`), a `single_axis_prob` share along one
        axis only, a `clip_draw_prob` share a walking clip's velocity, small parts zeroed, some zero."""
        draws = self.draws.rand(4, count)  # vx, vy, wz, zero
        commands = draws[:3].T * self.command_span + self.command_low
        if self.cfg.commands.single_axis_prob > 0:
            commands = self._single_axis(commands)
        if self.clip_commands is not None and self.clip_commands.draw_prob > 0:
            commands = self.clip_commands.mix_into(commands)
        zero = (draws[3] < self.cfg.commands.zero_prob).unsqueeze(-1)
        return zero_small_parts(commands, self.cfg.commands).masked_fill(zero, 0.0)

    def _single_axis(self, commands: torch.Tensor) -> torch.Tensor:
        """`commands` with, in a `single_axis_prob` share of rows, every axis but one drawn at random zeroed."""
        single, axis = self.draws.rand(2, len(commands))
        kept = torch.nn.functional.one_hot((axis * 3).long().clamp(max=2), 3).to(commands.dtype)
        return torch.where((single < self.cfg.commands.single_axis_prob).unsqueeze(-1), commands * kept, commands)

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
        if self.clip_commands and self.command_override is None:
            self.commands = self.clip_commands.apply(self.commands, mask, self.last_reset_was_reference,
                                                     self.reset_states.sampled)
        if self.gait_clock:
            self.gait_clock.reset(mask, self.last_reset_was_reference, self.reset_states.sampled)

    def update_task(self):
        if self.resample_steps:  # progress >= 1 after a step
            self._resample(self.progress % self.resample_steps == 0)
        elif self.command_override is not None:
            self.commands[:] = self.command_override


@register
class DucklingStand(DucklingTask):
    task_name = "DucklingStand"
    env_cfg, train_cfg = "mini_bdx/duckling_stand.yaml", DUCK_TRAIN

    def task_obs_terms(self):
        if not self.cfg.stand.target_obs:
            return []
        init = float(self.spec.init_root_height)
        return [ObsTerm("height_target_offset", 1, lambda task, matrix: (task.height_target - init).unsqueeze(-1),
                        ("offset",), "trunk-height target minus the robot's init root height (m)")]

    def reset_task(self, mask):
        low, high = self.cfg.stand.height_offset_range
        target = float(self.spec.init_root_height) + self.draws.uniform(low, high, self.num_envs)
        self.height_target = torch.where(mask, target, self.height_target)


@register
class DucklingViewMotion(DucklingTask):
    """Plays clips kinematically: every step puts each env in its clip's state at the current time (actions are
    ignored). A clip that ends restarts a new one (sampled by weight, or the next id when `sequential`)."""

    task_name = "DucklingViewMotion"
    env_cfg, train_cfg = "mini_bdx/duckling_view_motion.yaml", None  # played, not trained
    state_attributes = DucklingTask.state_attributes + ("clip_ids", "clip_times")

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
        everyone = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        resets = self.reset_states
        state, window = resets.reference(self.clip_ids, self.clip_times)
        self.engine.reset_where(everyone, *resets.split(resets.blend(everyone, state)))
        self.amp_history = window

    def step(self, actions=None):
        lib = self.motion_lib
        self.clip_times += self.dt
        ended = self.clip_times > lib.lengths[self.clip_ids] + 1e-9
        if self.sequential:
            next_ids = (self.clip_ids + self.num_envs) % lib.num_clips
        else:
            next_ids = lib.sample_clips(self.num_envs, generator=self.reset_states.motion_generator())
        self.clip_ids = torch.where(ended, next_ids, self.clip_ids)
        self.clip_times = torch.where(ended, 0.0, self.clip_times)
        self._play()
        self._update_tracking()  # the clip's velocities, for tracking_velocities()
        dones = ended.to(self.device)
        self.progress = torch.where(dones, 0, self.progress + 1)
        amp_obs = flatten_window(self.amp_history).clone()
        zeros = self._zeros(self.num_envs)
        infos = {"terminate": torch.zeros_like(dones), "timeout": dones, "amp_obs": amp_obs,
                 "episode": {"episodes_finished": dones.sum().to(self.dtype)},
                 "clip_ids": self.clip_ids.clone(), "clip_times": self.clip_times.clone()}
        return self.compute_observations(), zeros, dones, infos


@register
class G1AMP(DucklingAMP):
    task_name = "G1AMP"
    env_cfg, train_cfg = "g1/g1_amp.yaml", G1_TRAIN


@register
class G1Command(DucklingCommand):
    """Trains a left/right symmetric actor: with the mirror-symmetry loss alone the G1 stepped further to one side
    than the other, turned while walking straight and fell short walking back (docs/style_rounds.md, 26th and
    27th rounds)."""
    task_name = "G1Command"
    env_cfg, train_cfg = "g1/g1_command.yaml", G1_TRAIN
    train_overrides = (("network.actor.symmetric", True),)
