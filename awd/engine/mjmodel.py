"""The MuJoCo model both MuJoCo engines (CPU and Warp) simulate: the robot model of awd.robot.model plus the
sensors an engine reads (per-foot contact with the floor, any robot contact with the floor, tracked body
positions; sensors of the MJCF itself are dropped), and checks of the layout the engines rely on."""

from __future__ import annotations

from typing import Sequence

import mujoco

from awd.errors import AwdError
from awd.robot.model import build_model_spec
from awd.robot.spec import RobotSpec

_FOUND, _FORCE = 1, 2                      # contact sensor data bits: found count, force
_REDUCE_MINDIST, _REDUCE_NETFORCE = 1, 3   # contact sensor reductions


def build_engine_model(spec: RobotSpec, tracked_bodies: Sequence[str]) -> tuple[mujoco.MjModel, dict]:
    """The simulation model of awd.robot.model plus the sensors the engine reads; returns the model and
    the sensordata slices: left/right foot [found, fx, fy, fz], robot-vs-floor found, tracked positions."""
    model_spec = build_model_spec(spec)
    for sensor in list(model_spec.sensors):
        model_spec.delete(sensor)
    floor = _floor_geom(model_spec)
    root = _root_body(spec)
    layout, offset = {}, 0
    for key, body in (("left_foot", spec.foot_bodies[0]), ("right_foot", spec.foot_bodies[1])):
        _add_contact_sensor(model_spec, body, floor, _FOUND | _FORCE, _REDUCE_NETFORCE)
        layout[key] = slice(offset, offset + 4)
        offset += 4
    _add_contact_sensor(model_spec, root, floor, _FOUND, _REDUCE_MINDIST)
    layout["robot_found"] = offset
    offset += 1
    for body in tracked_bodies:
        sensor = model_spec.add_sensor()
        sensor.type = mujoco.mjtSensor.mjSENS_FRAMEPOS
        sensor.objtype = mujoco.mjtObj.mjOBJ_XBODY
        sensor.objname = body
    layout["body_pos"] = slice(offset, offset + 3 * len(tracked_bodies))
    model = model_spec.compile()
    if model.nsensordata != offset + 3 * len(tracked_bodies):
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
