"""The Duckling base task: a batched env over an `Engine` (never a simulator directly) that builds policy
observations and AMP windows from the robot spec, maps actions to PD targets, detects falls, resets envs from
the default pose or from reference motion, applies optional domain randomisation, and satisfies the learning
contract (awd.learning.register): `reset()`, `step(actions)`, `fetch_amp_obs_demo(n)`, `get_layout()`.
Nothing in it is specific to the duck: every layout comes from the robot spec and every threshold from the env
config, so the G1 humanoid's tasks are this class too.

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

On a GPU the step is bound by the CPU time spent launching small torch ops (a few microseconds each, longer
than most of their kernels), so the step keeps their number low: engine reset states are packed (N, S)
tensors (root pos, quat, lin vel, ang vel, joint pos, joint vel; one masked blend, views for the engine), the
reference motion comes packed from the motion library, reward terms and episode statistics are stacked into
one tensor each, the window of root velocities is one buffer, and delay buffers are skipped while their
delay is off.
"""

from __future__ import annotations

import functools
import math
import operator

import gymnasium as gym
import numpy as np
import torch

from awd.errors import AwdError
from awd.tasks.amp_features import (flatten_window, frame_from_engine, frame_from_motion, held_joint_mask,
                                    make_amp_layout, window_from_motion)
from awd.tasks.config import EnvConfig
from awd.tasks.feet import FootTracker
from awd.tasks.rewards import RewardInputs, compute_rewards
from awd.utils.rotations import quat_to_matrix, rotate_about_z, yaw_from_matrix, yaw_from_quat


def _select_delayed(buffer: torch.Tensor, delay: torch.Tensor) -> torch.Tensor:
    """buffer[i, delay[i]] for a (N, D, k) history buffer (newest first), as a new (N, k) tensor."""
    if buffer.shape[1] == 1:
        return buffer[:, 0].clone()
    index = delay.view(-1, 1, 1).expand(-1, 1, buffer.shape[2])
    return buffer.gather(1, index).squeeze(1)


def _per_element(value, size: int) -> list[float]:
    """A scalar or a sequence as a list of `size` floats."""
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,))
    return [float(v) for v in values]


def _finite(values: torch.Tensor) -> torch.Tensor:
    """torch.isfinite in two kernels (isfinite takes four)."""
    return values.abs() < float("inf")


def _same_device(a: torch.device, b: torch.device) -> bool:
    def index(device):
        return torch.cuda.current_device() if device.type == "cuda" and device.index is None else device.index
    return a.type == b.type and index(a) == index(b)


