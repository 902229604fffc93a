"""Walk parameters for the Placo gait generator: the robot's `placo_defaults.json` merged with an optional
preset file, validated key by key (an unknown or ill-typed key is an AwdError naming the file and the key).

Units follow the historical preset format: lengths in metres, durations in seconds, `walk_trunk_pitch` and
`joint_angles` in degrees (converted to radians only when handed to Placo).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import mujoco

from awd.errors import AwdError, is_number
from awd.robot.spec import RobotSpec
from awd.utils.io import read_json

# key -> (kind, rule). kinds: float, int, bool. rules: positive, nonnegative, any, fraction.
PLACO_KEYS = {
    "double_support_ratio": ("float", "nonnegative"),
    "startend_double_support_ratio": ("float", "nonnegative"),
    "planned_timesteps": ("int", "positive"),
    "walk_com_height": ("float", "positive"),
    "walk_foot_height": ("float", "nonnegative"),
    "walk_trunk_pitch": ("float", "any"),  # degrees
    "walk_foot_rise_ratio": ("float", "fraction"),
    "single_support_duration": ("float", "positive"),
    "single_support_timesteps": ("int", "positive"),
    "foot_length": ("float", "positive"),
    "feet_spacing": ("float", "positive"),
    "zmp_margin": ("float", "nonnegative"),
    "foot_zmp_target_x": ("float", "any"),
    "foot_zmp_target_y": ("float", "any"),
    "walk_max_dtheta": ("float", "nonnegative"),
    "walk_max_dy": ("float", "nonnegative"),
    "walk_max_dx_forward": ("float", "nonnegative"),
    "walk_max_dx_backward": ("float", "nonnegative"),
}
# Keys of our engine (not HumanoidParameters fields) with their defaults; foot_width None = from the MJCF.
ENGINE_KEYS = {
    "foot_width": (("float", "positive"), None),
    "replan_timesteps": (("int", "positive"), 10),
    "trunk_mode": (("bool", "any"), False),
    "foot_roll_free": (("bool", "any"), True),   # the sole may roll (a leg without ankle roll needs it)
    "arm_swing_gain": (("float", "any"), 0.0),  # rad of shoulder swing per m of fore-aft foot separation
}
# Keys found in presets of the old tools: accepted and ignored (the command comes from the CLI instead).
LEGACY_IGNORED_KEYS = ("dx", "dy", "dtheta", "duration", "hardware", "preset_name", "joints")
JOINT_ANGLES_KEY = "joint_angles"
ARM_SWING_KEY = "arm_swing_joints"  # [left, right] shoulder joints swung against the legs
ALL_KEYS = (*PLACO_KEYS, *ENGINE_KEYS, JOINT_ANGLES_KEY, ARM_SWING_KEY, *LEGACY_IGNORED_KEYS)


@dataclass(frozen=True)
class WalkParams:
    """Validated walk parameters. `values` holds every PLACO_KEYS and ENGINE_KEYS entry (preset units);
    `joint_angles` maps every non-leg joint to its pinned angle in radians; `arm_swing_joints` names the
    (left, right) joints swung by `arm_swing_gain`, or is empty."""

    values: dict
    joint_angles: dict
    sources: tuple[str, ...] = field(default=())
    arm_swing_joints: tuple[str, ...] = ()

    def __getitem__(self, key):
        return self.values[key]

    @property
    def preset_name(self) -> str:
        return Path(self.sources[-1]).stem if self.sources else ""

    def single_support_duration(self) -> float:
        return float(self.values["single_support_duration"])

    def to_metadata(self) -> dict:
        """All parameters as written into a clip's `Placo` block (preset units, joint angles in degrees)."""
        data = dict(self.values)
        data[JOINT_ANGLES_KEY] = {name: round(math.degrees(value), 6) for name, value in self.joint_angles.items()}
        if self.arm_swing_joints:
            data[ARM_SWING_KEY] = list(self.arm_swing_joints)
        return data


def _check_value(source, key: str, value, kind: str, rule: str):
    if kind == "bool":
        if not isinstance(value, bool):
            raise AwdError(source, key, f"expected true or false, found {value!r}")
        return value
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise AwdError(source, key, f"expected an integer, found {value!r}")
    if not is_number(value):
        raise AwdError(source, key, f"expected a number, found {value!r}")
    if rule == "positive" and value <= 0:
        raise AwdError(source, key, f"expected a positive number, found {value!r}")
    if rule == "nonnegative" and value < 0:
        raise AwdError(source, key, f"expected a number >= 0, found {value!r}")
    if rule == "fraction" and not 0 <= value <= 0.5:
        raise AwdError(source, key, f"expected a number in [0, 0.5], found {value!r}")
    return int(value) if kind == "int" else float(value)


def _read_preset(path: Path) -> dict:
    document = read_json(path)
    if not isinstance(document, dict):
        raise AwdError(path, None, f"expected a JSON object of walk parameters, found {type(document).__name__}")
    for key in document:
        if key not in ALL_KEYS:
            raise AwdError(path, key, f"unknown walk parameter (expected one of {', '.join(ALL_KEYS)})")
    return document


