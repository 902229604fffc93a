"""The engine interface every physics backend implements (CPU MuJoCo now, MuJoCo Warp later).

An engine owns `num_envs` copies of one robot, steps them with PD joint targets and exposes their state as
batched float32 torch tensors on `device`. Tasks compute observations, rewards, AMP features and resets from
those tensors in torch without touching the simulator. Conventions (docs/design.md): quaternions are
(x, y, z, w); velocities are world-frame; joint arrays are in `spec.joint_names` order (never MJCF order).

State tensors are allocated once and refreshed in place by `reset` and `step` (the same tensor objects for
the engine's lifetime, so a GPU backend can hand out zero-copy views); `.clone()` what you keep across steps.
Right after `reset` and after `step`, positions, velocities, body positions and contact flags are those of the
current state; joint torques and contact forces are those applied during the last physics substep (zero right
after a reset: the reset state has not been simulated yet), as a simulator's step reports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import torch

from awd.errors import AwdError
from awd.robot.spec import RobotSpec


def default_tracked_bodies(spec: RobotSpec) -> tuple[str, ...]:
    """Trunk, feet, key bodies, head: the bodies a task reads from `body_pos` (duplicates removed, first kept)."""
    names = [spec.trunk_body, *spec.foot_bodies, *spec.key_bodies, spec.head_body]
    return tuple(dict.fromkeys(name for name in names if name))


class Engine(ABC):
    """Batched simulation of `num_envs` robots described by `spec`.

    State (float32 unless said, on `device`, N = num_envs, n = spec.num_joints, B = len(tracked_bodies)):
      root_pos (N,3) world; root_quat (N,4) xyzw; root_lin_vel (N,3) world; root_ang_vel (N,3) world;
      joint_pos (N,n), joint_vel (N,n) spec order; body_pos (N,B,3) world positions of the tracked bodies'
      frames; foot_contacts (N,2) bool [left, right] (foot touching the floor); foot_contact_forces (N,2)
      normal force of the floor on each foot in the last substep (N, >= 0); non_foot_ground_contact (N,) bool (any other
      geom
      touching the floor: a fall); joint_torques (N,n) actuator torques applied in the last physics substep;
      invalid (N,) bool: the state is not finite or the simulator warned (e.g. it auto-reset a diverging
      env); the task must reset those envs.
    """

    name: str = "engine"

    def __init__(self, spec: RobotSpec, num_envs: int, device: str = "cpu",
                 tracked_bodies: Sequence[str] | None = None):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise AwdError(None, "num_envs", f"expected a positive integer, got {num_envs!r}")
        self.spec = spec
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.tracked_bodies = tuple(dict.fromkeys(tracked_bodies)) if tracked_bodies else default_tracked_bodies(spec)
        self._invalid_steps = 0  # int, or a 0-d device tensor on a GPU engine (no sync per step)

    @property
    def num_invalid_total(self) -> int:
        """Env-steps flagged invalid since construction, resets excluded (reading it may wait for the GPU)."""
        return int(self._invalid_steps)

    def body_index(self, name: str) -> int:
        """Index of a tracked body in `body_pos`'s second dimension."""
        try:
            return self.tracked_bodies.index(name)
        except ValueError:
            raise AwdError(None, "body",
                           f"{name!r} is not tracked; tracked bodies: {list(self.tracked_bodies)}") from None

    # --- simulation -------------------------------------------------------------------------------------------
    @abstractmethod
    def reset(self, env_ids: torch.Tensor, root_pos: torch.Tensor, root_quat: torch.Tensor,
              root_lin_vel: torch.Tensor, root_ang_vel: torch.Tensor, joint_pos: torch.Tensor,
              joint_vel: torch.Tensor) -> None:
        """Set the state of envs `env_ids` (tensors indexed like env_ids; quat xyzw; velocities world) and
        refresh their derived state so that every state tensor is valid at once."""

    def reset_where(self, mask: torch.Tensor, root_pos: torch.Tensor, root_quat: torch.Tensor,
                    root_lin_vel: torch.Tensor, root_ang_vel: torch.Tensor, joint_pos: torch.Tensor,
                    joint_vel: torch.Tensor) -> None:
        """`reset` of the envs where `mask` (N,) is true, with full-size (N, ...) state tensors (rows where the
        mask is false are ignored). A GPU engine does this without a host synchronisation; this default
        gathers the ids."""
        ids = mask.nonzero().flatten()
        if ids.numel():
            self.reset(ids, root_pos[ids], root_quat[ids], root_lin_vel[ids], root_ang_vel[ids], joint_pos[ids],
                       joint_vel[ids])

    @abstractmethod
    def step(self, joint_targets: torch.Tensor) -> None:
        """One policy step: `spec.decimation` physics steps with PD targets (N, n) in spec order, then refresh."""

    # --- domain randomisation (per env; values are absolute w.r.t. the nominal model, not cumulative) -------
    @abstractmethod
    def apply_root_velocity(self, env_ids: torch.Tensor, lin_vel_xy: torch.Tensor) -> None:
        """Push: add (len(ids), 2) world-frame xy velocity to the roots of those envs."""

    @abstractmethod
    def set_friction_scale(self, env_ids: torch.Tensor, scale: torch.Tensor) -> None:
        """Scale (len(ids),) the sliding friction of every geom (robot and floor) of those envs."""

    @abstractmethod
    def set_mass_offset(self, env_ids: torch.Tensor, trunk_mass_delta: torch.Tensor,
                        trunk_com_offset: torch.Tensor) -> None:
        """Trunk mass = nominal + delta (len(ids),) kg; trunk centre of mass = nominal + offset (len(ids), 3) m
        in the trunk frame. Inertia is unchanged."""

    @abstractmethod
    def set_torque_scale(self, env_ids: torch.Tensor, scale: torch.Tensor) -> None:
        """Motor strength (len(ids), n): scales kp, kd and the effort limit of each joint, which is the
        same as scaling the applied torque."""

    def get_state(self) -> dict[str, torch.Tensor] | None:
        """Everything the next step depends on, as tensors (a resume continues exactly); None where the engine
        cannot say (a resume then resets every env)."""
        return None

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        """Put back what `get_state` returned (same engine, same env count)."""
        raise NotImplementedError(f"{type(self).__name__} has no exact state")

    # --- state ------------------------------------------------------------------------------------------------
    root_pos: torch.Tensor
    root_quat: torch.Tensor
    root_lin_vel: torch.Tensor
    root_ang_vel: torch.Tensor
    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    body_pos: torch.Tensor
    foot_contacts: torch.Tensor
    foot_contact_forces: torch.Tensor
    non_foot_ground_contact: torch.Tensor
    joint_torques: torch.Tensor
    invalid: torch.Tensor
