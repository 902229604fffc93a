"""The robot's standing pose from its walk parameters (CLI: tools/robot_setup.py): Placo's initial walking pose
(feet `feet_spacing` apart, the centre of mass at `walk_com_height`, the trunk pitched `walk_trunk_pitch`), solved
from the leg joints at the middle of their ranges (a straight leg is singular for the IK), gives the joint angles
and the root orientation; MuJoCo kinematics of the spec's model put the feet's lowest collision
geometry on the floor, which gives the root height. Checked: joints inside their ranges, soles flat.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import mujoco
import numpy as np

from awd.robot.spec import RobotSpec

FLAT_TOLERANCE_DEG = 2.0


@dataclass(frozen=True)
class StandingPose:
    joint_pos: np.ndarray  # spec joint order
    root_height: float  # of the free-joint body (m)
    root_quat: np.ndarray  # x, y, z, w
    sole_tilt_deg: tuple[float, float]  # each foot body's tilt from horizontal
    at_limits: tuple[str, ...]  # joints within 1 mrad of a range bound


def standing_pose(spec: RobotSpec, params) -> StandingPose:
    from awd.gait.engine import WalkCommand, WalkEngine
    from awd.robot.model import default_qpos, kinematic_model
    from awd.robot.bodies import lowest_foot_point

    legs = [name not in params.joint_angles for name in spec.joint_names]
    seed = np.where(legs, (spec.joint_lower + spec.joint_upper) / 2, spec.default_joint_pos)  # away from straight,
    seeded = dataclasses.replace(spec, default_joint_pos=seed)                                 # singular legs
    clip = WalkEngine(seeded, params).generate(WalkCommand(0.0, 0.0, 0.0), 0.02, 50.0, stand=True).clip
    joints, quat = clip.joint_pos[0], clip.root_quat[0]
    model = kinematic_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, dataclasses.replace(spec, init_root_height=0.0, init_root_quat=quat,
                                                           default_joint_pos=joints))
    mujoco.mj_kinematics(model, data)
    tilts = tuple(float(np.degrees(np.arccos(np.clip(data.xmat[model.body(name).id, 8], -1.0, 1.0))))
                  for name in spec.foot_bodies)
    pinned = (joints <= spec.joint_lower + 1e-3) | (joints >= spec.joint_upper - 1e-3)
    return StandingPose(joints, -lowest_foot_point(model, data, spec), quat, tilts,
                        tuple(name for name, at in zip(spec.joint_names, pinned) if at))


def problems(pose: StandingPose) -> list[str]:
    """What makes the pose unfit to stand on (empty: fit)."""
    found = [f"joint {name} at its range limit" for name in pose.at_limits]
    found += [f"{side} sole tilted {tilt:.1f} deg (more than {FLAT_TOLERANCE_DEG:g})"
              for side, tilt in zip(("left", "right"), pose.sole_tilt_deg) if tilt > FLAT_TOLERANCE_DEG]
    return found