def leg_joints(urdf_path: Path, foot_links) -> set[str]:
    """Names of the joints on the kinematic chains from the URDF root to the foot links."""
    root = ElementTree.parse(urdf_path).getroot()
    parent_joint = {}
    for joint in root.findall("joint"):
        parent_joint[joint.find("child").get("link")] = (joint.get("name"), joint.find("parent").get("link"))
    names = set()
    for link in foot_links:
        while link in parent_joint:
            name, link = parent_joint[link]
            names.add(name)
    return names


def foot_size_from_mjcf(spec: RobotSpec) -> tuple[float, float] | None:
    """(length, width) of the left foot's first box geom in the MJCF (on the foot body, else on its contact body), or
    None when there is none."""
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    for name in (spec.foot_bodies[0], spec.foot_contact_bodies[0]):
        body = model.body(name).id
        for geom in range(model.ngeom):
            if model.geom_bodyid[geom] == body and model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_BOX:
                size = model.geom_size[geom]
                return 2.0 * float(size[0]), 2.0 * float(size[1])
    return None


def load_walk_params(spec: RobotSpec, preset=None) -> WalkParams:
    """The robot's placo defaults overridden by `preset` (a JSON file of any subset of the keys)."""
    if spec.placo_defaults_path is None:
        raise AwdError(spec.spec_path, "placo_defaults",
                       "this robot has no placo_defaults.json; the gait generator needs one")
    layers = [(spec.placo_defaults_path, _read_preset(spec.placo_defaults_path))]
    if preset is not None:
        layers.append((Path(preset), _read_preset(Path(preset))))

    values, origin = {}, {}
    rules = {**PLACO_KEYS, **{key: rule for key, (rule, _) in ENGINE_KEYS.items()}}
    for key, (_, default) in ENGINE_KEYS.items():
        values[key] = default
    raw_angles, arm_swing = {}, None
    for path, document in layers:
        for key, value in document.items():
            if key in rules:
                values[key] = _check_value(path, key, value, *rules[key])
                origin[key] = path
            elif key == JOINT_ANGLES_KEY:
                if not isinstance(value, dict):
                    raise AwdError(path, key, f"expected a mapping of joint name to degrees, found {value!r}")
                for name, angle in value.items():
                    raw_angles[name] = (path, _check_value(path, f"{key}.{name}", angle, "float", "any"))
            elif key == ARM_SWING_KEY:
                arm_swing = (path, value)
    missing = [key for key in PLACO_KEYS if key not in values]
    if missing:
        raise AwdError(layers[-1][0], missing[0],
                       f"missing walk parameter (not in the preset nor in {spec.placo_defaults_path.name})")

    if values["foot_width"] is None:
        size = foot_size_from_mjcf(spec)
        values["foot_width"] = round(size[1], 6) if size else round(0.8 * values["feet_spacing"], 6)

    if spec.urdf_path is None or not spec.urdf_path.is_file():
        raise AwdError(spec.spec_path, "urdf", f"file not found: {spec.urdf_path}; generate it from the MJCF with "
                       "tools/robot_setup.py or tools/mjcf_to_urdf.py")
    legs = leg_joints(spec.urdf_path, spec.foot_bodies)
    joint_angles = {}
    for name, default in zip(spec.joint_names, spec.default_joint_pos):
        if name not in legs:
            joint_angles[name] = float(default)
    for name, (path, angle) in raw_angles.items():
        if name not in spec.joint_names:
            raise AwdError(path, f"{JOINT_ANGLES_KEY}.{name}",
                           f"unknown joint (robot joints: {', '.join(spec.joint_names)})")
        if name in legs:
            raise AwdError(path, f"{JOINT_ANGLES_KEY}.{name}", "is a leg joint (set by the walk IK); only non-leg "
                           f"joints can be pinned: {', '.join(joint_angles)}")
        joint_angles[name] = math.radians(angle)
    swing = _arm_swing_joints(arm_swing, spec, legs) if arm_swing else ()
    return WalkParams(values=values, joint_angles=joint_angles, sources=tuple(str(p) for p, _ in layers),
                      arm_swing_joints=swing)


def _arm_swing_joints(entry: tuple, spec: RobotSpec, legs: set[str]) -> tuple[str, str]:
    """The validated [left, right] joint names of `arm_swing_joints` (non-leg joints of the robot)."""
    path, value = entry
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(name, str) for name in value)):
        raise AwdError(path, ARM_SWING_KEY, f"expected a list of two joint names [left, right], found {value!r}")
    for name in value:
        if name not in spec.joint_names or name in legs:
            raise AwdError(path, ARM_SWING_KEY, f"{name!r} is not a non-leg joint of the robot "
                           f"(expected names from {[n for n in spec.joint_names if n not in legs]})")
    return tuple(value)
