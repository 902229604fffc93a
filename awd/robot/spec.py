"""The robot spec: one YAML per robot naming joints (in action order), the default pose, PD gains, torque
limits, key bodies and the control rate. Loaded and validated here against the robot's MJCF; every layout
(observations, AMP features, actions) is derived from a RobotSpec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from awd import DATA_DIR
from awd.errors import AwdError, is_number
from awd.utils.io import read_yaml

ASSETS_DIR = DATA_DIR / "assets"
_JOINT_GAINS = ("kp", "kd", "effort_limit")


@dataclass(frozen=True)
class RobotSpec:
    """A validated robot description. Arrays are float64 numpy, indexed in `joint_names` order."""

    name: str
    spec_path: Path
    mjcf_path: Path
    urdf_path: Path | None
    placo_defaults_path: Path | None
    joint_names: tuple[str, ...]
    default_joint_pos: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    effort_limit: np.ndarray
    joint_lower: np.ndarray
    joint_upper: np.ndarray
    trunk_body: str
    head_body: str | None
    foot_bodies: tuple[str, ...]
    key_bodies: tuple[str, ...]
    sim_dt: float
    decimation: int
    action_scale: float
    init_root_height: float
    init_root_quat: np.ndarray

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def control_dt(self) -> float:
        return self.sim_dt * self.decimation

    @property
    def control_rate(self) -> float:
        return 1.0 / self.control_dt

    def joint_index(self, name: str) -> int:
        return self.joint_names.index(name)


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A robot name shipped with the package (`mini_bdx`) or a path to a spec YAML."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise AwdError(candidate, None, "robot spec file not found")
        return candidate.resolve()
    shipped = ASSETS_DIR / str(name_or_path) / "robot.yaml"
    if shipped.is_file():
        return shipped
    known = sorted(p.parent.name for p in ASSETS_DIR.glob("*/robot.yaml"))
    raise AwdError(None, "robot", f"unknown robot {name_or_path!r}: expected one of {known} or a path to a robot.yaml")


def load_robot_spec(name_or_path: str | Path) -> RobotSpec:
    """Load and validate a robot spec YAML against its MJCF."""
    path = resolve_spec_path(name_or_path)
    raw = read_yaml(path)
    reader = _Reader(path, raw)
    mjcf_path = reader.file("mjcf")
    model = _compile_mjcf(path, mjcf_path)
    joints = reader.joints()
    joint_names = tuple(joint["name"] for joint in joints)
    lower, upper = _joint_ranges(path, model, joint_names)
    default = np.array([joint["default"] for joint in joints], dtype=np.float64)
    _check_default_pose(path, joint_names, default, lower, upper)
    bodies = reader.section("bodies")
    feet = reader.body_list(bodies, "feet", model)
    if len(feet) != 2:
        raise AwdError(path, "bodies.feet", f"expected two bodies [left, right], got {feet}")
    control = reader.section("control")
    init = reader.section("init")
    root_quat = np.array(reader.number_list(init, "init.root_quat", 4), dtype=np.float64)
    if abs(np.linalg.norm(root_quat) - 1.0) > 1e-3:
        raise AwdError(path, "init.root_quat", f"expected a unit quaternion (x, y, z, w), got {root_quat.tolist()}")
    return RobotSpec(
        name=reader.string(raw, "name"),
        spec_path=path,
        mjcf_path=mjcf_path,
        urdf_path=reader.file("urdf", required=False),
        placo_defaults_path=reader.file("placo_defaults", required=False),
        joint_names=joint_names,
        default_joint_pos=default,
        kp=np.array([joint["kp"] for joint in joints], dtype=np.float64),
        kd=np.array([joint["kd"] for joint in joints], dtype=np.float64),
        effort_limit=np.array([joint["effort_limit"] for joint in joints], dtype=np.float64),
        joint_lower=lower,
        joint_upper=upper,
        trunk_body=reader.body(bodies, "trunk", model),
        head_body=reader.body(bodies, "head", model, required=False),
        foot_bodies=feet,
        key_bodies=reader.body_list(bodies, "key_bodies", model),
        sim_dt=reader.positive(control, "control.sim_dt"),
        decimation=int(reader.positive(control, "control.decimation", integer=True)),
        action_scale=reader.positive(control, "control.action_scale"),
        init_root_height=reader.positive(init, "init.root_height"),
        init_root_quat=root_quat / np.linalg.norm(root_quat),
    )


def _compile_mjcf(spec_path: Path, mjcf_path: Path) -> mujoco.MjModel:
    try:
        return mujoco.MjModel.from_xml_path(str(mjcf_path))
    except ValueError as error:
        message = str(error).strip().splitlines()[0]
        raise AwdError(spec_path, "mjcf", f"{mjcf_path} does not compile: {message}") from None


def _joint_ranges(path: Path, model: mujoco.MjModel, joint_names: tuple[str, ...]):
    hinge_names = [
        model.joint(j).name for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
    ]
    unknown = [name for name in joint_names if name not in hinge_names]
    if unknown:
        raise AwdError(path, "joints",
                       f"joint {unknown[0]!r} is not a hinge joint of the MJCF; MJCF hinges: {hinge_names}")
    missing = [name for name in hinge_names if name not in joint_names]
    if missing:
        raise AwdError(path, "joints", f"MJCF hinge joint(s) {missing} are missing from the spec")
    lower, upper = [], []
    for name in joint_names:
        joint = model.joint(name)
        if not model.jnt_limited[joint.id]:
            raise AwdError(path, f"joints.{name}", "expected a range (limits) on this joint in the MJCF")
        lower.append(joint.range[0])
        upper.append(joint.range[1])
    return np.array(lower), np.array(upper)


def _check_default_pose(path, joint_names, default, lower, upper) -> None:
    for name, value, low, high in zip(joint_names, default, lower, upper):
        if not low <= value <= high:
            raise AwdError(path, f"joints.{name}.default",
                           f"expected a value within [{low:g}, {high:g}], got {value:g}")


class _Reader:
    """Typed access to the raw YAML with errors naming the spec file and the field."""

    def __init__(self, path: Path, raw):
        if not isinstance(raw, dict):
            raise AwdError(path, None, "expected a mapping at the top level of the robot spec")
        self.path = path
        self.raw = raw

    def string(self, mapping: dict, key: str) -> str:
        value = mapping.get(key)
        if not isinstance(value, str) or not value:
            raise AwdError(self.path, key, f"expected a non-empty string, got {value!r}")
        return value

    def section(self, key: str) -> dict:
        value = self.raw.get(key)
        if not isinstance(value, dict):
            raise AwdError(self.path, key, f"expected a mapping, got {value!r}")
        return value

    def file(self, key: str, required: bool = True) -> Path | None:
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise AwdError(self.path, key, f"expected a file name relative to the spec, got {value!r}")
        resolved = (self.path.parent / Path(value).expanduser()).resolve()
        if required and not resolved.is_file():
            raise AwdError(self.path, key, f"file not found: {resolved}")
        return resolved

    def positive(self, mapping: dict, field: str, integer: bool = False) -> float:
        value = mapping.get(field.split(".")[-1])
        valid_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not valid_type or value <= 0:
            kind = "a positive integer" if integer else "a positive number"
            raise AwdError(self.path, field, f"expected {kind}, got {value!r}")
        return float(value)

    def number_list(self, mapping: dict, field: str, length: int) -> list[float]:
        value = mapping.get(field.split(".")[-1])
        if not isinstance(value, list) or len(value) != length or not all(is_number(v) for v in value):
            raise AwdError(self.path, field, f"expected a list of {length} numbers, got {value!r}")
        return [float(v) for v in value]

    def body(self, mapping: dict, key: str, model: mujoco.MjModel, required: bool = True) -> str | None:
        value = mapping.get(key)
        if value is None and not required:
            return None
        self._check_body(f"bodies.{key}", value, model)
        return value

    def body_list(self, mapping: dict, key: str, model: mujoco.MjModel) -> tuple[str, ...]:
        value = mapping.get(key)
        if not isinstance(value, list) or not value:
            raise AwdError(self.path, f"bodies.{key}", f"expected a non-empty list of body names, got {value!r}")
        for name in value:
            self._check_body(f"bodies.{key}", name, model)
        return tuple(value)

    def _check_body(self, field: str, name, model: mujoco.MjModel) -> None:
        bodies = [model.body(b).name for b in range(1, model.nbody)]
        if name not in bodies:
            raise AwdError(self.path, field, f"no body named {name!r} in the MJCF; bodies: {bodies}")

    def joints(self) -> list[dict]:
        defaults = self.raw.get("joint_defaults", {})
        if not isinstance(defaults, dict):
            raise AwdError(self.path, "joint_defaults", f"expected a mapping, got {defaults!r}")
        entries = self.raw.get("joints")
        if not isinstance(entries, list) or not entries:
            raise AwdError(self.path, "joints", "expected a non-empty list of {name: ..., default: ...} entries")
        joints, seen = [], set()
        for index, entry in enumerate(entries):
            field = f"joints[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise AwdError(self.path, field, f"expected a mapping with a 'name', got {entry!r}")
            unknown = set(entry) - {"name", "default", *_JOINT_GAINS}
            if unknown:
                raise AwdError(self.path, field,
                               f"unknown key(s) {sorted(unknown)}; expected name, default, {', '.join(_JOINT_GAINS)}")
            if entry["name"] in seen:
                raise AwdError(self.path, field, f"joint {entry['name']!r} is listed twice")
            seen.add(entry["name"])
            joint = {"name": entry["name"], "default": entry.get("default", 0.0)}
            for key in ("default", *_JOINT_GAINS):
                value = entry.get(key, joint.get(key, defaults.get(key)))
                if not is_number(value) or (key != "default" and value < 0):
                    raise AwdError(self.path, f"{field}.{key}",
                                   f"expected a {'number' if key == 'default' else 'non-negative number'} for joint "
                                   f"{entry['name']!r}, got {value!r}")
                joint[key] = float(value)
            joints.append(joint)
        return joints

