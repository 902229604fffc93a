"""Write the Unitree G1 models awd ships from the table of public facts below, then their URDFs (for Placo):
`python tools/make_g1.py` writes awd/data/assets/g1/g1.xml (29 DOF) and awd/data/assets/g1_23dof/g1_23dof.xml
(23 DOF), and the two .urdf files next to them; `--check` only reports whether the committed files are current.

Facts (public G1 29-DOF rev 1.0 description, as published by Unitree and in MuJoCo Menagerie): body offsets
and orientations, joint axes and ranges, link masses, centres of mass, principal inertias (with their axes)
and rotor armatures. Ours: the collision shapes (capsules, spheres, box feet; no meshes), the `trunk`,
`left_foot`/`right_foot` (sole centres), `head` and `left_hand`/`right_hand` frames, joint friction, and the
23-DOF variant, which is the 29-DOF body with the waist roll/pitch and wrist pitch/yaw joints locked at 0
(welded), as on the 23-DOF G1. The right side is the mirror image of the left (y -> -y).

Collision filtering (contype / conaffinity): the floor is (1, 1); feet are (2, 3) and touch the floor, the
other foot and the leg segments; thighs and shins are (2, 1) and touch the floor and the feet; everything
else is (0, 1) and touches only the floor. Self-collision is limited to the legs, which is all walking needs.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python tools/make_g1.py` from a checkout
    sys.path.insert(0, str(ROOT))

ASSETS = ROOT / "awd" / "data" / "assets"
LOCKED_IN_23DOF = ("waist_roll_joint", "waist_pitch_joint", "left_wrist_pitch_joint", "left_wrist_yaw_joint",
                   "right_wrist_pitch_joint", "right_wrist_yaw_joint")
STANDING_PELVIS_HEIGHT = 0.793  # legs straight, soles on the floor
JOINT_FRICTION = 0.1            # N m


@dataclass(frozen=True)
class Joint:
    name: str
    axis: str                      # "x", "y" or "z" of the body frame
    range: tuple[float, float]     # rad
    armature: float                # kg m^2, reflected rotor inertia


@dataclass(frozen=True)
class Inertial:
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float]   # w, x, y, z: principal axes
    mass: float
    diag: tuple[float, float, float]


@dataclass(frozen=True)
class Geom:
    kind: str                      # capsule, sphere, box
    group: str                     # foot, leg, body (collision class)
    fromto: tuple[float, ...] | None = None
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    size: tuple[float, ...] = ()


@dataclass(frozen=True)
class Link:
    name: str
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] | None = None
    joint: Joint | None = None
    inertial: Inertial | None = None
    geoms: tuple[Geom, ...] = ()
    children: tuple["Link", ...] = field(default=())


# Rotor armature of the G1's actuators (kg m^2): 7520-14, 7520-22, two 5020 in parallel, 5020, 4010.
ARM_7520_14, ARM_7520_22, ARM_5020X2, ARM_5020, ARM_4010 = 0.01018, 0.02510, 0.00722, 0.00361, 0.00425


def left_leg() -> Link:
    foot = Link("left_foot", pos=(0.035, 0.0, -0.035), geoms=(
        Geom("box", "foot", pos=(0.0, 0.0, 0.0125), size=(0.09, 0.035, 0.0125)),))
    ankle_roll = Link(
        "left_ankle_roll_link", pos=(0.0, 0.0, -0.017558),
        joint=Joint("left_ankle_roll_joint", "x", (-0.2618, 0.2618), ARM_5020X2),
        inertial=Inertial((0.026505, 0.0, -0.016425), (-0.000481092, 0.728482, -0.000618967, 0.685065), 0.608,
                          (0.00167218, 0.0016161, 0.000217621)),
        children=(foot,))
    ankle_pitch = Link(
        "left_ankle_pitch_link", pos=(0.0, -9.4445e-05, -0.30001),
        joint=Joint("left_ankle_pitch_joint", "y", (-0.87267, 0.5236), ARM_5020X2),
        inertial=Inertial((-0.007269, 0.0, 0.011137), (0.603053, 0.369225, 0.369225, 0.603053), 0.074,
                          (1.89e-05, 1.40805e-05, 6.9195e-06)),
        children=(ankle_roll,))
    knee = Link(
        "left_knee_link", pos=(-0.078273, 0.0021489, -0.17734), quat=(0.996179, 0.0, 0.0873386, 0.0),
        joint=Joint("left_knee_joint", "y", (-0.087267, 2.8798), ARM_7520_22),
        inertial=Inertial((0.005457, 0.003964, -0.12074), (0.923418, -0.0327699, 0.0158246, 0.382067), 1.932,
                          (0.0113804, 0.0112778, 0.00146458)),
        geoms=(Geom("capsule", "leg", fromto=(0.01, 0.0, -0.03, 0.01, 0.0, -0.24), size=(0.045,)),),
        children=(ankle_pitch,))
    hip_yaw = Link(
        "left_hip_yaw_link", pos=(0.025001, 0.0, -0.12412),
        joint=Joint("left_hip_yaw_joint", "z", (-2.7576, 2.7576), ARM_7520_14),
        inertial=Inertial((-0.057709, -0.010981, -0.15078), (0.600598, 0.15832, 0.223482, 0.751181), 1.702,
                          (0.00776166, 0.00717575, 0.00160139)),
        geoms=(Geom("capsule", "leg", fromto=(0.0, 0.0, -0.03, -0.06, 0.0, -0.16), size=(0.05,)),),
        children=(knee,))
    hip_roll = Link(
        "left_hip_roll_link", pos=(0.0, 0.052, -0.030465), quat=(0.996179, 0.0, -0.0873386, 0.0),
        joint=Joint("left_hip_roll_joint", "x", (-0.5236, 2.9671), ARM_7520_22),
        inertial=Inertial((0.029812, -0.001045, -0.087934), (0.977808, -1.97119e-05, 0.205576, -0.0403793), 1.52,
                          (0.00254986, 0.00241169, 0.00148755)),
        children=(hip_yaw,))
    return Link(
        "left_hip_pitch_link", pos=(0.0, 0.064452, -0.1027),
        joint=Joint("left_hip_pitch_joint", "y", (-2.5307, 2.8798), ARM_7520_14),
        inertial=Inertial((0.002741, 0.047791, -0.02606), (0.954862, 0.293964, 0.0302556, 0.030122), 1.35,
                          (0.00181517, 0.00153422, 0.00116212)),
        children=(hip_roll,))


def left_arm() -> Link:
    hand = Link("left_hand", pos=(0.08, 0.0, 0.0), geoms=(Geom("sphere", "body", size=(0.035,)),))
    wrist_yaw = Link(
        "left_wrist_yaw_link", pos=(0.046, 0.0, 0.0),
        joint=Joint("left_wrist_yaw_joint", "z", (-1.61443, 1.61443), ARM_4010),
        inertial=Inertial((0.0708244, 0.000191745, 0.00161742), (0.510571, 0.526295, 0.468078, 0.493188), 0.254576,
                          (0.000646113, 0.000559993, 0.000147566)),
        children=(hand,))
    wrist_pitch = Link(
        "left_wrist_pitch_link", pos=(0.038, 0.0, 0.0),
        joint=Joint("left_wrist_pitch_joint", "y", (-1.61443, 1.61443), ARM_4010),
        inertial=Inertial((0.0229999, -0.00111685, -0.00111658), (0.249998, 0.661363, 0.293036, 0.643608), 0.48405,
                          (0.000430353, 0.000429873, 0.000164648)),
        children=(wrist_yaw,))
    wrist_roll = Link(
        "left_wrist_roll_link", pos=(0.1, 0.00188791, -0.01),
        joint=Joint("left_wrist_roll_joint", "x", (-1.97222, 1.97222), ARM_5020),
        inertial=Inertial((0.0171394, 0.000537591, 4.8864e-07), (0.575338, 0.411667, -0.574906, 0.411094), 0.085445,
                          (5.48211e-05, 4.96646e-05, 3.57798e-05)),
        children=(wrist_pitch,))
    elbow = Link(
        "left_elbow_link", pos=(0.015783, 0.0, -0.080518),
        joint=Joint("left_elbow_joint", "y", (-1.0472, 2.0944), ARM_5020),
        inertial=Inertial((0.064956, 0.004454, -0.010062), (0.541765, 0.636132, 0.388821, 0.388129), 0.6,
                          (0.000443035, 0.000421612, 0.000259353)),
        geoms=(Geom("capsule", "body", fromto=(0.01, 0.0, -0.01, 0.09, 0.0, -0.01), size=(0.03,)),),
        children=(wrist_roll,))
    shoulder_yaw = Link(
        "left_shoulder_yaw_link", pos=(0.0, 0.00624, -0.1032),
        joint=Joint("left_shoulder_yaw_joint", "z", (-2.618, 2.618), ARM_5020),
        inertial=Inertial((0.010773, -0.002949, -0.072009), (0.716879, -0.0964829, -0.0679942, 0.687134), 0.734,
                          (0.00106187, 0.00103217, 0.000400661)),
        geoms=(Geom("capsule", "body", fromto=(0.0, 0.0, 0.02, 0.01, 0.0, -0.06), size=(0.035,)),),
        children=(elbow,))
    shoulder_roll = Link(
        "left_shoulder_roll_link", pos=(0.0, 0.038, -0.013831), quat=(0.990268, -0.139172, 0.0, 0.0),
        joint=Joint("left_shoulder_roll_joint", "x", (-1.5882, 2.2515), ARM_5020),
        inertial=Inertial((-0.000227, 0.00727, -0.063243), (0.701256, -0.0196223, -0.00710317, 0.712604), 0.643,
                          (0.000691311, 0.000618011, 0.000388977)),
        children=(shoulder_yaw,))
    return Link(
        "left_shoulder_pitch_link", pos=(0.0039563, 0.10022, 0.24778),
        quat=(0.990264, 0.139201, 1.38722e-05, -9.86868e-05),
        joint=Joint("left_shoulder_pitch_joint", "y", (-3.0892, 2.6704), ARM_5020),
        inertial=Inertial((0.0, 0.035892, -0.011628), (0.654152, 0.0130458, -0.326267, 0.68225), 0.718,
                          (0.000465864, 0.000432842, 0.000406394)),
        children=(shoulder_roll,))


def waist_and_torso() -> Link:
    head = Link("head", pos=(0.0, 0.0, 0.43), geoms=(Geom("sphere", "body", size=(0.06,)),))
    torso = Link(
        "torso_link",
        joint=Joint("waist_pitch_joint", "y", (-0.52, 0.52), ARM_5020X2),
        inertial=Inertial((0.00203158, 0.000339683, 0.184568), (0.999803, -6.03319e-05, 0.0198256, 0.00131986),
                          7.818, (0.121847, 0.109825, 0.0273735)),
        geoms=(Geom("capsule", "body", fromto=(0.0, 0.0, 0.06, 0.0, 0.0, 0.22), size=(0.1,)),),
        children=(head, left_arm(), mirror(left_arm())))
    roll = Link(
        "waist_roll_link", pos=(-0.0039635, 0.0, 0.044),
        joint=Joint("waist_roll_joint", "x", (-0.52, 0.52), ARM_5020X2),
        inertial=Inertial((0.0, 2.3e-05, 0.0), (0.5, 0.5, -0.5, 0.5), 0.086, (8.245e-06, 7.079e-06, 6.339e-06)),
        children=(torso,))
    return Link(
        "waist_yaw_link",
        joint=Joint("waist_yaw_joint", "z", (-2.618, 2.618), ARM_7520_14),
        inertial=Inertial((0.003494, 0.000233, 0.018034), (0.289697, 0.591001, -0.337795, 0.672821), 0.214,
                          (0.000163531, 0.000107714, 0.000102205)),
        children=(roll,))


def pelvis() -> Link:
    return Link(
        "pelvis", pos=(0.0, 0.0, STANDING_PELVIS_HEIGHT),
        inertial=Inertial((0.0, 0.0, -0.07605), (1.0, 0.0, -0.000399148, 0.0), 3.813, (0.010549, 0.0093089, 0.0079184)),
        geoms=(Geom("capsule", "body", fromto=(0.0, -0.05, -0.07, 0.0, 0.05, -0.07), size=(0.065,)),),
        children=(Link("trunk"), left_leg(), mirror(left_leg()), waist_and_torso()))


# ------------------------------------------------------------------------------------------------ mirror


def _flip(v: tuple[float, ...]) -> tuple[float, ...]:
    """Mirror points (x, y, z) or fromto pairs through the x-z plane."""
    return tuple(-c if i % 3 == 1 else c for i, c in enumerate(v))


def _flip_quat(q):
    """The mirror image M R M of a rotation (M = diag(1, -1, 1)) as a quaternion w, x, y, z."""
    return None if q is None else (q[0], -q[1], q[2], -q[3])


def mirror(link: Link) -> Link:
    """The right-side copy of a left-side chain."""
    joint = link.joint
    if joint is not None:
        low, high = joint.range
        flipped = (-high, -low) if joint.axis in ("x", "z") else (low, high)
        joint = replace(joint, name=joint.name.replace("left_", "right_"), range=flipped)
    inertial = link.inertial
    if inertial is not None:
        inertial = replace(inertial, pos=_flip(inertial.pos), quat=_flip_quat(inertial.quat))
    geoms = tuple(replace(g, pos=_flip(g.pos), fromto=_flip(g.fromto) if g.fromto else None) for g in link.geoms)
    return Link(link.name.replace("left_", "right_"), _flip(link.pos), _flip_quat(link.quat), joint, inertial, geoms,
                tuple(mirror(child) for child in link.children))


def lock(link: Link, joints: tuple[str, ...]) -> Link:
    """The chain with the named joints removed (their bodies welded at joint angle 0)."""
    joint = None if link.joint is not None and link.joint.name in joints else link.joint
    return replace(link, joint=joint, children=tuple(lock(child, joints) for child in link.children))


# ------------------------------------------------------------------------------------------------ MJCF

GEOM_CLASSES = {"foot": ("2", "3"), "leg": ("2", "1"), "body": ("0", "1")}   # contype, conaffinity


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _body(parent: ET.Element, link: Link) -> None:
    attributes = {"name": link.name}
    if any(link.pos):
        attributes["pos"] = _fmt(link.pos)
    if link.quat is not None:
        attributes["quat"] = _fmt(link.quat)
    body = ET.SubElement(parent, "body", attributes)
    if link.name == "pelvis":
        ET.SubElement(body, "freejoint", name="floating_base_joint")
    if link.inertial is not None:
        i = link.inertial
        ET.SubElement(body, "inertial", pos=_fmt(i.pos), quat=_fmt(i.quat), mass=f"{i.mass:.9g}",
                      diaginertia=_fmt(i.diag))
    if link.joint is not None:
        j = link.joint
        axis = {"x": "1 0 0", "y": "0 1 0", "z": "0 0 1"}[j.axis]
        ET.SubElement(body, "joint", name=j.name, axis=axis, range=_fmt(j.range), armature=f"{j.armature:.9g}")
    for geom in link.geoms:
        attributes = {"class": geom.group, "type": geom.kind, "size": _fmt(geom.size)}
        if geom.fromto is not None:
            attributes["fromto"] = _fmt(geom.fromto)
        elif any(geom.pos):
            attributes["pos"] = _fmt(geom.pos)
        ET.SubElement(body, "geom", attributes)
    for child in link.children:
        _body(body, child)


def mjcf(name: str, root: Link, dof: int) -> str:
    model = ET.Element("mujoco", model=name)
    ET.SubElement(model, "compiler", angle="radian", autolimits="true")
    ET.SubElement(model, "option", timestep="0.005", integrator="implicitfast")
    default = ET.SubElement(model, "default")
    ET.SubElement(default, "joint", type="hinge", frictionloss=f"{JOINT_FRICTION:g}", damping="0")
    ET.SubElement(default, "geom", contype="0", conaffinity="1", condim="3", density="0", friction="0.8 0.02 0.01",
                  rgba="0.7 0.7 0.72 1")
    for cls, (contype, conaffinity) in GEOM_CLASSES.items():
        extra = {"rgba": "0.2 0.2 0.2 1"} if cls == "foot" else {}
        ET.SubElement(ET.SubElement(default, "default", {"class": cls}), "geom", contype=contype,
                      conaffinity=conaffinity, **extra)
    _body(ET.SubElement(model, "worldbody"), root)
    ET.indent(model)
    header = (f"<!--\n  {name}: the Unitree G1 humanoid ({dof} DOF) for awd, generated by tools/make_g1.py (edit the "
              "table there, not this file).\n  Public G1 facts (offsets, joint ranges, masses, inertias, armatures); "
              "our simple collision shapes (no meshes).\n  Frames for Placo: trunk (= pelvis), left_foot/right_foot "
              "(sole centres). PD actuators come from robot.yaml at load.\n-->\n")
    return header + ET.tostring(model, encoding="unicode") + "\n"


def variants() -> dict[Path, str]:
    """{path: MJCF text} of the shipped models."""
    body = pelvis()
    return {ASSETS / "g1" / "g1.xml": mjcf("g1", body, 29),
            ASSETS / "g1_23dof" / "g1_23dof.xml": mjcf("g1_23dof", lock(body, LOCKED_IN_23DOF), 23)}


def main() -> int:
    from awd.errors import exit_on_error
    from awd.robot import load_robot_spec
    from awd.robot.urdf import mjcf_to_urdf, write_urdf
    from awd.utils.io import atomic_open

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the committed files are current")
    args = parser.parse_args()
    stale = []
    with exit_on_error():
        for path, text in variants().items():
            if args.check:
                spec = load_robot_spec(path.parent / "robot.yaml")
                urdf = '<?xml version="1.0"?>\n' + mjcf_to_urdf(spec)
                current = path.read_text() == text and spec.urdf_path.read_text() == urdf
                stale += [] if current else [str(path)]
                continue
            with atomic_open(path) as stream:
                stream.write(text)
            write_urdf(load_robot_spec(path.parent / "robot.yaml"))
            print(f"wrote {path} and its URDF")
    if stale:
        print("out of date: " + ", ".join(stale))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
