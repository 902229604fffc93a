"""The robot spec: one YAML per robot naming joints (in action order), the default pose, PD gains, torque
limits, joint armature / damping / friction loss (overriding the MJCF's), key bodies and the control rate. Loaded
and validated here against the robot's MJCF; every layout (observations, AMP features, actions) is derived from a
RobotSpec."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from awd import DATA_DIR
from awd.errors import AwdError
from awd.robot.bodies import check_standing_height, foot_contact_bodies, free_body, trunk_in_root
from awd.utils.typed_config import build
from awd.utils.io import read_yaml

ASSETS_DIR = DATA_DIR / "assets"
_JOINT_GAINS = ("kp", "kd", "effort_limit")
JOINT_PHYSICS = ("armature", "damping", "frictionloss")   # unset: the MJCF's value


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
    armature: np.ndarray
    damping: np.ndarray
    frictionloss: np.ndarray
    joint_lower: np.ndarray
    joint_upper: np.ndarray
    trunk_body: str
    root_body: str  # the MJCF's free-joint body: the engines' root state, the clips' root, init.root_height
    trunk_in_root: np.ndarray  # (3, 3) rotation of the trunk frame in the root body's frame (welded: constant)
    trunk_site: str | None  # the site that is the trunk frame (bodies.trunk named a site; trunk_body is its body)
    head_body: str | None
    foot_bodies: tuple[str, ...]
    key_bodies: tuple[str, ...]
    foot_contact_bodies: tuple[str, ...]  # [left, right]: the bodies whose subtrees touch the floor for each foot
    locked_joints: tuple[tuple[str, float], ...]  # MJCF hinges welded at an angle (rad): not simulated, not actuated
    sim_dt: float
    decimation: int
    action_scale: float  # control.action_scale: the scale of every joint without its own
    init_root_height: float
    init_root_quat: np.ndarray
    joint_action_scale: np.ndarray  # (n,) target = default + scale * action: a joint's own, else joint_defaults',
                                    # else control.action_scale

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def action_scale_record(self) -> float | list[float]:
        """The action scale as the export contract and the env layout write it: one number when every joint has
        the same, else one per joint."""
        scales = [float(v) for v in self.joint_action_scale]
        return scales[0] if len(set(scales)) == 1 else scales

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


@dataclass(frozen=True)
class _Gains:
    action_scale: float | None = None
    kp: float | None = None
    kd: float | None = None
    effort_limit: float | None = None
    armature: float | None = None
    damping: float | None = None
    frictionloss: float | None = None


@dataclass(frozen=True)
class _Joint(_Gains):
    name: str = ""
    default: float = 0.0


@dataclass(frozen=True)
class _Locked:
    name: str
    angle: float = 0.0


@dataclass(frozen=True)
class _Control:
    sim_dt: float
    decimation: int
    action_scale: float


@dataclass(frozen=True)
class _Bodies:
    trunk: str
    feet: tuple[str, ...]
    key_bodies: tuple[str, ...]
    head: str | None = None
    foot_contact_bodies: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Init:
    root_height: float
    root_quat: tuple[float, float, float, float]


@dataclass(frozen=True)
class SpecFile:
    """The robot.yaml schema (awd.utils.typed_config: types, unknown and missing keys); load_robot_spec checks the
    rest against the MJCF."""

    name: str
    mjcf: str
    control: _Control
    bodies: _Bodies
    init: _Init
    joints: tuple[_Joint, ...]
    urdf: str | None = None
    placo_defaults: str | None = None
    joint_defaults: _Gains = _Gains()
    locked_joints: tuple[_Locked, ...] = ()


def load_robot_spec(name_or_path: str | Path, check_height: bool = True) -> RobotSpec:
    """Load and validate a robot spec YAML against its MJCF (`check_height`: the feet on the floor at the default
    pose; off only for tools/robot_setup.py, which computes that pose)."""
    path = resolve_spec_path(name_or_path)
    raw = build(SpecFile, read_yaml(path), str(path), "")
    mjcf_path = _file(path, "mjcf", raw.mjcf)
    model = _compile_mjcf(path, mjcf_path)
    joint_names, gains = _joints(path, raw)
    locked = _locked_joints(path, raw, model, joint_names)
    lower, upper = _joint_ranges(path, model, joint_names, {name for name, _ in locked})
    physics = _joint_physics(path, raw, model, joint_names)
    default = np.array([joint.default for joint in raw.joints], dtype=np.float64)
    _check_default_pose(path, joint_names, default, lower, upper)
    for field in ("control.sim_dt", "control.decimation", "control.action_scale", "init.root_height"):
        section, key = field.split(".")
        if getattr(getattr(raw, section), key) <= 0:
            kind = "a positive integer" if key == "decimation" else "a positive number"
            raise AwdError(path, field, f"expected {kind}, got {getattr(getattr(raw, section), key)!r}")
    if len(raw.bodies.feet) != 2:
        raise AwdError(path, "bodies.feet", f"expected two bodies [left, right], got {list(raw.bodies.feet)}")
    if not raw.bodies.key_bodies:
        raise AwdError(path, "bodies.key_bodies", "expected a non-empty list of body names")
    bodies = [model.body(b).name for b in range(1, model.nbody)]
    trunk_site = raw.bodies.trunk if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, raw.bodies.trunk) >= 0 \
        and raw.bodies.trunk not in bodies else None
    trunk = model.body(model.site(trunk_site).bodyid[0]).name if trunk_site else raw.bodies.trunk
    if trunk not in bodies:
        raise AwdError(path, "bodies.trunk", f"no body or site named {trunk!r} in the MJCF; bodies: {bodies}")
    for key in ("head", "feet", "key_bodies", "foot_contact_bodies"):
        value = getattr(raw.bodies, key)
        for name in (value,) if isinstance(value, str) else value or ():
            if name not in bodies:
                raise AwdError(path, f"bodies.{key}", f"no body named {name!r} in the MJCF; bodies: {bodies}")
    contact_bodies = foot_contact_bodies(path, raw.bodies, model)
    root_quat = np.array(raw.init.root_quat, dtype=np.float64)
    if abs(np.linalg.norm(root_quat) - 1.0) > 1e-3:
        raise AwdError(path, "init.root_quat", f"expected a unit quaternion (x, y, z, w), got {root_quat.tolist()}")
    spec = RobotSpec(
        name=raw.name, spec_path=path, mjcf_path=mjcf_path,
        urdf_path=_file(path, "urdf", raw.urdf, must_exist=False),
        placo_defaults_path=_file(path, "placo_defaults", raw.placo_defaults, must_exist=False),
        joint_names=joint_names, default_joint_pos=default, **gains, **physics, joint_lower=lower, joint_upper=upper,
        trunk_body=trunk, root_body=free_body(path, model),
        trunk_in_root=trunk_in_root(path, model, trunk, trunk_site), trunk_site=trunk_site, head_body=raw.bodies.head,
        foot_bodies=raw.bodies.feet,
        key_bodies=raw.bodies.key_bodies, foot_contact_bodies=contact_bodies, locked_joints=locked,
        sim_dt=raw.control.sim_dt,
        decimation=raw.control.decimation,
        action_scale=raw.control.action_scale, init_root_height=raw.init.root_height,
        init_root_quat=root_quat / np.linalg.norm(root_quat),
        joint_action_scale=_joint_action_scale(path, raw),
    )
    if check_height:
        check_standing_height(spec)
    return spec


def _file(spec_path: Path, key: str, value: str | None, must_exist: bool = True) -> Path | None:
    if value is None:
        return None
    resolved = (spec_path.parent / Path(value).expanduser()).resolve()
    if must_exist and not resolved.is_file():
        raise AwdError(spec_path, key, f"file not found: {resolved}")
    return resolved


def _joints(path: Path, raw: SpecFile) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Joint names in action order and their gains (a joint's own, else `joint_defaults`), each >= 0."""
    if not raw.joints:
        raise AwdError(path, "joints", "expected a non-empty list of {name: ..., default: ...} entries")
    names = []
    for index, joint in enumerate(raw.joints):
        if not joint.name:
            raise AwdError(path, f"joints[{index}].name", "missing; expected a joint name of the MJCF")
        if joint.name in names:
            raise AwdError(path, f"joints[{index}]", f"joint {joint.name!r} is listed twice")
        names.append(joint.name)
    return tuple(names), {key: _joint_values(path, raw, key) for key in _JOINT_GAINS}


