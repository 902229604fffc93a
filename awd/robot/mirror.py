"""Left/right mirror of a robot's joints, derived from its MJCF: each joint's counterpart (its name with
left and right swapped; itself when the name says neither) and the sign that maps its angle onto the
counterpart's when the robot is reflected through its trunk's sagittal (x-z) plane.

A hinge axis is a pseudo-vector: reflected through the x-z plane, (ax, ay, az) becomes (-ax, ay, -az). The sign
is that reflected axis dotted with the counterpart's axis, both in the trunk frame at the default pose, and must
be +-1 (a robot whose counterpart axes are not mirror images has no mirror and the error names the joint).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mujoco
import numpy as np

from awd.errors import AwdError
from awd.robot.model import kinematic_model, default_qpos
from awd.robot.spec import RobotSpec

_SIDE = re.compile(r"(left|right|Left|Right|LEFT|RIGHT|(?<![A-Za-z])[lrLR](?=_))")
_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT",
         "l": "r", "r": "l", "L": "R", "R": "L"}


@dataclass(frozen=True)
class JointMirror:
    """mirrored[..., i] = signs[i] * q[..., perm[i]] for joint vectors (angles relative to a symmetric pose)."""

    perm: np.ndarray
    signs: np.ndarray

    def apply(self, q: np.ndarray) -> np.ndarray:
        return self.signs * np.asarray(q)[..., self.perm]


def counterpart_name(name: str) -> str:
    return _SIDE.sub(lambda match: _SWAP[match.group(0)], name)


def _axes_in_trunk_frame(spec: RobotSpec) -> np.ndarray:
    model = kinematic_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    mujoco.mj_kinematics(model, data)
    site = spec.trunk_site
    trunk = (data.site_xmat[model.site(site).id] if site else data.xmat[model.body(spec.trunk_body).id]).reshape(3, 3)
    return np.stack([trunk.T @ data.xaxis[model.joint(name).id] for name in spec.joint_names])


def joint_mirror(spec: RobotSpec) -> JointMirror:
    """The robot's joint mirror; AwdError naming the joint when a counterpart is missing or not its mirror image."""
    names = list(spec.joint_names)
    axes = _axes_in_trunk_frame(spec)
    reflect = np.array([-1.0, 1.0, -1.0])
    perm, signs = [], []
    for i, name in enumerate(names):
        other = counterpart_name(name)
        if other not in names:
            raise AwdError(spec.spec_path, f"joints.{name}", f"no counterpart {other!r} to mirror it onto")
        j = names.index(other)
        sign = float(np.dot(reflect * axes[j], axes[i]))
        if abs(abs(sign) - 1.0) > 0.05:
            raise AwdError(spec.mjcf_path, f"joint {name}", f"axis is not the mirror image of {other!r}'s "
                           f"(reflected dot product {sign:.2f}, expected +-1)")
        perm.append(j)
        signs.append(float(np.sign(sign)))
    return JointMirror(np.array(perm), np.array(signs))


def default_pose_asymmetry(spec: RobotSpec, mirror: JointMirror) -> float:
    """Largest |default - mirrored default| over the joints (rad): 0 for a symmetric default pose."""
    return float(np.max(np.abs(spec.default_joint_pos - mirror.apply(spec.default_joint_pos))))
