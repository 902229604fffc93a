"""MJCF -> URDF conversion, so that the MJCF stays the one source of truth and Placo (which reads URDF) sees
the same kinematics. Every MJCF body becomes a URDF link of the same name, every hinge a revolute joint,
every welded body a fixed joint; the free root body becomes the URDF's root link. Capsules become
cylinders (URDF has no capsule); inertias are copied exactly. Placo's walk looks for frames named `trunk`,
`left_foot` and `right_foot` (PLACO_FRAMES): where the spec's trunk or foot body has another name (or the trunk
is a site), a massless link of that name is welded onto it (at the site)."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from awd.errors import AwdError
from awd.robot.model import kinematic_model
from awd.robot.spec import RobotSpec
from awd.utils.io import atomic_open


PLACO_FRAMES = ("trunk", "left_foot", "right_foot")


def mjcf_to_urdf(spec: RobotSpec, velocity_limit: float = 10.0) -> str:
    model = kinematic_model(spec)
    robot = ET.Element("robot", name=spec.name)
    robot.append(ET.Comment(f" generated from {spec.mjcf_path.name} by tools/mjcf_to_urdf.py; do not edit "))
    efforts = dict(zip(spec.joint_names, spec.effort_limit))
    for body in range(1, model.nbody):
        robot.append(_link(model, body))
        if model.body_parentid[body] != 0:
            robot.append(_joint(spec, model, body, efforts, velocity_limit))
    for element in _placo_frames(spec, model):
        robot.append(element)
    ET.indent(robot)
    return ET.tostring(robot, encoding="unicode") + "\n"


def write_urdf(spec: RobotSpec) -> None:
    if spec.urdf_path is None:
        raise AwdError(spec.spec_path, "urdf", "expected a URDF file name to write")
    with atomic_open(spec.urdf_path) as stream:
        stream.write('<?xml version="1.0"?>\n' + mjcf_to_urdf(spec))


def _origin(parent: ET.Element, pos, quat_wxyz) -> None:
    with warnings.catch_warnings():  # at gimbal lock scipy still returns angles of the same rotation
        warnings.simplefilter("ignore", UserWarning)
        rpy = Rotation.from_quat(np.roll(quat_wxyz, -1)).as_euler("xyz")
    ET.SubElement(parent, "origin", xyz=_fmt(pos), rpy=_fmt(rpy))


def _link(model: mujoco.MjModel, body: int) -> ET.Element:
    link = ET.Element("link", name=model.body(body).name)
    inertial = ET.SubElement(link, "inertial")
    _origin(inertial, model.body_ipos[body], model.body_iquat[body])
    ET.SubElement(inertial, "mass", value=f"{model.body_mass[body]:.9g}")
    ixx, iyy, izz = model.body_inertia[body]
    ET.SubElement(inertial, "inertia", ixx=f"{ixx:.9g}", iyy=f"{iyy:.9g}", izz=f"{izz:.9g}", ixy="0", ixz="0", iyz="0")
    for geom in np.flatnonzero(model.geom_bodyid == body):
        shape = _geometry(model, geom)
        if shape is None:
            continue
        tag = "collision" if model.geom_contype[geom] or model.geom_conaffinity[geom] else "visual"
        element = ET.SubElement(link, tag)
        _origin(element, model.geom_pos[geom], model.geom_quat[geom])
        ET.SubElement(ET.SubElement(element, "geometry"), shape[0], **shape[1])
    return link


def _geometry(model: mujoco.MjModel, geom: int):
    size = model.geom_size[geom]
    kind = int(model.geom_type[geom])  # a plain int: `np.int32 in (enum, ...)` is always False
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        return "box", {"size": _fmt(2 * size)}
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return "sphere", {"radius": f"{size[0]:.9g}"}
    if kind in (mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_CYLINDER):
        return "cylinder", {"radius": f"{size[0]:.9g}", "length": f"{2 * size[1]:.9g}"}
    return None


def _joint(spec: RobotSpec, model: mujoco.MjModel, body: int, efforts: dict, velocity_limit: float) -> ET.Element:
    name = model.body(body).name
    parent = model.body(model.body_parentid[body]).name
    count = model.body_jntnum[body]
    if count == 0:
        joint = ET.Element("joint", name=f"{name}_fixed", type="fixed")
    else:
        index = model.body_jntadr[body]
        if count > 1 or model.jnt_type[index] != mujoco.mjtJoint.mjJNT_HINGE:
            raise AwdError(spec.mjcf_path, f"body {name}", "expected at most one hinge joint per body")
        if np.any(model.jnt_pos[index] != 0):
            raise AwdError(spec.mjcf_path, f"joint {model.joint(index).name}",
                           "expected pos 0 (body frame on the joint axis)")
        joint_name = model.joint(index).name
        joint = ET.Element("joint", name=joint_name, type="revolute")
        ET.SubElement(joint, "axis", xyz=_fmt(model.jnt_axis[index]))
        low, high = model.jnt_range[index]
        ET.SubElement(joint, "limit", lower=f"{low:.9g}", upper=f"{high:.9g}",
                      effort=f"{efforts.get(joint_name, 0.0):.9g}", velocity=f"{velocity_limit:.9g}")
    _origin(joint, model.body_pos[body], model.body_quat[body])
    ET.SubElement(joint, "parent", link=parent)
    ET.SubElement(joint, "child", link=name)
    return joint


def _placo_frames(spec: RobotSpec, model: mujoco.MjModel) -> list[ET.Element]:
    """A massless link welded onto each spec body whose name is not the frame name Placo expects."""
    bodies = [model.body(b).name for b in range(model.nbody)]
    elements = []
    sites = {PLACO_FRAMES[0]: spec.trunk_site}
    for frame, body, field in zip(PLACO_FRAMES, (spec.trunk_body, *spec.foot_bodies), ("bodies.trunk", "bodies.feet",
                                                                                     "bodies.feet")):
        site = sites.get(frame)
        if not site and (frame == body or (frame in bodies and _welded_on(model, model.body(frame).id, body))):
            continue
        if frame in bodies:
            raise AwdError(spec.spec_path, field, f"Placo needs the frame {frame!r} on body {body!r}, but another "
                           f"MJCF body is named {frame!r}; rename that body")
        elements.append(ET.Element("link", name=frame))
        joint = ET.Element("joint", name=f"{frame}_frame", type="fixed")
        pose = (model.site(site).pos, model.site(site).quat) if site else (np.zeros(3), np.array([1.0, 0, 0, 0]))
        _origin(joint, *pose)
        ET.SubElement(joint, "parent", link=body)
        ET.SubElement(joint, "child", link=frame)
        elements.append(joint)
    return elements


def _welded_on(model: mujoco.MjModel, child: int, body: str) -> bool:
    """`child` is a joint-less body at the frame of `body`, its parent."""
    return (model.body(model.body_parentid[child]).name == body and model.body_jntnum[child] == 0
            and np.allclose(model.body_pos[child], 0) and np.allclose(model.body_quat[child], [1, 0, 0, 0]))


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)
