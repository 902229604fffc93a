"""The Duckling base task: a batched env over an `Engine` (never a simulator directly) that composes its terms
(observations: awd.tasks.observations, rewards: awd.tasks.rewards, falls: awd.tasks.terminations, resets:
awd.tasks.reset_states, domain randomisation: awd.tasks.randomization, foot steps: awd.tasks.feet) with the AMP
windows of the robot spec into the learning contract (awd.learning.register): `reset()`, `step(actions)`,
`fetch_amp_obs_demo(n)`, `get_layout()`.
Nothing in it is specific to the duck: layouts come from the robot spec and thresholds from the env config.

Step order: clip actions -> (delayed) PD targets -> pushes -> engine.step -> AMP frame of the new state ->
task updates (velocity window, air time, command timer) -> rewards -> terminations / timeouts ->
episode statistics -> reset done envs -> observations (of the new episodes for reset envs).

Subclasses (awd.tasks.tasks) add observation terms (`task_obs_terms`) and their own state (`reset_task`,
`update_task`); reward terms are configured per task in its env YAML, their weights ramped in training by the
trainer's `set_train_info` (awd.tasks.reward_ramp).

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
delay is off. The objects whose tensor attributes a step rebinds (the task, its engine, foot tracker and
randomisation) are its CUDA-graph holders (`graph_holders`).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from awd.errors import AwdError
from awd.tasks import env_state, terminations
from awd.tasks.amp_features import (flatten_window, frame_from_engine, held_joint_mask, make_amp_layout,
                                    window_from_motion)
from awd.tasks.config import EnvConfig
from awd.tasks.feet import FootTracker
from awd.tasks.observations import ObsTerm, Observations, base_terms, foot_contacts_term
from awd.tasks.randomization import DomainRandomization, Draws
from awd.tasks.reset_states import ResetStates
from awd.tasks.rewards import RewardInputs, compute_rewards, prepare_rewards
from awd.utils.rotations import quat_to_matrix, rotate_about_z, yaw_from_matrix, yaw_from_quat


def _finite(values: torch.Tensor) -> torch.Tensor:
    """torch.isfinite in two kernels (isfinite takes four)."""
    return values.abs() < float("inf")


class DucklingTask:
    """Base Duckling env. `engine` follows awd.engine.base.Engine; `motion_lib` is a MotionLib or None."""

    task_name = "Duckling"
    state_attributes = ("progress", "actions", "prev_actions", "amp_history", "commands", "height_target",
                        "velocity_history", "reward_sums", "episode_task_reward", "last_reset_was_reference",
                        "termination_requests")  # what a resume puts back (awd.tasks.env_state)
    env_cfg: str | None = None  # default env YAML and rl_games YAML (under awd/data/cfg)
    train_cfg: str | None = None
    train_overrides: tuple[tuple[str, object], ...] = ()  # rl_games settings under `params`: ("config.gamma", 0.99)

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
        self.draws = Draws(self.generator, self.device, self.dtype)
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
        self.action_scale = self._tensor(self.spec.joint_action_scale)
        self.head_index = engine.body_index(self.spec.head_body) if self.spec.head_body else None
        self.amp_layout = make_amp_layout(self.spec, cfg.amp, cfg.source)
        self.held_joints = held_joint_mask(self.amp_layout, self.num_actions, self.device)
        self.key_body_indices = torch.tensor([engine.body_index(b) for b in self.amp_layout.key_bodies],
                                             device=self.device)
        self.foot_body_indices = torch.tensor([engine.body_index(b) for b in self.spec.foot_bodies], device=self.device)
        self.observations = Observations(self._observation_terms(), self.device, self.dtype)
        self.obs_parts = self.observations.parts
        self.num_obs = self.observations.size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.num_obs,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.num_actions,), dtype=np.float32)
        self.amp_observation_space = gym.spaces.Box(-np.inf, np.inf, (self.amp_layout.window_size,), dtype=np.float32)
        self._allocate_buffers()

    # ------------------------------------------------------------------------------------------ helpers

    def _tensor(self, values) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values), dtype=self.dtype, device=self.device)

    def _zeros(self, *shape, dtype=None) -> torch.Tensor:
        return torch.zeros(*shape, device=self.device, dtype=dtype or self.dtype)

    def _allocate_buffers(self) -> None:
        N, n, K = self.num_envs, self.num_actions, self.amp_layout.num_steps
        self.progress = self._zeros(N, dtype=torch.long)
        self.actions = self._zeros(N, n)
        self.prev_actions = self._zeros(N, n)
        self.amp_history = self._zeros(N, K, self.amp_layout.frame_size)
        self.commands = self._zeros(N, 3)
        self.height_target = torch.full((N,), float(self.spec.init_root_height), device=self.device)
        window = max(1, int(round(self.cfg.commands.velocity_window_s / self.dt)))
        self.velocity_history = self._zeros(N, window, 2, 3)  # root (lin, ang) velocity, world frame, newest first
        self.feet = FootTracker(N, len(self.spec.foot_bodies), self.dt, self.device, self.dtype)
        self.randomization = DomainRandomization(self.cfg.domain_rand, self.draws, self.engine, n, self.num_obs,
                                                 self.dt)
        self.reward_sums = self._zeros(N, len(self.reward_names))  # per-episode sums of the weighted terms
        self.episode_sums = {name: self.reward_sums[:, i] for i, name in enumerate(self.reward_names)}
        self.episode_task_reward = self._zeros(N)
        self.last_reset_was_reference = self._zeros(N, dtype=torch.bool)
        self.termination_requests = self._zeros(N, dtype=torch.bool)
        self.reset_states = ResetStates(self, self.draws)
        self.reward_ramps = prepare_rewards(self, self.cfg.rewards)

    @property
    def reward_names(self) -> list[str]:
        return list(self.cfg.rewards)

    # ------------------------------------------------------------------------------------------ layout

    def task_obs_terms(self) -> list[ObsTerm]:
        """The task's own observation terms, observed after `base_terms`."""
        return []

    def _observation_terms(self) -> list[ObsTerm]:
        terms = base_terms(self) + self.task_obs_terms()
        return terms + [foot_contacts_term(self)] if self.cfg.observations.foot_contacts else terms

    def get_layout(self) -> dict:
        """Plain description used to refuse mismatched checkpoints and to export policies."""
        return {
            "task": self.task_name,
            "robot": self.spec.name,
            "obs": [[name, size] for name, size in self.obs_parts],
            "action_joints": list(self.spec.joint_names),
            "action_scale": self.spec.action_scale_record(),
            "default_joint_pos": [float(v) for v in self.spec.default_joint_pos],
            "control_dt": self.dt,
            "joint_vel_scale": self.cfg.observations.joint_vel_scale,
            "amp_features": [[name, size] for name, size in self.amp_layout.parts],
            "amp_num_steps": self.amp_layout.num_steps,
            "amp_joints": list(self.amp_layout.joint_names),
        }

    def observation_description(self) -> list[dict]:
        """The policy observation part by part, in order, as deployment code rebuilds it (awd.export)."""
        return self.observations.describe()

    # ------------------------------------------------------------------------------------------ observations

    def compute_observations(self, root_matrix=None) -> torch.Tensor:
        """Policy observations (N, num_obs), delayed per env when obs_delay is on; `root_matrix` (N, 3, 3):
        quat_to_matrix(engine.root_quat), when already computed."""
        matrix = quat_to_matrix(self.engine.root_quat) if root_matrix is None else root_matrix
        return self.randomization.delayed_obs(self.observations.compute(self, matrix))

    # ------------------------------------------------------------------------------------------ AMP

    def _amp_frame(self, root_matrix=None) -> torch.Tensor:
        frame = frame_from_engine(self.amp_layout, self.engine, self.key_body_indices, root_matrix)
        return torch.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0)

    def fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        """(num_samples, K * frame_size) demo windows from the motion library."""
        return self.amp_demo_windows(*self.amp_demo_keys(num_samples))

    def amp_demo_keys(self, num_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip ids and window end times of `num_samples` demo windows (clips weighted by `demo_weights`, if set)."""
        if self.motion_lib is None:
            raise AwdError(self.cfg.source, "env.motion_file", "AMP demos need a motion library (motion_file)")
        return self.motion_lib.sample_windows(num_samples, self.amp_layout.num_steps, self.dt,
                                              self.reset_states.motion_generator(), getattr(self, "demo_weights", None))

    def amp_demo_windows(self, clip_ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """(n, K * frame_size) demo windows ending at `times` in clips `clip_ids`."""
        device = self.motion_lib.device
        window = window_from_motion(self.amp_layout, self.motion_lib, clip_ids.to(device), times.to(device), self.dt)
        return flatten_window(window).to(self.device, self.dtype)

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
        reference = self.reset_states.reference_mask()
        self.last_reset_was_reference = torch.where(mask, reference, self.last_reset_was_reference)
        starts = mask & reference
        state, window = self.reset_states.states(starts, self.compact_resets)
        self.engine.reset_where(mask, *self.reset_states.split(state))
        root_matrix = quat_to_matrix(self.engine.root_quat)
        self._reset_amp_history(mask, starts, window, root_matrix)
        self._reset_buffers(mask)
        self.randomization.reset(mask)
        self.reset_task(mask)
        return root_matrix

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
        self.velocity_history = torch.where(mask.view(-1, 1, 1, 1), self._root_velocities().unsqueeze(1),
                                            self.velocity_history)
        self.episode_task_reward.masked_fill_(mask, 0.0)

    def _root_velocities(self) -> torch.Tensor:
        """(N, 2, 3) the engine's root (linear, angular) velocity, world frame."""
        return torch.stack([self.engine.root_lin_vel, self.engine.root_ang_vel], dim=1)

    def reset_task(self, mask: torch.Tensor) -> None:
        """Task-specific reset (commands, targets) of the envs where `mask` (N,) is true, by masked updates;
        called after the engine reset."""

    # ------------------------------------------------------------------------------------------ stepping

    def joint_targets(self, actions: torch.Tensor) -> torch.Tensor:
        return self.default_joint_pos + self.action_scale * actions

    @property
    def step_capturable(self) -> bool:
        """`step` can be replayed as CUDA graphs (awd.utils.cuda_graphs.SegmentedGraph, holders
        `graph_holders`): the engine allows it and nothing in the step reads the host (compact resets, pushes and
        the engine-side domain randomisation do)."""
        host_reads = self.compact_resets or self.randomization.host_reads
        return bool(getattr(self.engine, "capturable", False)) and not host_reads

    @property
    def graph_holders(self) -> tuple:
        """The objects whose tensor attributes `step` advances (rebinds)."""
        return (self, self.engine, self.feet, self.randomization)

    def invalid_state(self) -> torch.Tensor:
        engine = self.engine
        state = torch.cat([engine.root_pos, engine.root_quat, engine.root_lin_vel, engine.root_ang_vel,
                           engine.joint_pos, engine.joint_vel], dim=-1)
        return engine.invalid | ~_finite(state).all(dim=-1)

    def fallen(self, root_matrix: torch.Tensor | None = None) -> torch.Tensor:
        """Fall test on the current state (awd.tasks.terminations; before the grace period is applied);
        `root_matrix` (N, 3, 3): quat_to_matrix(engine.root_quat), when already computed."""
        return terminations.fallen(self, quat_to_matrix(self.engine.root_quat) if root_matrix is None else root_matrix)

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
            held_joints=self.held_joints, task=self)

    def compute_reward(self, root_matrix: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return compute_rewards(self.cfg.rewards, self.reward_inputs(root_matrix), self.reward_ramps.scales)

    def set_train_info(self, env_frames, *args) -> None:
        self.reward_ramps.advance(env_frames)  # once per epoch, before its rollout

    def step(self, actions: torch.Tensor):
        """Apply actions for one policy step; returns (obs, rewards, dones, infos) per the learning contract."""
        actions = torch.as_tensor(actions, device=self.device, dtype=self.dtype)
        actions = torch.nan_to_num(actions, nan=0.0).clamp(-1.0, 1.0)
        first_step = self.progress == 0
        self.prev_actions = torch.where(first_step.unsqueeze(-1), actions, self.actions)
        self.actions = actions
        applied = self.randomization.delayed_actions(actions)
        self.randomization.apply_pushes(self.progress)
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
        terminate = fell | invalid | self.termination_requests
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

    def get_env_state(self) -> dict | None:
        return env_state.capture(self)

    def set_env_state(self, state: dict | None) -> str | None:
        """Put back a `get_env_state`; returns why it could not, None when it did."""
        return env_state.restore(self, state)

    def request_termination(self, mask: torch.Tensor) -> None:
        """The envs in `mask` end their episodes as terminations at every step until the next request (the trainer's
        awd.learning.style_termination)."""
        self.termination_requests.copy_(mask)

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