class DucklingTask:
    """Base Duckling env. `engine` follows awd.engine.base.Engine; `motion_lib` is a MotionLib or None."""

    task_name = "Duckling"
    env_cfg: str | None = None  # default env YAML and rl_games YAML (under awd/data/cfg), train overrides
    train_cfg: str | None = None
    train_overrides: tuple[tuple[str, object], ...] = ()

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
        if motion_lib is not None and tuple(motion_lib.key_bodies) != tuple(self.spec.key_bodies):
            raise AwdError(cfg.source, "env.motion_file", f"the motion library has key bodies "
                           f"{list(motion_lib.key_bodies)}, the robot {list(self.spec.key_bodies)} "
                           "(build it with awd.motion.motion_lib.motion_lib_for_robot)")

        self.default_joint_pos = self._tensor(self.spec.default_joint_pos)
        self.action_scale = float(self.spec.action_scale)
        self.head_index = engine.body_index(self.spec.head_body) if self.spec.head_body else None
        self.amp_layout = make_amp_layout(self.spec, cfg.amp, cfg.source)
        self.held_joints = held_joint_mask(self.amp_layout, self.num_actions, self.device)
        self.key_body_indices = torch.tensor([engine.body_index(b) for b in self.amp_layout.key_bodies],
                                             device=self.device)
        self.foot_body_indices = torch.tensor([engine.body_index(b) for b in self.spec.foot_bodies], device=self.device)
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
        self.velocity_history = self._zeros(N, window, 2, 3)  # root (lin, ang) velocity, world frame, newest first
        self.feet = FootTracker(N, len(self.spec.foot_bodies), self.dt, self.device, self.dtype)
        self.action_buffer = self._zeros(N, rand.action_delay.max_steps + 1, n)
        self.action_delay = self._zeros(N, dtype=torch.long)
        self.obs_buffer = self._zeros(N, rand.obs_delay.max_steps + 1, self.num_obs)
        self.obs_delay = self._zeros(N, dtype=torch.long)
        self.obs_buffer_stale = torch.ones(N, dtype=torch.bool, device=self.device)
        self.push_interval_steps = max(1, int(round(rand.push.interval_s / self.dt)))
        self.reward_sums = self._zeros(N, len(self.reward_names))  # per-episode sums of the weighted terms
        self.episode_sums = {name: self.reward_sums[:, i] for i, name in enumerate(self.reward_names)}
        self.episode_task_reward = self._zeros(N)
        self.last_reset_was_reference = self._zeros(N, dtype=torch.bool)
        self.env_origins = self._env_origins()
        self.state_sizes = (3, 4, 3, 3, n, n)  # a packed engine state: root pos, quat, lin vel, ang vel, joints
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

    def observation_description(self) -> list[dict]:
        """The policy observation part by part, in order, as deployment code rebuilds it (awd.export):
        obs[start:start + size] = (quantity - offset) * scale, element by element."""
        described = {**self._base_obs_description(), **self.task_obs_description()}
        parts, start = [], 0
        for name, size in self.obs_parts:
            elements, scale, offset, meaning = described[name]
            parts.append({"name": name, "start": start, "size": size, "elements": list(elements),
                          "scale": _per_element(scale, size), "offset": _per_element(offset, size),
                          "meaning": meaning})
            start += size
        return parts

    def _base_obs_description(self) -> dict[str, tuple]:
        """name -> (element names, scale, offset, meaning) of the parts every Duckling task observes."""
        joints = self.spec.joint_names
        return {
            "projected_gravity": (("x", "y", "z"), 1.0, 0.0,
                                  "gravity direction (0, 0, -1) expressed in the trunk frame"),
            "joint_pos": (joints, 1.0, self.spec.default_joint_pos, "joint position (rad) minus the default pose"),
            "joint_vel": (joints, self.cfg.observations.joint_vel_scale, 0.0, "joint velocity (rad/s)"),
            "last_action": (joints, 1.0, 0.0,
                            "the policy's previous action after clipping to [-1, 1] (zeros at an episode start)"),
            "foot_contacts": (("left", "right"), 1.0, 0.0, "1 when the foot touches the floor, else 0"),
        }

    def task_obs_description(self) -> dict[str, tuple]:
        """name -> (element names, scale, offset, meaning) of the parts in `task_obs_parts`."""
        return {}

    # ------------------------------------------------------------------------------------------ observations

    def projected_gravity(self) -> torch.Tensor:
        """Gravity's direction (0, 0, -1) in the trunk frame: minus the last row of the trunk's rotation."""
        return -quat_to_matrix(self.engine.root_quat)[:, 2]

    def compute_task_obs(self) -> torch.Tensor:
        return self._zeros(self.num_envs, 0)

    def _raw_observations(self, root_matrix=None) -> torch.Tensor:
        engine, cfg = self.engine, self.cfg
        gravity = self.projected_gravity() if root_matrix is None else -root_matrix[:, 2]
        joint_pos = engine.joint_pos - self.default_joint_pos
        joint_vel = engine.joint_vel
        noise = cfg.domain_rand.obs_noise
        if noise.enabled:
            gravity = gravity + noise.projected_gravity * self._normal(gravity.shape)
            joint_pos = joint_pos + noise.joint_pos * self._normal(joint_pos.shape)
            joint_vel = joint_vel + noise.joint_vel * self._normal(joint_vel.shape)
        parts = [gravity, joint_pos, joint_vel * cfg.observations.joint_vel_scale, self.actions,
                 self.compute_task_obs()]
        if cfg.observations.foot_contacts:
            parts.append(engine.foot_contacts.to(self.dtype))
        return torch.nan_to_num(torch.cat(parts, dim=-1), nan=0.0, posinf=0.0, neginf=0.0)

    def _normal(self, shape) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def compute_observations(self, root_matrix=None) -> torch.Tensor:
        """Policy observations (N, num_obs), delayed per env when obs_delay is on; `root_matrix` (N, 3, 3):
        quat_to_matrix(engine.root_quat), when already computed."""
        obs = self._raw_observations(root_matrix)
        if not self.cfg.domain_rand.obs_delay.enabled:
            self.obs_buffer_stale.fill_(False)
            return obs
        buffer = torch.roll(self.obs_buffer, 1, dims=1)
        buffer[:, 0] = obs
        stale = self.obs_buffer_stale.view(-1, 1, 1)  # new episodes: the whole history is the first obs
        self.obs_buffer = torch.where(stale, obs.unsqueeze(1).expand_as(buffer), buffer)
        self.obs_buffer_stale.fill_(False)
        return _select_delayed(self.obs_buffer, self.obs_delay)

    # ------------------------------------------------------------------------------------------ AMP

    def _amp_frame(self, root_matrix=None) -> torch.Tensor:
        frame = frame_from_engine(self.amp_layout, self.engine, self.key_body_indices, root_matrix)
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
        """The env's generator where the motion library is on the env's device ("cuda" and "cuda:0" alike), so
        that the env's seed decides the reference resets."""
        return self.generator if _same_device(self.motion_lib.device, self.device) else None

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
        self._reset(mask)

    def _reset(self, mask: torch.Tensor) -> torch.Tensor | None:
        """`reset_where`; returns quat_to_matrix(engine.root_quat) of the new state (None if it skipped)."""
        if self.compact_resets and not bool(mask.any()):
            return None
        reference = self._reference_mask()
        self.last_reset_was_reference = torch.where(mask, reference, self.last_reset_was_reference)
        starts = mask & reference
        state, window = self._reset_states(starts)
        self.engine.reset_where(mask, *self._split_state(state))
        root_matrix = quat_to_matrix(self.engine.root_quat)
        self._reset_amp_history(mask, starts, window, root_matrix)
        self._reset_buffers(mask)
        self._randomize(mask)
        self.reset_task(mask)
        return root_matrix

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

    def _split_state(self, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """A packed engine state (N, S) as the engine's (root pos, quat, lin vel, ang vel, joint pos, joint vel)
        views."""
        return state.split(self.state_sizes, dim=-1)

    def _default_reset_state(self) -> torch.Tensor:
        """Packed engine state (N, S) of the default pose at the env origins, at rest; built once (the origins
        are fixed for the engine's lifetime)."""
        N = self.num_envs
        root_pos = self.env_origins.clone()
        root_pos[:, 2] += float(self.spec.init_root_height)
        root_quat = self._tensor(self.spec.init_root_quat).expand(N, 4)
        joint_pos = self.default_joint_pos.expand(N, -1)
        return torch.cat([root_pos, root_quat, self._zeros(N, 6), joint_pos, self._zeros(N, self.num_actions)], -1)

    def _reset_states(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Full-size packed engine reset state (N, S): the default pose, or where `starts`, a sampled
        reference-motion state; and the reference AMP windows (N, K, F) (None in Default mode). The reference
        states are built for every env (the rows not in `starts` are discarded) unless `compact_resets`."""
        if self.cfg.init.mode == "Default":
            return self.default_state, None
        rows = starts.nonzero().flatten() if self.compact_resets else None
        count = self.num_envs if rows is None else rows.numel()
        if count == 0:  # compact resets only: never on an accelerator
            return self.default_state, None
        now, window = self._reference_states(*self._sample_motion(count))
        if rows is not None:
            now = now.new_zeros(self.num_envs, now.shape[-1]).index_put_((rows,), now)
            window = window.new_zeros(self.num_envs, *window.shape[1:]).index_put_((rows,), window)
        return self._blend_reset_state(starts, now), window

    def _sample_motion(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`count` clip ids (by weight) and start times (0 in Start mode, else uniform in the clip)."""
        lib, generator = self.motion_lib, self._motion_generator()
        clip_ids = lib.sample_clips(count, generator=generator)
        if self.cfg.init.mode == "Start":
            return clip_ids, torch.zeros(count, dtype=torch.float64, device=lib.device)
        return clip_ids, lib.sample_times(clip_ids, generator=generator)

    def _reference_states(self, clip_ids, times) -> tuple[torch.Tensor, torch.Tensor]:
        """Packed engine states (n, S) of the clips at `times` (root pose as in the clip) and the AMP windows
        (n, K, F) ending there, filled from the clip at t - k dt."""
        lib = self.motion_lib
        packed = lib.get_window_packed(clip_ids, times, self.amp_layout.num_steps, self.dt).to(self.device, self.dtype)
        window = frame_from_motion(self.amp_layout, lib.unpack(packed))
        return packed[:, 0, :sum(self.state_sizes)], window

    def _blend_reset_state(self, starts: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The default state, or where `starts` the packed `reference` state with its root moved over the env
        origin (the clip's height plus `init.root_height_offset` kept)."""
        state = torch.where(starts.unsqueeze(-1), reference, self.default_state)
        height = torch.where(starts, reference[:, 2] + self.cfg.init.root_height_offset,
                             float(self.spec.init_root_height))
        state[:, :3] = self.env_origins
        state[:, 2].add_(height)
        return state

    def _reset_amp_history(self, mask: torch.Tensor, starts: torch.Tensor, window: torch.Tensor | None,
                           root_matrix: torch.Tensor) -> None:
        """AMP history of reset envs: the clip's past after a reference reset, else the new frame repeated."""
        fill = self._amp_frame(root_matrix).unsqueeze(1)
        if window is not None:
            fill = torch.where(starts.view(-1, 1, 1), window, fill)
        self.amp_history = torch.where(mask.view(-1, 1, 1), fill, self.amp_history)

    def _reset_buffers(self, mask: torch.Tensor) -> None:
        rows = mask.view(-1, 1)
        self.progress.masked_fill_(mask, 0)
        for buffer in (self.actions, self.prev_actions, self.reward_sums):
            buffer.masked_fill_(rows, 0.0)
        self.feet.reset(mask)
        if self.cfg.domain_rand.action_delay.enabled:
            self.action_buffer.masked_fill_(mask.view(-1, 1, 1), 0.0)
        self.obs_buffer_stale |= mask
        self.velocity_history = torch.where(mask.view(-1, 1, 1, 1), self._root_velocities().unsqueeze(1),
                                            self.velocity_history)
        self.episode_task_reward.masked_fill_(mask, 0.0)

    def _root_velocities(self) -> torch.Tensor:
        """(N, 2, 3) the engine's root (linear, angular) velocity, world frame."""
        return torch.stack([self.engine.root_lin_vel, self.engine.root_ang_vel], dim=1)

    def _randomize(self, mask: torch.Tensor) -> None:
        """Per-episode DR draws of the reset envs. The delays are masked updates; the engine-side draws
        (friction, torque scale, trunk mass) go through the engine's id-based setters, so they gather the ids
        (a host sync, only while one of them is enabled)."""
        rand = self.cfg.domain_rand
        if rand.action_delay.enabled:
            self.action_delay = torch.where(mask, self._randint(rand.action_delay.max_steps, self.num_envs),
                                            self.action_delay)
        if rand.obs_delay.enabled:
            self.obs_delay = torch.where(mask, self._randint(rand.obs_delay.max_steps, self.num_envs), self.obs_delay)
        if rand.friction.enabled or rand.torque_scale.enabled or rand.trunk_mass.enabled:
            self._randomize_engine(mask.nonzero().flatten())

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
        if not self.cfg.domain_rand.action_delay.enabled:
            return actions
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
            velocity = self._uniform(-push.max_vel_xy, push.max_vel_xy, env_ids.numel(), 2)
            self.engine.apply_root_velocity(env_ids, velocity)

    @property
    def step_capturable(self) -> bool:
        """`step` can be replayed as CUDA graphs (awd.utils.cuda_graphs.SegmentedGraph, holders
        `graph_holders`): the engine allows it and nothing in the step reads the host (compact resets, pushes and
        the engine-side domain randomisation do)."""
        rand = self.cfg.domain_rand
        host_reads = self.compact_resets or any(getattr(rand, name).enabled
                                                for name in ("push", "friction", "torque_scale", "trunk_mass"))
        return bool(getattr(self.engine, "capturable", False)) and not host_reads

    @property
    def graph_holders(self) -> tuple:
        """The objects whose tensor attributes `step` advances (rebinds)."""
        return (self, self.engine, self.feet)

    def invalid_state(self) -> torch.Tensor:
        engine = self.engine
        state = torch.cat([engine.root_pos, engine.root_quat, engine.root_lin_vel, engine.root_ang_vel,
                           engine.joint_pos, engine.joint_vel], dim=-1)
        return engine.invalid | ~_finite(state).all(dim=-1)

    def fallen(self, root_matrix: torch.Tensor | None = None) -> torch.Tensor:
        """Fall test on the current state (before the grace period is applied); `root_matrix` (N, 3, 3):
        quat_to_matrix(engine.root_quat), when already computed."""
        term, engine = self.cfg.termination, self.engine
        falls = []
        if term.max_tilt > 0:
            matrix = quat_to_matrix(engine.root_quat) if root_matrix is None else root_matrix
            falls.append(matrix[:, 2, 2] < math.cos(term.max_tilt))  # the trunk z axis's vertical component
        if term.trunk_height > 0:
            falls.append(engine.root_pos[:, 2] < term.trunk_height)
        if term.head_height > 0 and self.head_index is not None:
            falls.append(engine.body_pos[:, self.head_index, 2] < term.head_height)
        if term.non_foot_contact:
            falls.append(engine.non_foot_ground_contact)
        return functools.reduce(operator.or_, falls, self._zeros(self.num_envs, dtype=torch.bool))

    def _update_tracking(self) -> None:
        self.velocity_history = torch.roll(self.velocity_history, 1, dims=1)
        self.velocity_history[:, 0] = torch.nan_to_num(self._root_velocities())
        self.feet.update(self.engine.foot_contacts, self.engine.body_pos[:, self.foot_body_indices])

    def tracking_velocities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(lin, ang) root velocities averaged over the window, in the current yaw frame."""
        return self._window_velocities(yaw_from_quat(torch.nan_to_num(self.engine.root_quat)))

    def _window_velocities(self, heading: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(lin, ang) root velocities averaged over the window, in the yaw frame of `heading` (N,)."""
        return rotate_about_z(-heading.unsqueeze(-1), self.velocity_history.mean(dim=1)).unbind(1)

    def update_task(self) -> None:
        """Task-specific per-step update after physics (command timers...)."""

    def reward_inputs(self, root_matrix: torch.Tensor) -> RewardInputs:
        """What the reward terms read; `root_matrix` (N, 3, 3): the trunk's rotation (from engine.root_quat; an
        env whose quaternion is not finite is invalid, its reward dropped)."""
        engine = self.engine
        lin_vel, ang_vel = self._window_velocities(yaw_from_matrix(root_matrix))
        return RewardInputs(
            commands=self.commands, lin_vel=lin_vel, ang_vel=ang_vel, joint_pos=engine.joint_pos,
            joint_vel=engine.joint_vel, default_joint_pos=self.default_joint_pos,
            joint_torques=engine.joint_torques, actions=self.actions, prev_actions=self.prev_actions,
            projected_gravity=-root_matrix[:, 2], root_height=engine.root_pos[:, 2],
            height_target=self.height_target, feet_first_contact=self.feet.first_contact,
            feet_air_time=self.feet.last_air_time, feet_swing_height=self.feet.last_swing_height,
            feet_height=self.feet.height_above_stance, feet_speed_xy=self.feet.speed_xy,
            held_joints=self.held_joints)

    def compute_reward(self, root_matrix: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return compute_rewards(self.cfg.rewards, self.reward_inputs(root_matrix))

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
        root_matrix = quat_to_matrix(self.engine.root_quat)  # shared by the AMP frame and the rewards
        self.amp_history = torch.roll(self.amp_history, 1, dims=1)
        self.amp_history[:, 0] = self._amp_frame(root_matrix)
        amp_obs = flatten_window(self.amp_history).masked_fill(invalid.unsqueeze(-1), 0.0)

        self._update_tracking()
        self.update_task()
        reward, terms = self.compute_reward(root_matrix)
        reward = reward.masked_fill(invalid | ~_finite(reward), 0.0)

        grace = self.progress > self.cfg.termination.grace_steps
        enabled = self.cfg.termination.enabled
        fell = self.fallen(root_matrix) & grace & ~invalid if enabled else torch.zeros_like(invalid)
        terminate = fell | invalid
        timeout = (self.progress >= self.max_episode_steps) & ~terminate
        dones = terminate | timeout

        if self.reward_names:
            values = torch.stack([terms[name] for name in self.reward_names], dim=-1)
            self.reward_sums += torch.nan_to_num(values).masked_fill_(invalid.unsqueeze(-1), 0.0)
        self.episode_task_reward += reward
        episode = self._episode_stats(dones, fell, invalid)
        infos = {"terminate": terminate, "timeout": timeout, "amp_obs": amp_obs, "episode": episode}

        reset_matrix = self._reset(dones)
        obs = self.compute_observations(root_matrix if reset_matrix is None else reset_matrix)
        return obs, reward, dones, infos

    def _episode_stats(self, dones, fell, invalid) -> dict[str, torch.Tensor]:
        """Means over the episodes that ended this step (0 when none did) and their number
        `episodes_finished`; device tensors, always all keys (the agent weights each mean by the number)."""
        count = dones.sum().to(self.dtype)
        ended = dones.to(self.dtype) / count.clamp(min=1.0)
        names = [f"rew_{name}" for name in self.reward_names]
        names += ["rew_task", "episode_length_s", "fall_rate", "invalid_rate"]
        per_env = torch.cat([self.reward_sums, torch.stack([self.episode_task_reward, self.progress * self.dt,
                                                            fell.to(self.dtype), invalid.to(self.dtype)], dim=-1)], -1)
        stats = dict(zip(names, (per_env * ended.unsqueeze(-1)).sum(dim=0).unbind()))
        stats["episodes_finished"] = count
        return stats
