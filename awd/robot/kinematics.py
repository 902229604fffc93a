"""Forward kinematics of a robot spec's MJCF on the CPU: world positions of named bodies for a sequence of root
poses and joint angles. Reference motion gets its AMP key-body positions from here
(awd.motion.motion_lib.motion_lib_for_robot), from the very model the engine simulates, so demo features and
engine features agree for any MJCF the spec names (ours or an official one whose frames differ from the clips'
sole frames)."""

from __future__ import annotations

from typing import Sequence

import mujoco
import numpy as np

from awd.robot.model import kinematic_model, joint_qpos_addresses
from awd.robot.spec import RobotSpec


class BodyPositions:
    """World positions of `bodies` of the spec's MJCF by MuJoCo kinematics, one frame at a time."""

    def __init__(self, spec: RobotSpec, bodies: Sequence[str]):
        self.model = kinematic_model(spec)
        self.data = mujoco.MjData(self.model)
        self.addresses = joint_qpos_addresses(self.model, spec)
        self.body_ids = [self.model.body(name).id for name in bodies]
        free = int(np.flatnonzero(self.model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
        self.root_address = self.model.jnt_qposadr[free]  # the floating base's qpos: position, then w, x, y, z

    def __call__(self, root_pos: np.ndarray, root_quat_xyzw: np.ndarray, joint_pos: np.ndarray) -> np.ndarray:
        """(T, B, 3) positions for root positions (T, 3), root quaternions (T, 4) x, y, z, w and joint angles
        (T, n) in spec order."""
        model, data, root = self.model, self.data, self.root_address
        positions = np.zeros((len(root_pos), len(self.body_ids), 3))
        for frame, (pos, quat, joints) in enumerate(zip(root_pos, root_quat_xyzw, joint_pos)):
            data.qpos[root:root + 3] = pos
            data.qpos[root + 3:root + 7] = (quat[3], quat[0], quat[1], quat[2])
            data.qpos[self.addresses] = joints
            mujoco.mj_kinematics(model, data)
            positions[frame] = data.xpos[self.body_ids]
        return positions