def _joint_values(path: Path, raw: SpecFile, key: str, fallback: np.ndarray | None = None) -> np.ndarray:
    """`key` per joint: the joint's own, else `joint_defaults`', else `fallback`'s; each a number >= 0."""
    values = []
    for index, joint in enumerate(raw.joints):
        value = getattr(joint, key) if getattr(joint, key) is not None else getattr(raw.joint_defaults, key)
        value = float(fallback[index]) if value is None and fallback is not None else value
        if value is None or value < 0:
            raise AwdError(path, f"joints[{index}].{key}",
                           f"expected a non-negative number for joint {joint.name!r}, got {value!r}")
        values.append(value)
    return np.array(values, dtype=np.float64)


def _joint_action_scale(path: Path, raw: SpecFile) -> np.ndarray:
    """Each joint's action scale (its own, else `joint_defaults`', else `control.action_scale`), each > 0."""
    scales = _joint_values(path, raw, "action_scale", np.full(len(raw.joints), raw.control.action_scale))
    for index, value in enumerate(scales):
        if value <= 0:
            raise AwdError(path, f"joints[{index}].action_scale",
                           f"expected a positive number for joint {raw.joints[index].name!r}, got {value!r}")
    return scales


def _joint_physics(path: Path, raw: SpecFile, model: mujoco.MjModel, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Armature, damping and friction loss per joint: the spec's (the joint's own, else `joint_defaults`), else the
    MJCF's. An actuated joint without armature is stiff for the implicitfast integrator's PD: warned."""
    dofs = [model.jnt_dofadr[model.joint(name).id] for name in names]
    mjcf = {"armature": model.dof_armature, "damping": model.dof_damping, "frictionloss": model.dof_frictionloss}
    values = {key: _joint_values(path, raw, key, mjcf[key][dofs]) for key in JOINT_PHYSICS}
    bare = [name for name, armature in zip(names, values["armature"]) if armature == 0]
    if bare:
        warnings.warn(f"{path}: joints: {len(bare)} actuated joint(s) without armature ({', '.join(bare[:3])}"
                      f"{', ...' if len(bare) > 3 else ''}); the PD loop may go unstable: set joint_defaults.armature "
                      "(the motor's rotor inertia times the gear ratio squared)", stacklevel=3)
    return values


def _compile_mjcf(spec_path: Path, mjcf_path: Path) -> mujoco.MjModel:
    try:
        return mujoco.MjModel.from_xml_path(str(mjcf_path))
    except ValueError as error:
        message = str(error).strip().splitlines()[0]
        raise AwdError(spec_path, "mjcf", f"{mjcf_path} does not compile: {message}") from None


def _locked_joints(path: Path, raw: SpecFile, model: mujoco.MjModel, joint_names) -> tuple[tuple[str, float], ...]:
    """`locked_joints` entries: hinges of the MJCF, not in `joints`, each once, at an angle inside its range."""
    locked = []
    for index, entry in enumerate(raw.locked_joints):
        field = f"locked_joints[{index}]"
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, entry.name) < 0 or \
                model.joint(entry.name).type != mujoco.mjtJoint.mjJNT_HINGE:
            raise AwdError(path, f"{field}.name", f"{entry.name!r} is not a hinge joint of the MJCF")
        if entry.name in joint_names or entry.name in (name for name, _ in locked):
            raise AwdError(path, f"{field}.name", f"{entry.name!r} is listed twice (a joint is either in joints or "
                           "locked, once)")
        joint = model.joint(entry.name)
        if model.jnt_limited[joint.id] and not joint.range[0] <= entry.angle <= joint.range[1]:
            raise AwdError(path, f"{field}.angle",
                           f"expected an angle within the joint's range {joint.range.tolist()}, got {entry.angle}")
        locked.append((entry.name, float(entry.angle)))
    return tuple(locked)


def _joint_ranges(path: Path, model: mujoco.MjModel, joint_names: tuple[str, ...], locked: set[str]):
    hinge_names = [
        model.joint(j).name for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
    ]
    unknown = [name for name in joint_names if name not in hinge_names]
    if unknown:
        raise AwdError(path, "joints",
                       f"joint {unknown[0]!r} is not a hinge joint of the MJCF; MJCF hinges: {hinge_names}")
    missing = [name for name in hinge_names if name not in joint_names and name not in locked]
    if missing:
        raise AwdError(path, "joints", f"MJCF hinge joint(s) {missing} are missing from the spec (list them in joints, "
                       "or in locked_joints to hold them fixed)")
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
