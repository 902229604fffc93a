"""A kinematic stand-in for `awd.engine.base.Engine` (same state tensors and methods, no physics) for fast
task tests and for exercising the env contract without a simulator. Joints move to their PD targets in one
step (optionally part-way); the root keeps its velocity-integrated pose; bodies other than the root sit at fixed
offsets from the root, unless a test writes `body_pos` directly. Tests may also write any state tensor.
`reset_where` is masked and free of host syncs, like a GPU engine's; `reset_calls` records the ids given to
`reset`, `reset_masks` the masks given to `reset_where`."""

from __future__ import annotations

import torch

from awd.engine.base import default_tracked_bodies
from awd.utils.rotations import quat_rotate


class FakeEngine:
    def __init__(self, spec, num_envs: int, device="cpu", tracked_bodies=None, joint_tracking: float = 1.0):
        self.spec = spec
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.dtype = torch.float32
        names = list(tracked_bodies) if tracked_bodies else []
        for body in default_tracked_bodies(spec):
            if body not in names:
                names.append(body)
        self.body_names = tuple(names)
        self.joint_tracking = joint_tracking
        n, N = spec.num_joints, self.num_envs
        z = lambda *shape: torch.zeros(*shape, device=self.device, dtype=self.dtype)  # noqa: E731
        self.default_joint_pos = torch.as_tensor(spec.default_joint_pos, device=self.device, dtype=self.dtype)
        self.kp = torch.as_tensor(spec.kp, device=self.device, dtype=self.dtype)
        self.root_pos, self.root_quat = z(N, 3), z(N, 4)
        self.root_quat[:, 3] = 1.0
        self.root_lin_vel, self.root_ang_vel = z(N, 3), z(N, 3)
        self.joint_pos, self.joint_vel, self.joint_torques = z(N, n), z(N, n), z(N, n)
        self.body_pos = z(N, len(self.body_names), 3)
        self.foot_contacts = torch.ones(N, 2, dtype=torch.bool, device=self.device)
        self.foot_contact_forces = z(N, 2)
        self.non_foot_ground_contact = torch.zeros(N, dtype=torch.bool, device=self.device)
        self.invalid = torch.zeros(N, dtype=torch.bool, device=self.device)
        self.body_offsets = z(len(self.body_names), 3)
        for index, name in enumerate(self.body_names):
            if name in spec.foot_bodies:
                side = 1.0 if spec.foot_bodies.index(name) == 0 else -1.0
                self.body_offsets[index] = torch.tensor([0.0, 0.05 * side, -spec.init_root_height])
            elif name == spec.head_body:
                self.body_offsets[index] = torch.tensor([0.05, 0.0, 0.14])
        self.reset_calls: list[torch.Tensor] = []
        self.reset_masks: list[torch.Tensor] = []
        self.step_calls = 0
        self.last_targets = None
        self.pushes, self.friction, self.mass, self.torque_scale = [], [], [], []

    def body_index(self, name: str) -> int:
        return self.body_names.index(name)

    def _bodies(self) -> torch.Tensor:
        """(N, B, 3) body positions at their fixed offsets from the current roots."""
        offsets = self.body_offsets.expand(self.num_envs, -1, -1)
        quat = self.root_quat.unsqueeze(1).expand(-1, len(self.body_names), -1)
        return self.root_pos.unsqueeze(1) + quat_rotate(quat, offsets)

    def reset(self, env_ids, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel) -> None:
        env_ids = torch.as_tensor(env_ids, device=self.device, dtype=torch.long)
        self.reset_calls.append(env_ids.clone())
        self.root_pos[env_ids] = root_pos.to(self.dtype)
        self.root_quat[env_ids] = root_quat.to(self.dtype)
        self.root_lin_vel[env_ids] = root_lin_vel.to(self.dtype)
        self.root_ang_vel[env_ids] = root_ang_vel.to(self.dtype)
        self.joint_pos[env_ids] = joint_pos.to(self.dtype)
        self.joint_vel[env_ids] = joint_vel.to(self.dtype)
        self.joint_torques[env_ids] = 0.0
        self.invalid[env_ids] = False
        self.non_foot_ground_contact[env_ids] = False
        self.body_pos[env_ids] = self._bodies()[env_ids]

    def reset_where(self, mask, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel) -> None:
        self.reset_masks.append(mask.clone())
        rows = mask.view(-1, 1)
        for state, value in ((self.root_pos, root_pos), (self.root_quat, root_quat), (self.root_lin_vel, root_lin_vel),
                             (self.root_ang_vel, root_ang_vel), (self.joint_pos, joint_pos),
                             (self.joint_vel, joint_vel)):
            state.copy_(torch.where(rows, value.to(self.dtype), state))
        self.joint_torques.masked_fill_(rows, 0.0)
        self.invalid.masked_fill_(mask, False)
        self.non_foot_ground_contact.masked_fill_(mask, False)
        self.body_pos.copy_(torch.where(mask.view(-1, 1, 1), self._bodies(), self.body_pos))

    def step(self, joint_targets: torch.Tensor) -> None:
        self.step_calls += 1
        self.last_targets = joint_targets.clone()
        dt = self.spec.control_dt
        self.joint_torques = self.kp * (joint_targets - self.joint_pos)
        new_pos = self.joint_pos + self.joint_tracking * (joint_targets - self.joint_pos)
        self.joint_vel = (new_pos - self.joint_pos) / dt
        self.joint_pos = new_pos
        self.root_pos = self.root_pos + self.root_lin_vel * dt
        self.body_pos.copy_(self._bodies())

    def apply_root_velocity(self, env_ids, lin_vel_xy) -> None:
        self.pushes.append((env_ids.clone(), lin_vel_xy.clone()))
        self.root_lin_vel[env_ids, :2] += lin_vel_xy.to(self.dtype)

    def set_friction_scale(self, env_ids, scale) -> None:
        self.friction.append((env_ids.clone(), scale.clone()))

    def set_mass_offset(self, env_ids, trunk_mass_delta, trunk_com_offset) -> None:
        self.mass.append((env_ids.clone(), trunk_mass_delta.clone(), trunk_com_offset.clone()))

    def set_torque_scale(self, env_ids, scale) -> None:
        self.torque_scale.append((env_ids.clone(), scale.clone()))
