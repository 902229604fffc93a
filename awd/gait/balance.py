"""Is a clip balanced? In single support a flat sole pushes on the floor only through a centre of pressure inside its
footprint. Inverse dynamics (awd.gait.feasibility) gives the wrench the stance foot must take from the floor; the
centre of pressure is where that wrench has no horizontal moment on the floor plane. How far it lies outside the
sole is a grip on the floor that no robot has: a walk-pattern generator's inverted pendulum balances the centre of
mass but not the angular momentum of swinging limbs, which a heavy humanoid's legs and arms carry.

The footprint of each foot is the collision geometry of its contact body seen from above (the corners of each
geom's bounding box within `SOLE_THICKNESS` of the lowest one, at the default pose), in the foot frame's x and y.
"""

from __future__ import annotations

import mujoco
import numpy as np

from awd.robot.bodies import collision_corners
from awd.robot.model import default_qpos

SOLE_THICKNESS = 0.005  # m: corners this close to a foot's lowest one make its sole


def sole_footprints(model: mujoco.MjModel, spec) -> np.ndarray:
    """(2, 2, 2): per foot, [min, max] of [x, y] of its sole in the frame of `spec.foot_bodies[foot]`."""
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    mujoco.mj_kinematics(model, data)
    footprints = []
    for frame, contact in zip(spec.foot_bodies, spec.foot_contact_bodies):
        frame_id = model.body(frame).id
        points = collision_corners(model, data, model.body(contact).id)  # the spec holds geoms for each (bodies.py)
        sole = points[points[:, 2] <= points[:, 2].min() + SOLE_THICKNESS]
        local = (sole - data.xpos[frame_id]) @ data.xmat[frame_id].reshape(3, 3)
        footprints.append([local[:, :2].min(axis=0), local[:, :2].max(axis=0)])
    return np.array(footprints)


def centre_of_pressure(wrench: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(2,) the floor point (z = 0) about which `wrench` (force, torque about `origin`, world frame) has no
    horizontal moment."""
    force, torque = wrench[:3], wrench[3:]
    return np.array([origin[0] - (torque[1] + origin[2] * force[0]) / force[2],
                     origin[1] + (torque[0] - origin[2] * force[1]) / force[2]])


def outside_sole(point: np.ndarray, frame_pos: np.ndarray, frame_rot: np.ndarray, footprint: np.ndarray) -> float:
    """How far (m) the floor `point` lies outside `footprint` ([min, max] of x, y in the foot frame at `frame_pos`,
    rotation `frame_rot`); 0 inside."""
    local = (np.append(point, 0.0) - frame_pos) @ frame_rot
    gap = np.maximum(footprint[0] - local[:2], 0.0) + np.maximum(local[:2] - footprint[1], 0.0)
    return float(np.hypot(*gap))
