"""The MuJoCo model both MuJoCo engines (CPU and Warp) simulate: the robot model of awd.robot.model plus the
sensors an engine reads (sensors of the MJCF itself are dropped), and checks of the layout the engines rely on.

Position-stage sensors (computed from kinematics and collision alone, no constraint solve): per-foot and
robot contact counts with the floor, tracked body positions. Acceleration-stage sensors: the net contact
force of the floor on each foot."""

from __future__ import annotations

from typing import Sequence

import mujoco

from awd.errors import AwdError
from awd.robot.model import build_model_spec
from awd.robot.spec import RobotSpec

_FOUND, _FORCE = 1, 2          # contact sensor data bits: found count, force
_REDUCE_NONE, _REDUCE_NETFORCE = 0, 3   # contact sensor reductions (found counts every match either way)


def build_engine_model(spec: RobotSpec, tracked_bodies: Sequence[str]) -> tuple[mujoco.MjModel, dict]:
    """The simulation model of awd.robot.model plus the sensors the engine reads; returns the model and
    the sensordata layout: foot_found (left, right contact counts), robot_found, foot_force (left xyz,
    right xyz, world frame, force of the robot on the floor), body_pos (tracked positions, xyz each)."""
    model_spec = build_model_spec(spec)
    for sensor in list(model_spec.sensors):
        model_spec.delete(sensor)
    floor = _floor_geom(model_spec)
    feet = spec.foot_contact_bodies
    for body in (*feet, _root_body(spec)):
        _add_contact_sensor(model_spec, body, floor, _FOUND, _REDUCE_NONE)
    for body in feet:
        _add_contact_sensor(model_spec, body, floor, _FORCE, _REDUCE_NETFORCE)
    for body in tracked_bodies:
        sensor = model_spec.add_sensor()
        sensor.type = mujoco.mjtSensor.mjSENS_FRAMEPOS
        sensor.objtype = mujoco.mjtObj.mjOBJ_XBODY
        sensor.objname = body
    layout = {"foot_found": slice(0, 2), "robot_found": 2, "foot_force": slice(3, 9),
              "body_pos": slice(9, 9 + 3 * len(tracked_bodies))}
    model = model_spec.compile()
    if model.nsensordata != layout["body_pos"].stop:
        raise RuntimeError(f"unexpected sensor layout: nsensordata {model.nsensordata}")
    return model, layout


def _floor_geom(model_spec: mujoco.MjSpec) -> str:
    planes = [g for g in model_spec.worldbody.geoms if g.type == mujoco.mjtGeom.mjGEOM_PLANE]
    if not planes:
        raise AwdError(None, "model", "expected a floor (plane geom) in the world body")
    if not planes[0].name:
        planes[0].name = "floor"
    return planes[0].name


def _root_body(spec: RobotSpec) -> str:
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    return model.body(model.body_rootid[model.body(spec.trunk_body).id]).name


def _add_contact_sensor(model_spec, body: str, floor: str, data_bits: int, reduce: int) -> None:
    sensor = model_spec.add_sensor()
    sensor.type = mujoco.mjtSensor.mjSENS_CONTACT
    sensor.objtype = mujoco.mjtObj.mjOBJ_XBODY   # XBODY = the body's subtree
    sensor.objname = body
    sensor.reftype = mujoco.mjtObj.mjOBJ_GEOM
    sensor.refname = floor
    sensor.intprm[0] = data_bits
    sensor.intprm[1] = reduce
    sensor.intprm[2] = 1


def check_actuator_order(model: mujoco.MjModel, spec: RobotSpec) -> None:
    joints = [model.joint(model.actuator_trnid[a, 0]).name for a in range(model.nu)]
    if joints != list(spec.joint_names):
        raise RuntimeError(f"actuators {joints} are not in spec joint order {list(spec.joint_names)}")


def check_tracked_bodies(spec: RobotSpec, tracked_bodies: Sequence[str]) -> None:
    base_model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    for body in tracked_bodies:
        if mujoco.mj_name2id(base_model, mujoco.mjtObj.mjOBJ_BODY, body) < 0:
            raise AwdError(spec.spec_path, "tracked_bodies", f"no body named {body!r} in {spec.mjcf_path.name}")
