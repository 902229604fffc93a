"""The Duckling base task: a batched env over an `Engine` (never a simulator directly) that builds policy
observations and AMP windows from the robot spec, maps actions to PD targets, detects falls, resets envs from
the default pose or from reference motion, applies optional domain randomisation, and satisfies the learning
contract (awd.learning.register): `reset()`, `step(actions)`, `fetch_amp_obs_demo(n)`, `get_layout()`.

Step order: clip actions -> (delayed) PD targets -> pushes -> engine.step -> AMP frame of the new state ->
task updates (velocity window, air time, command timer) -> rewards -> terminations / timeouts ->
episode statistics -> reset done envs -> observations (of the new episodes for reset envs).

Subclasses (awd.tasks.tasks) add task observations and rewards through `task_obs_parts`,
`compute_task_obs`, `reset_task` and `update_task`.

No host synchronisation in `step`: on a CUDA device the CPU queues the whole step without waiting for the
GPU. Every per-env update is a full-size masked one (torch.where, masked_fill_): no id lists, no boolean-mask
indexing, no `.item()`, no Python `if` on a tensor, no host data copied to the device. Resets of done envs
are built for all N envs every step (default pose and, for Start/Random/Hybrid init, a sampled reference
state) and blended by mask into `engine.reset_where`. Only optional domain randomisation that calls the
engine's id-based setters (pushes, friction, torque scale, trunk mass) gathers ids, and so syncs, while it is
enabled. `reset()` and `reset_envs(ids)` may sync.

On a CPU device reading a mask on the host costs nothing, while building every env's reset state each step
costs several times a whole step of the task; there (`compact_resets`) the reset is skipped on steps where no
env is done and the reference states are built for the envs that start from one only.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from awd.errors import AwdError
from awd.tasks.amp_features import (flatten_window, frame_from_engine, frame_from_motion, make_amp_layout,
                                    window_from_motion)
from awd.tasks.config import EnvConfig
from awd.tasks.rewards import RewardInputs, compute_rewards
from awd.utils.rotations import heading_quat_inverse, quat_rotate, quat_rotate_inverse


def _select_delayed(buffer: torch.Tensor, delay: torch.Tensor) -> torch.Tensor:
    """buffer[i, delay[i]] for a (N, D, k) history buffer (newest first), as a new (N, k) tensor."""
    if buffer.shape[1] == 1:
        return buffer[:, 0].clone()
    index = delay.view(-1, 1, 1).expand(-1, 1, buffer.shape[2])
    return buffer.gather(1, index).squeeze(1)


def tracked_bodies(spec) -> tuple[str, ...]:
    """Bodies whose positions a Duckling task reads from `engine.body_pos` (pass to the Engine)."""
    names = [spec.trunk_body, *spec.foot_bodies, *spec.key_bodies]
    if spec.head_body:
        names.append(spec.head_body)
    return tuple(dict.fromkeys(names))


class DucklingTask:
    """Base Duckling env. `engine` follows awd.engine.base.Engine; `motion_lib` is a MotionLib or None."""

    task_name = "Duckling"

    def __init__(self, cfg: EnvConfig, engine, motion_lib=None, spec=None):
        self.cfg = cfg
        self.engine = engine
        self.motion_lib = motion_lib
        self.spec = spec if spec is not None else engine.spec
        self.num_envs = int(engine.num_envs)
        self.device = torch.device(getattr(engine, "device", "cpu"))
        self.compact_resets = self.device.type == "cpu"  # see the module docstring; tests turn it off
        self.dtype = torch.float32
        self.dt = float(self.spec.control_dt)
        self.max_episode_steps = max(1, int(round(cfg.episode_length_s / self.dt)))
        self.num_actions = self.spec.num_joints
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.seed if cfg.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item()))
        if motion_lib is None and cfg.init.mode != "Default":
            raise AwdError(cfg.source, "env.init.mode", f"{cfg.init.mode} init needs a motion library (motion_file)")
        if motion_lib is not None and tuple(motion_lib.joint_names) != tuple(self.spec.joint_names):
            raise AwdError(cfg.source, "env.motion_file", f"clip joints {list(motion_lib.joint_names)} differ from "
                           f"the robot's {list(self.spec.joint_names)}")

        self.default_joint_pos = self._tensor(self.spec.default_joint_pos)
        self.action_scale = float(self.spec.action_scale)
        self.foot_indices = torch.tensor([engine.body_index(b) for b in self.spec.foot_bodies], device=self.device)
        self.head_index = engine.body_index(self.spec.head_body) if self.spec.head_body else None
        self.amp_layout = make_amp_layout(self.spec, cfg.amp, cfg.source)
        self.obs_parts = self._observation_parts()
        self.num_obs = sum(size for _, size in self.obs_parts)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.num_obs,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.num_actions,), dtype=np.float32)
        self.amp_observation_space = gym.spaces.Box(-np.inf, np.inf, (self.amp_layout.window_size,), dtype=np.float32)
        self._allocate_buffers()

    # ------------------------------------------------------------------------------------------ helpers

    def _tensor(self, values) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values), dtype=self.dtype, device=self.device)

    def _zeros(self, *shape, dtype=None) -> torch.Tensor:
        return torch.zeros(*shape, device=self.device, dtype=dtype or self.dtype)

    def _rand(self, *shape) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def _uniform(self, low: float, high: float, *shape) -> torch.Tensor:
        return low + (high - low) * self._rand(*shape)

    def _randint(self, high_inclusive: int, n: int) -> torch.Tensor:
        return torch.randint(0, high_inclusive + 1, (n,), generator=self.generator, device=self.device)

    def _allocate_buffers(self) -> None:
        N, n, K = self.num_envs, self.num_actions, self.amp_layout.num_steps
        rand = self.cfg.domain_rand
        self.progress = self._zeros(N, dtype=torch.long)
        self.actions = self._zeros(N, n)
        self.prev_actions = self._zeros(N, n)
        self.amp_history = self._zeros(N, K, self.amp_layout.frame_size)
        self.commands = self._zeros(N, 3)
        self.height_target = torch.full((N,), float(self.spec.init_root_height), device=self.device)
        window = max(1, int(round(self.cfg.commands.velocity_window_s / self.dt)))
        self.lin_vel_history = self._zeros(N, window, 3)  # world frame, newest first
        self.ang_vel_history = self._zeros(N, window, 3)
        self.feet_air_time = self._zeros(N, 2)
        self.feet_last_air_time = self._zeros(N, 2)
        self.feet_first_contact = self._zeros(N, 2, dtype=torch.bool)
        self.action_buffer = self._zeros(N, rand.action_delay.max_steps + 1, n)
        self.action_delay = self._zeros(N, dtype=torch.long)
        self.obs_buffer = self._zeros(N, rand.obs_delay.max_steps + 1, self.num_obs)
        self.obs_delay = self._zeros(N, dtype=torch.long)
        self.obs_buffer_stale = torch.ones(N, dtype=torch.bool, device=self.device)
        self.push_interval_steps = max(1, int(round(rand.push.interval_s / self.dt)))
        self.episode_sums = {name: self._zeros(N) for name in self.reward_names}
        self.episode_task_reward = self._zeros(N)
        self.last_reset_was_reference = self._zeros(N, dtype=torch.bool)
        self.all_ids = torch.arange(N, device=self.device)
        self.gravity_down = torch.tensor([0.0, 0.0, -1.0], device=self.device, dtype=self.dtype).expand(N, 3)
        self.env_origins = self._env_origins()
        self.default_state = self._default_reset_state()

    @property
    def reward_names(self) -> list[str]:
        return list(self.cfg.rewards)

    # ------------------------------------------------------------------------------------------ layout

    def task_obs_parts(self) -> list[tuple[str, int]]:
        return []

    def _observation_parts(self) -> list[tuple[str, int]]:
        n = self.num_actions
        parts = [("projected_gravity", 3), ("joint_pos", n), ("joint_vel", n), ("last_action", n)]
        parts += self.task_obs_parts()
        if self.cfg.observations.foot_contacts:
            parts.append(("foot_contacts", 2))
        return parts

    def get_layout(self) -> dict:
        """Plain description used to refuse mismatched checkpoints and to export policies."""
        return {
            "task": self.task_name,
            "robot": self.spec.name,
            "obs": [[name, size] for name, size in self.obs_parts],
            "action_joints": list(self.spec.joint_names),
            "action_scale": self.action_scale,
            "default_joint_pos": [float(v) for v in self.spec.default_joint_pos],
            "control_dt": self.dt,
            "joint_vel_scale": self.cfg.observations.joint_vel_scale,
            "amp_features": [[name, size] for name, size in self.amp_layout.parts],
            "amp_num_steps": self.amp_layout.num_steps,
            "amp_joints": list(self.amp_layout.joint_names),
        }

    # ------------------------------------------------------------------------------------------ observations

    def projected_gravity(self) -> torch.Tensor:
        return quat_rotate_inverse(self.engine.root_quat.to(self.dtype), self.gravity_down)

    def compute_task_obs(self) -> torch.Tensor:
        return self._zeros(self.num_envs, 0)

    def _raw_observations(self) -> torch.Tensor:
        engine, cfg = self.engine, self.cfg
        gravity = self.projected_gravity()
        joint_pos = engine.joint_pos - self.default_joint_pos
        joint_vel = engine.joint_vel.to(self.dtype)
        noise = cfg.domain_rand.obs_noise
        if noise.enabled:
            gravity = gravity + noise.projected_gravity * self._normal(gravity.shape)
            joint_pos = joint_pos + noise.joint_pos * self._normal(joint_pos.shape)
            joint_vel = joint_vel + noise.joint_vel * self._normal(joint_vel.shape)
        parts = [gravity, joint_pos, joint_vel * cfg.observations.joint_vel_scale, self.actions, self.compute_task_obs()]
        if cfg.observations.foot_contacts:
            parts.append(engine.foot_contacts.to(self.dtype))
        return torch.nan_to_num(torch.cat(parts, dim=-1), nan=0.0, posinf=0.0, neginf=0.0)

    def _normal(self, shape) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def compute_observations(self) -> torch.Tensor:
        """Policy observations (N, num_obs), delayed per env when obs_delay is on."""
        obs = self._raw_observations()
        buffer = torch.roll(self.obs_buffer, 1, dims=1)
        buffer[:, 0] = obs
        stale = self.obs_buffer_stale.view(-1, 1, 1)  # new episodes: the whole history is the first obs
        self.obs_buffer = torch.where(stale, obs.unsqueeze(1).expand_as(buffer), buffer)
        self.obs_buffer_stale.fill_(False)
        return _select_delayed(self.obs_buffer, self.obs_delay)

    # ------------------------------------------------------------------------------------------ AMP

    def _amp_frame(self) -> torch.Tensor:
        frame = frame_from_engine(self.amp_layout, self.engine, self.foot_indices).to(self.dtype)
        return torch.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0)

    def fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        """(num_samples, K * frame_size) demo windows from the motion library."""
        if self.motion_lib is None:
            raise AwdError(self.cfg.source, "env.motion_file", "AMP demos need a motion library (motion_file)")
        ids, times = self.motion_lib.sample_windows(num_samples, self.amp_layout.num_steps, self.dt,
                                                    generator=self._motion_generator())
        window = window_from_motion(self.amp_layout, self.motion_lib, ids, times, self.dt)
        return flatten_window(window).to(self.device, self.dtype)

    def _motion_generator(self):
        return self.generator if self.motion_lib.device == self.device else None

    # ------------------------------------------------------------------------------------------ resets

    def reset(self) -> torch.Tensor:
        """Reset every env; returns the first observations (N, num_obs)."""
        self.reset_where(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self.compute_observations()

    def reset_envs(self, env_ids) -> None:
        """Reset the envs `env_ids` (see `reset_where`)."""
        mask = self._zeros(self.num_envs, dtype=torch.bool)
        mask[torch.as_tensor(env_ids, device=self.device, dtype=torch.long)] = True
        self.reset_where(mask)

    def reset_where(self, mask: torch.Tensor) -> None:
        """Reset the envs where `mask` (N,) is true (default pose or reference motion), their buffers, DR draws
        and task state, by full-size masked updates (no host sync unless `compact_resets`; see the module
        docstring, also for DR)."""
        if self.compact_resets and not bool(mask.any()):
            return
        reference = self._reference_mask()
        self.last_reset_was_reference = torch.where(mask, reference, self.last_reset_was_reference)
        starts = mask & reference
        state, window = self._reset_states(starts)
        self.engine.reset_where(mask, *state)
        self._reset_amp_history(mask, starts, window)
        self._reset_buffers(mask)
        self._randomize(mask)
        self.reset_task(mask)

    def _reference_mask(self) -> torch.Tensor:
        """(N,) which envs would start from reference motion if reset now."""
        mode = self.cfg.init.mode
        if mode == "Default":
            return self._zeros(self.num_envs, dtype=torch.bool)
        if mode in ("Start", "Random"):
            return torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        return self._rand(self.num_envs) < self.cfg.init.hybrid_prob

    def _env_origins(self) -> torch.Tensor:
        origins = getattr(self.engine, "env_origins", None)
        return self._zeros(self.num_envs, 3) if origins is None else origins.to(self.device, self.dtype).clone()

    def _default_reset_state(self) -> tuple[torch.Tensor, ...]:
        """Engine state (root pos, quat, lin vel, ang vel, joint pos, joint vel), (N, ...) each, of the default
        pose at the env origins; built once (the origins are fixed for the engine's lifetime)."""
        N = self.num_envs
        root_pos = self.env_origins.clone()
        root_pos[:, 2] += float(self.spec.init_root_height)
        root_quat = self._tensor(self.spec.init_root_quat).expand(N, 4).clone()
        joint_pos = self.default_joint_pos.expand(N, -1).clone()
        return root_pos, root_quat, self._zeros(N, 3), self._zeros(N, 3), joint_pos, self._zeros(N, self.num_actions)

    def _reset_states(self, starts: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        """Full-size engine reset state: the default pose, or where `starts`, a sampled reference-motion state;
        and the reference AMP windows (N, K, F) (None in Default mode). The reference states are built for every
        env (the rows not in `starts` are discarded) unless `compact_resets`."""
        if self.cfg.init.mode == "Default":
            return self.default_state, None
        rows = starts.nonzero().flatten() if self.compact_resets else self.all_ids
        if rows.numel() == 0:  # shapes only: never on an accelerator, where rows are all envs
            return self.default_state, None
        motion_state, window = self._motion_reset_state(*self._sample_motion(rows.numel()), rows)
        where = starts.view(-1, 1)
        state = tuple(torch.where(where, d.index_put((rows,), m), d) for m, d in zip(motion_state, self.default_state))
        return state, window.new_zeros(self.num_envs, *window.shape[1:]).index_put_((rows,), window)

    def _sample_motion(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`count` clip ids (by weight) and start times (0 in Start mode, else uniform in the clip)."""
        lib, generator = self.motion_lib, self._motion_generator()
        clip_ids = lib.sample_clips(count, generator=generator)
        if self.cfg.init.mode == "Start":
            return clip_ids, torch.zeros(count, dtype=torch.float64, device=lib.device)
        return clip_ids, lib.sample_times(clip_ids, generator=generator)

    def _motion_reset_state(self, clip_ids, times, rows) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Engine state of the clips at `times` for the envs `rows` (root xy moved to their origins, root height
        offset added) and the AMP windows (len(rows), K, F) ending there, filled from the clip at t - k dt."""
        states = self.motion_lib.get_window_states(clip_ids, times, self.amp_layout.num_steps, self.dt)
        window = frame_from_motion(self.amp_layout, states).to(self.device, self.dtype)
        now = [value[:, 0].to(self.device, self.dtype) for value in states[:6]]  # root ... joint_vel at t
        root_pos = self.env_origins[rows]
        root_pos[:, 2] += now[0][:, 2] + self.cfg.init.root_height_offset
        return (root_pos, *now[1:]), window

    def _reset_amp_history(self, mask: torch.Tensor, starts: torch.Tensor, window: torch.Tensor | None) -> None:
        """AMP history of reset envs: the clip's past after a reference reset, else the new frame repeated."""
        fill = self._amp_frame().unsqueeze(1).expand(-1, self.amp_layout.num_steps, -1)
        if window is not None:
            fill = torch.where(starts.view(-1, 1, 1), window, fill)
        self.amp_history = torch.where(mask.view(-1, 1, 1), fill, self.amp_history)

    def _reset_buffers(self, mask: torch.Tensor) -> None:
        rows = mask.view(-1, 1)
        self.progress.masked_fill_(mask, 0)
        for buffer in (self.actions, self.prev_actions, self.feet_air_time, self.feet_last_air_time):
            buffer.masked_fill_(rows, 0.0)
        self.feet_first_contact.masked_fill_(rows, False)
        self.action_buffer.masked_fill_(mask.view(-1, 1, 1), 0.0)
        self.obs_buffer_stale |= mask
        self.lin_vel_history = self._refill(mask, self.lin_vel_history, self.engine.root_lin_vel)
        self.ang_vel_history = self._refill(mask, self.ang_vel_history, self.engine.root_ang_vel)
        for sums in self.episode_sums.values():
            sums.masked_fill_(mask, 0.0)
        self.episode_task_reward.masked_fill_(mask, 0.0)

    def _refill(self, mask: torch.Tensor, history: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """(N, W, k) history with the rows of `mask` filled with `value` (N, k)."""
        return torch.where(mask.view(-1, 1, 1), value.to(self.dtype).unsqueeze(1).expand_as(history), history)

    def _randomize(self, mask: torch.Tensor) -> None:
        """Per-episode DR draws of the reset envs. The delays are masked updates; the engine-side draws
        (friction, torque scale, trunk mass) go through the engine's id-based setters, so they gather the ids
        (a host sync, only while one of them is enabled)."""
        rand = self.cfg.domain_rand
        self.action_delay = torch.where(mask, self._draw_delay(rand.action_delay), self.action_delay)
        self.obs_delay = torch.where(mask, self._draw_delay(rand.obs_delay), self.obs_delay)
        if rand.friction.enabled or rand.torque_scale.enabled or rand.trunk_mass.enabled:
            self._randomize_engine(mask.nonzero().flatten())

    def _draw_delay(self, delay) -> torch.Tensor:
        if not delay.enabled:
            return self._zeros(self.num_envs, dtype=torch.long)
        return self._randint(delay.max_steps, self.num_envs)

    def _randomize_engine(self, env_ids: torch.Tensor) -> None:
        rand, m = self.cfg.domain_rand, env_ids.numel()
        if m == 0:
            return
        if rand.friction.enabled:
            self.engine.set_friction_scale(env_ids, self._uniform(*rand.friction.range, m))
        if rand.torque_scale.enabled:
            self.engine.set_torque_scale(env_ids, self._uniform(*rand.torque_scale.range, m, self.num_actions))
        if rand.trunk_mass.enabled:
            self.engine.set_mass_offset(env_ids, self._uniform(*rand.trunk_mass.mass_delta, m),
                                        self._uniform(*rand.trunk_mass.com_offset, m, 3))

    def reset_task(self, mask: torch.Tensor) -> None:
        """Task-specific reset (commands, targets) of the envs where `mask` (N,) is true, by masked updates;
        called after the engine reset."""

    # ------------------------------------------------------------------------------------------ stepping

    def joint_targets(self, actions: torch.Tensor) -> torch.Tensor:
        return self.default_joint_pos + self.action_scale * actions

    def _delayed_actions(self, actions: torch.Tensor) -> torch.Tensor:
        self.action_buffer = torch.roll(self.action_buffer, 1, dims=1)
        self.action_buffer[:, 0] = actions
        return _select_delayed(self.action_buffer, self.action_delay)

    def _apply_pushes(self) -> None:
        """Push DR: the engine's id-based `apply_root_velocity` needs the due ids (a host sync, pushes only)."""
        push = self.cfg.domain_rand.push
        if not push.enabled:
            return
        due = (self.progress > 0) & (self.progress % self.push_interval_steps == 0)
        env_ids = due.nonzero().flatten()
        if env_ids.numel():
            self.engine.apply_root_velocity(env_ids, self._uniform(-push.max_vel_xy, push.max_vel_xy, env_ids.numel(), 2))

    def invalid_state(self) -> torch.Tensor:
        engine = self.engine
        finite = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        for value in (engine.root_pos, engine.root_quat, engine.root_lin_vel, engine.root_ang_vel, engine.joint_pos,
                      engine.joint_vel):
            finite &= torch.isfinite(value).all(dim=-1)
        return engine.invalid.to(torch.bool) | ~finite

    def fallen(self) -> torch.Tensor:
        """Fall test on the current state (before the grace period is applied)."""
        term, engine = self.cfg.termination, self.engine
        fell = self._zeros(self.num_envs, dtype=torch.bool)
        if term.trunk_height > 0:
            fell |= engine.root_pos[:, 2] < term.trunk_height
        if term.head_height > 0 and self.head_index is not None:
            fell |= engine.body_pos[:, self.head_index, 2] < term.head_height
        if term.non_foot_contact:
            fell |= engine.non_foot_ground_contact.to(torch.bool)
        return fell

    def _update_tracking(self) -> None:
        engine = self.engine
        self.lin_vel_history = torch.roll(self.lin_vel_history, 1, dims=1)
        self.ang_vel_history = torch.roll(self.ang_vel_history, 1, dims=1)
        self.lin_vel_history[:, 0] = torch.nan_to_num(engine.root_lin_vel.to(self.dtype))
        self.ang_vel_history[:, 0] = torch.nan_to_num(engine.root_ang_vel.to(self.dtype))
        contact = engine.foot_contacts.to(torch.bool)
        self.feet_air_time += self.dt
        self.feet_first_contact = contact & (self.feet_air_time > self.dt + 1e-9)
        self.feet_last_air_time = torch.where(self.feet_first_contact, self.feet_air_time - self.dt,
                                              self.feet_last_air_time)
        self.feet_air_time = torch.where(contact, torch.zeros_like(self.feet_air_time), self.feet_air_time)

    def tracking_velocities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(lin, ang) root velocities averaged over the window, in the current yaw frame."""
        heading_inv = heading_quat_inverse(torch.nan_to_num(self.engine.root_quat.to(self.dtype)))
        return (quat_rotate(heading_inv, self.lin_vel_history.mean(dim=1)),
                quat_rotate(heading_inv, self.ang_vel_history.mean(dim=1)))

    def update_task(self) -> None:
        """Task-specific per-step update after physics (command timers...)."""

    def reward_inputs(self) -> RewardInputs:
        engine = self.engine
        lin_vel, ang_vel = self.tracking_velocities()
        return RewardInputs(
            commands=self.commands, lin_vel=lin_vel, ang_vel=ang_vel, joint_pos=engine.joint_pos.to(self.dtype),
            joint_vel=engine.joint_vel.to(self.dtype), default_joint_pos=self.default_joint_pos,
            joint_torques=engine.joint_torques.to(self.dtype), actions=self.actions, prev_actions=self.prev_actions,
            projected_gravity=self.projected_gravity(), root_height=engine.root_pos[:, 2].to(self.dtype),
            height_target=self.height_target, feet_first_contact=self.feet_first_contact,
            feet_air_time=self.feet_last_air_time)

    def compute_reward(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return compute_rewards(self.cfg.rewards, self.reward_inputs())

    def step(self, actions: torch.Tensor):
        """Apply actions for one policy step; returns (obs, rewards, dones, infos) per the learning contract."""
        actions = torch.as_tensor(actions, device=self.device, dtype=self.dtype)
        actions = torch.nan_to_num(actions, nan=0.0).clamp(-1.0, 1.0)
        first_step = self.progress == 0
        self.prev_actions = torch.where(first_step.unsqueeze(-1), actions, self.actions)
        self.actions = actions
        applied = self._delayed_actions(actions)
        self._apply_pushes()
        self.engine.step(self.joint_targets(applied))
        self.progress += 1

        invalid = self.invalid_state()
        self.amp_history = torch.roll(self.amp_history, 1, dims=1)
        self.amp_history[:, 0] = self._amp_frame()
        amp_obs = torch.where(invalid.unsqueeze(-1), 0.0, flatten_window(self.amp_history))

        self._update_tracking()
        self.update_task()
        reward, terms = self.compute_reward()
        reward = torch.where(invalid | ~torch.isfinite(reward), torch.zeros_like(reward), reward)

        grace = self.progress > self.cfg.termination.grace_steps
        fell = self.fallen() & grace & ~invalid if self.cfg.termination.enabled else torch.zeros_like(invalid)
        terminate = fell | invalid
        timeout = (self.progress >= self.max_episode_steps) & ~terminate
        dones = terminate | timeout

        for name, value in terms.items():
            self.episode_sums[name] += torch.where(invalid, torch.zeros_like(value), torch.nan_to_num(value))
        self.episode_task_reward += reward
        episode = self._episode_stats(dones, fell, invalid)
        infos = {"terminate": terminate, "timeout": timeout, "amp_obs": amp_obs, "episode": episode}

        self.reset_where(dones)
        obs = self.compute_observations()
        return obs, reward, dones, infos

    def _episode_stats(self, dones, fell, invalid) -> dict[str, torch.Tensor]:
        """Means over the episodes that ended this step (0 when none did) and their number
        `episodes_finished`; device tensors, always all keys (the agent weights each mean by the number)."""
        count = dones.sum().to(self.dtype)
        ended = dones.to(self.dtype) / count.clamp(min=1.0)

        def mean(values):
            return (values.to(self.dtype) * ended).sum()

        stats = {f"rew_{name}": mean(sums) for name, sums in self.episode_sums.items()}
        stats["rew_task"] = mean(self.episode_task_reward)
        stats["episode_length_s"] = mean(self.progress * self.dt)
        stats["fall_rate"] = mean(fell)
        stats["invalid_rate"] = mean(invalid)
        stats["episodes_finished"] = count
        return stats
