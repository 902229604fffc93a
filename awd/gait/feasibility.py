"""Can the robot's actuators perform a clip? The joint torques that reproduce it exactly, by inverse dynamics of
the spec's model (its armature included: a servo's reflected rotor inertia times a fast swing's acceleration
can need more torque than gravity), with the feet in contact carrying the floating base, against the effort
limits.

For every inner frame: velocities and accelerations from central differences of the poses, `mj_inverse`
without contacts gives the generalised forces the motion needs; the contact feet supply the floating base's
six as wrenches at their frames (least squares over the feet in contact), and what remains on each joint is its
torque. Frames without a foot in contact (flight) are skipped. A clip is feasible when the `percentile`-th
percentile of every joint's |torque| / effort limit is at most 1. In single support the stance foot's wrench also
places the centre of pressure, and how far it falls outside the sole says whether the clip is balanced
(awd.gait.balance).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from awd.gait.balance import centre_of_pressure, outside_sole, sole_footprints
from awd.motion.clip import Clip
from awd.robot.model import build_model, joint_dof_addresses, joint_qpos_addresses
from awd.robot.spec import RobotSpec


@dataclass(frozen=True)
class TorqueDemand:
    """Per joint (spec order): the percentile and the maximum of |torque| / effort limit over the frames; and the
    percentile of how far (m) the centre of pressure lies outside the stance sole in single support."""

    joint_names: tuple[str, ...]
    percentile: float
    share: np.ndarray
    peak: np.ndarray
    cop_outside: float

    @property
    def worst(self) -> tuple[str, float]:
        index = int(np.argmax(self.share))
        return self.joint_names[index], float(self.share[index])

    @property
    def feasible(self) -> bool:
        return bool((self.share <= 1.0).all())


class TorqueModel:
    """The spec's model without its floor and the addresses inverse dynamics needs; reused across clips."""

    def __init__(self, spec: RobotSpec):
        self.spec = spec
        self.model = build_model(spec, floor=False)
        self.model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
        self.data = mujoco.MjData(self.model)
        self.qpos = joint_qpos_addresses(self.model, spec)
        self.dofs = joint_dof_addresses(self.model, spec)
        self.feet = [self.model.body(name).id for name in spec.foot_bodies]
        self.footprints = sole_footprints(self.model, spec)
        free = int(np.flatnonzero(self.model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
        self.root_qpos, self.root_dof = self.model.jnt_qposadr[free], self.model.jnt_dofadr[free]

    def _pose(self, clip: Clip, frame: int) -> np.ndarray:
        qpos = self.model.qpos0.copy()
        x, y, z, w = clip.root_quat[frame]
        qpos[self.root_qpos:self.root_qpos + 7] = (*clip.root_pos[frame], w, x, y, z)
        qpos[self.qpos] = clip.joint_pos[frame]
        return qpos

    def _velocity(self, before: np.ndarray, after: np.ndarray, dt: float) -> np.ndarray:
        velocity = np.zeros(self.model.nv)
        mujoco.mj_differentiatePos(self.model, velocity, dt, before, after)
        return velocity

    def inverse_dynamics(self, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
        """(frames, n) joint torques of the inner frames with a foot in contact, and for those in single support how
        far (m) the centre of pressure lies outside the stance sole."""
        model, data, dt = self.model, self.data, clip.frame_dt
        root = slice(self.root_dof, self.root_dof + 6)
        rows, outside = [], []
        for frame in range(1, clip.num_frames - 1):
            feet = [index for index, on in enumerate(clip.foot_contacts[frame]) if on > 0.5]
            if not feet:
                continue
            before, now, after = (self._pose(clip, k) for k in (frame - 1, frame, frame + 1))
            data.qpos[:] = now
            data.qvel[:] = self._velocity(before, after, 2 * dt)
            data.qacc[:] = (self._velocity(now, after, dt) - self._velocity(before, now, dt)) / dt
            mujoco.mj_inverse(model, data)
            jacobians = []
            for index in feet:
                position, rotation = np.zeros((3, model.nv)), np.zeros((3, model.nv))
                mujoco.mj_jacBody(model, data, position, rotation, self.feet[index])
                jacobians.append(np.vstack([position, rotation]))
            jacobian = np.vstack(jacobians)
            wrench = np.linalg.lstsq(jacobian[:, root].T, data.qfrc_inverse[root], rcond=None)[0]
            rows.append((data.qfrc_inverse - jacobian.T @ wrench)[self.dofs])
            if len(feet) == 1 and wrench[2] > 0:
                body = self.feet[feet[0]]
                point = centre_of_pressure(wrench, data.xpos[body])
                outside.append(outside_sole(point, data.xpos[body], data.xmat[body].reshape(3, 3),
                                            self.footprints[feet[0]]))
        return np.array(rows).reshape(-1, self.spec.num_joints), np.array(outside)

    def demand(self, clip: Clip, percentile: float = 95.0) -> TorqueDemand:
        torques, outside = self.inverse_dynamics(clip)
        share = np.abs(torques) / self.spec.effort_limit
        if not len(share):
            share = np.zeros((1, self.spec.num_joints))
        return TorqueDemand(self.spec.joint_names, percentile, np.percentile(share, percentile, axis=0),
                            share.max(axis=0), float(np.percentile(outside, percentile)) if len(outside) else 0.0)
