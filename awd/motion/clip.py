"""The motion-clip format: the `Clip` dataclass, velocity computation, `save_clip` (atomic JSON) and a
validating `load_clip`. The JSON schema (version 1) is described in docs/clip_format.md.

Conventions: quaternions (x, y, z, w); positions and velocities in the world frame (z up); frame i is at
time i / fps; the angular velocity is a true angular-velocity vector in the world frame.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from awd.errors import AwdError, is_number
from awd.utils.io import atomic_open

FORMAT_NAME = "awd-clip"
SCHEMA_VERSION = 1
LOOP_MODES = ("Wrap", "Clamp")
FRAME_DECIMALS = 6
PLAIN_NUMBERS = {int, float}  # the types json.load gives numbers (a bool is its own type)
QUAT_NORM_TOLERANCE = 1e-3
FRAME_DURATION_TOLERANCE = 1e-9  # relative; FrameDuration must be the exact 1/FPS
# Physical sanity, for any robot: the largest |value| a frame entry may hold (m, m/s, rad, rad/s)
PHYSICAL_BOUNDS = {"root_pos": (1e3, "m"), "left_toe_pos": (1e3, "m"), "right_toe_pos": (1e3, "m"),
                   "world_linear_vel": (50.0, "m/s"), "left_toe_vel": (50.0, "m/s"), "right_toe_vel": (50.0, "m/s"),
                   "world_angular_vel": (100.0, "rad/s"), "joints_pos": (4 * math.pi, "rad"),
                   "joints_vel": (500.0, "rad/s")}

REQUIRED_FIELDS = (
    "Format", "SchemaVersion", "Robot", "FPS", "FrameDuration", "LoopMode", "MotionWeight", "Joints",
    "Frame_offset", "Frame_size", "Frames",
)
OPTIONAL_FIELDS = (
    "Vel_x", "Vel_y", "Yaw", "Placo", "Metadata", "EnableCycleOffsetPosition", "EnableCycleOffsetRotation",
)

# Frame entries in the order they are laid out in a flat frame. Sizes with "n" are the joint count.
FRAME_FIELDS = (
    "root_pos", "root_quat", "joints_pos", "left_toe_pos", "right_toe_pos", "world_linear_vel",
    "world_angular_vel", "joints_vel", "left_toe_vel", "right_toe_vel", "foot_contacts",
)


def frame_sizes(num_joints: int) -> dict[str, int]:
    """Size of each frame entry for a robot with `num_joints` joints (in frame order)."""
    sizes = {name: 3 for name in FRAME_FIELDS}
    sizes.update(root_quat=4, joints_pos=num_joints, joints_vel=num_joints, foot_contacts=2)
    return sizes


def frame_offsets(num_joints: int) -> dict[str, int]:
    """Offset of each frame entry in the flat frame written by `save_clip`."""
    offsets, position = {}, 0
    for name, size in frame_sizes(num_joints).items():
        offsets[name] = position
        position += size
    return offsets


def frame_length(num_joints: int) -> int:
    """Number of floats in one flat frame."""
    return sum(frame_sizes(num_joints).values())


@dataclass
class Clip:
    """One motion clip; all arrays are float64 numpy arrays with T frames, frame i at time i / fps."""

    fps: float
    joint_names: tuple[str, ...]
    root_pos: np.ndarray  # (T, 3) world
    root_quat: np.ndarray  # (T, 4) x, y, z, w, unit
    joint_pos: np.ndarray  # (T, n)
    foot_pos: np.ndarray  # (T, 2, 3) world, [left, right] sole frame positions
    root_lin_vel: np.ndarray  # (T, 3) world
    root_ang_vel: np.ndarray  # (T, 3) world angular-velocity vector
    joint_vel: np.ndarray  # (T, n)
    foot_vel: np.ndarray  # (T, 2, 3) world
    foot_contacts: np.ndarray  # (T, 2) in {0, 1}, [left, right]
    robot: str = ""
    weight: float = 1.0
    loop_mode: str = "Wrap"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.fps = float(self.fps)
        self.joint_names = tuple(self.joint_names)
        n = len(self.joint_names)
        expected = {
            "root_pos": (3,), "root_quat": (4,), "joint_pos": (n,), "foot_pos": (2, 3), "root_lin_vel": (3,),
            "root_ang_vel": (3,), "joint_vel": (n,), "foot_vel": (2, 3), "foot_contacts": (2,),
        }
        num_frames = None
        for name, tail in expected.items():
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if num_frames is None:
                num_frames = array.shape[0] if array.ndim > 0 else 0
            if array.shape != (num_frames, *tail):
                raise ValueError(f"Clip.{name}: expected shape {(num_frames, *tail)}, found {array.shape}")
            setattr(self, name, array)
        if not self.fps > 0:
            raise ValueError(f"Clip.fps: expected a positive number, found {self.fps}")
        if self.loop_mode not in LOOP_MODES:
            raise ValueError(f"Clip.loop_mode: expected one of {LOOP_MODES}, found {self.loop_mode!r}")

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def frame_dt(self) -> float:
        return 1.0 / self.fps

    @property
    def duration(self) -> float:
        return (self.num_frames - 1) / self.fps


def _finite_difference(values: np.ndarray, dt: float) -> np.ndarray:
    """Central differences inside, one-sided at both ends (zeros for a single frame)."""
    if values.shape[0] < 2:
        return np.zeros_like(values)
    return np.gradient(values, dt, axis=0, edge_order=1)


def angular_velocity(root_quat: np.ndarray, dt: float) -> np.ndarray:
    """World-frame angular velocity from xyzw quaternions: rotation vector of the relative rotation
    q[b] * q[a]^-1 divided by the time between a and b (central inside, one-sided at the ends)."""
    num_frames = root_quat.shape[0]
    if num_frames < 2:
        return np.zeros((num_frames, 3))
    from scipy.spatial.transform import Rotation  # here: importing scipy.spatial costs every process 0.5 s

    rotations = Rotation.from_quat(root_quat)  # scipy uses scalar-last (x, y, z, w)
    after = np.concatenate([np.arange(1, num_frames), [num_frames - 1]])
    before = np.concatenate([[0], np.arange(0, num_frames - 1)])
    steps = (after - before).astype(np.float64) * dt
    relative = rotations[after] * rotations[before].inv()
    return relative.as_rotvec() / steps[:, None]


def compute_velocities(fps, root_pos, root_quat, joint_pos, foot_pos) -> dict:
    """Finite-difference velocities with dt = 1 / fps exactly. Returns a dict with the keys
    root_lin_vel (T, 3), root_ang_vel (T, 3), joint_vel (T, n) and foot_vel (T, 2, 3)."""
    dt = 1.0 / float(fps)
    return {
        "root_lin_vel": _finite_difference(np.asarray(root_pos, dtype=np.float64), dt),
        "root_ang_vel": angular_velocity(np.asarray(root_quat, dtype=np.float64), dt),
        "joint_vel": _finite_difference(np.asarray(joint_pos, dtype=np.float64), dt),
        "foot_vel": _finite_difference(np.asarray(foot_pos, dtype=np.float64), dt),
    }


def clip_from_positions(fps, joint_names, root_pos, root_quat, joint_pos, foot_pos, foot_contacts,
                        **options) -> Clip:
    """Build a Clip from positions only; velocities come from `compute_velocities`. `options` are the
    optional Clip fields (robot, weight, loop_mode, metadata)."""
    root_quat = np.asarray(root_quat, dtype=np.float64)
    root_quat = root_quat / np.linalg.norm(root_quat, axis=-1, keepdims=True)
    velocities = compute_velocities(fps, root_pos, root_quat, joint_pos, foot_pos)
    return Clip(fps=fps, joint_names=tuple(joint_names), root_pos=root_pos, root_quat=root_quat,
                joint_pos=joint_pos, foot_pos=foot_pos, foot_contacts=foot_contacts, **velocities, **options)


# ----------------------------------------------------------------------------------------------- save


def _flat_frames(clip: Clip) -> np.ndarray:
    parts = [
        clip.root_pos, clip.root_quat, clip.joint_pos, clip.foot_pos[:, 0], clip.foot_pos[:, 1],
        clip.root_lin_vel, clip.root_ang_vel, clip.joint_vel, clip.foot_vel[:, 0], clip.foot_vel[:, 1],
        clip.foot_contacts,
    ]
    return np.concatenate(parts, axis=1)


def _json_default(value: Any) -> Any:
    """Let numpy scalars and arrays in the metadata serialise; anything else is a TypeError."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"clip metadata: {type(value).__name__} is not JSON serialisable")


def clip_to_json(clip: Clip) -> dict:
    """The JSON document for a clip (schema version 1)."""
    n = len(clip.joint_names)
    metadata = dict(clip.metadata)
    placo = metadata.pop("Placo", None)
    document = {
        "Format": FORMAT_NAME,
        "SchemaVersion": SCHEMA_VERSION,
        "Robot": clip.robot,
        "FPS": clip.fps,
        "FrameDuration": 1.0 / clip.fps,
        "LoopMode": clip.loop_mode,
        "MotionWeight": float(clip.weight),
        "EnableCycleOffsetPosition": True,
        "EnableCycleOffsetRotation": False,
        "Joints": list(clip.joint_names),
        "Vel_x": float(np.mean(clip.root_lin_vel[:, 0])) if clip.num_frames else 0.0,
        "Vel_y": float(np.mean(clip.root_lin_vel[:, 1])) if clip.num_frames else 0.0,
        "Yaw": float(np.mean(clip.root_ang_vel[:, 2])) if clip.num_frames else 0.0,
    }
    if placo is not None:
        document["Placo"] = placo
    if metadata:
        document["Metadata"] = metadata
    document["Frame_offset"] = [frame_offsets(n)]
    document["Frame_size"] = [frame_sizes(n)]
    document["Frames"] = np.round(_flat_frames(clip), FRAME_DECIMALS).tolist()
    return document


def check_physical(path, frames: np.ndarray, layout: dict[str, slice]) -> None:
    """AwdError at the first frame entry beyond PHYSICAL_BOUNDS (or not finite)."""
    for name, (bound, unit) in PHYSICAL_BOUNDS.items():
        values = frames[:, layout[name]]
        bad = ~(np.abs(values) <= bound)
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            raise AwdError(path, f"Frames[{row}].{name}", f"expected |value| <= {bound:g} {unit}, found "
                           f"{values[row, column]:g}")


def save_clip(clip: Clip, path) -> None:
    """Write `clip` as JSON atomically: readers see the old file or the complete new one, never a part; a clip
    beyond PHYSICAL_BOUNDS is refused and nothing is written."""
    n = len(clip.joint_names)
    check_physical(path, _flat_frames(clip), {name: slice(start, start + frame_sizes(n)[name])
                                              for name, start in frame_offsets(n).items()})
    document = clip_to_json(clip)
    with atomic_open(path) as stream:
        json.dump(document, stream, default=_json_default, allow_nan=False, separators=(",", ":"))


# ----------------------------------------------------------------------------------------------- load



def _require_positive_number(path, document, key) -> float:
    value = document[key]
    if not is_number(value) or value <= 0:
        raise AwdError(path, key, f"expected a positive number, found {value!r}")
    return float(value)


def _check_top_level(path: Path, document: Any) -> None:
    if not isinstance(document, dict):
        raise AwdError(path, None, f"expected a JSON object (awd clip), found {type(document).__name__}")
    if "SchemaVersion" not in document and "Format" not in document:
        raise AwdError(path, "SchemaVersion", "missing: this looks like a legacy AWD clip (no SchemaVersion, "
                       "no velocity layout guarantees); regenerate it with the awd gait generator "
                       f"(expected {FORMAT_NAME!r} schema version {SCHEMA_VERSION})")
    for key in REQUIRED_FIELDS:
        if key not in document:
            raise AwdError(path, key, "missing required field")
    unknown = sorted(set(document) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise AwdError(path, unknown[0],
                       f"unknown field (expected one of {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})")
    if document["Format"] != FORMAT_NAME:
        raise AwdError(path, "Format", f"expected {FORMAT_NAME!r}, found {document['Format']!r}")
    version = document["SchemaVersion"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise AwdError(path, "SchemaVersion", f"expected {SCHEMA_VERSION}, found {version!r}")
    if not isinstance(document["Robot"], str):
        raise AwdError(path, "Robot", f"expected a string, found {document['Robot']!r}")
    if document["LoopMode"] not in LOOP_MODES:
        raise AwdError(path, "LoopMode", f"expected one of {', '.join(LOOP_MODES)}, found {document['LoopMode']!r}")
    for key in ("Placo", "Metadata"):
        if key in document and not isinstance(document[key], dict):
            raise AwdError(path, key, f"expected a mapping, found {type(document[key]).__name__}")
    for key in ("EnableCycleOffsetPosition", "EnableCycleOffsetRotation"):
        if key in document and not isinstance(document[key], bool):
            raise AwdError(path, key, f"expected true or false, found {document[key]!r}")
    for key in ("Vel_x", "Vel_y", "Yaw"):
        if key in document and not (is_number(document[key]) and math.isfinite(document[key])):
            raise AwdError(path, key, f"expected a finite number, found {document[key]!r}")


def _check_timing(path: Path, document: dict) -> float:
    fps = _require_positive_number(path, document, "FPS")
    duration = document["FrameDuration"]
    if not is_number(duration, finite=False) or abs(duration * fps - 1.0) > FRAME_DURATION_TOLERANCE:
        raise AwdError(path, "FrameDuration", f"expected exactly 1/FPS = {1.0 / fps!r}, found {duration!r}")
    return fps


def _check_joints(path: Path, document: dict, joint_names) -> tuple[str, ...]:
    joints = document["Joints"]
    if not isinstance(joints, list) or not all(isinstance(name, str) for name in joints):
        raise AwdError(path, "Joints", "expected a list of joint-name strings")
    if len(set(joints)) != len(joints):
        duplicate = next(name for name in joints if joints.count(name) > 1)
        raise AwdError(path, "Joints", f"expected unique names, found {duplicate!r} more than once")
    if joint_names is not None:
        expected = list(joint_names)
        if joints != expected:
            if sorted(joints) == sorted(expected):
                index = next(i for i, (a, b) in enumerate(zip(joints, expected)) if a != b)
                raise AwdError(path, "Joints", f"same joints in a different order: index {index} is {joints[index]!r}, "
                               f"the robot expects {expected[index]!r}")
            if len(joints) != len(expected):
                missing = [name for name in expected if name not in joints]
                extra = [name for name in joints if name not in expected]
                raise AwdError(path, "Joints", f"expected {len(expected)} joints, found {len(joints)} "
                               f"(missing {missing}, unexpected {extra})")
            index = next(i for i, (a, b) in enumerate(zip(joints, expected)) if a != b)
            raise AwdError(path, "Joints", f"index {index}: expected {expected[index]!r}, found {joints[index]!r}")
    return tuple(joints)


def _check_layout(path: Path, document: dict, num_joints: int) -> dict[str, slice]:
    """Validate Frame_offset / Frame_size; return one slice per frame entry."""
    layout = {}
    for key in ("Frame_offset", "Frame_size"):
        value = document[key]
        if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)):
            raise AwdError(path, key, "expected a single-element list holding a mapping")
        names = set(value[0])
        if names != set(FRAME_FIELDS):
            missing = sorted(set(FRAME_FIELDS) - names)
            extra = sorted(names - set(FRAME_FIELDS))
            raise AwdError(path, key, f"expected entries {', '.join(FRAME_FIELDS)}; missing {missing}, unknown {extra}")
        for name, number in value[0].items():
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise AwdError(path, f"{key}.{name}", f"expected a non-negative integer, found {number!r}")
        layout[key] = value[0]
    sizes = frame_sizes(num_joints)
    for name, size in sizes.items():
        if layout["Frame_size"][name] != size:
            raise AwdError(path, f"Frame_size.{name}", f"expected {size} (for {num_joints} joints), "
                           f"found {layout['Frame_size'][name]}")
    total = frame_length(num_joints)
    covered = np.zeros(total, dtype=int)
    for name in FRAME_FIELDS:
        start = layout["Frame_offset"][name]
        if start + sizes[name] > total:
            raise AwdError(path, f"Frame_offset.{name}", f"entry {start}..{start + sizes[name]} runs past the frame "
                           f"length {total}")
        covered[start:start + sizes[name]] += 1
    if np.any(covered != 1):
        raise AwdError(path, "Frame_offset", f"entries overlap or leave gaps (frame length {total})")
    return {name: slice(layout["Frame_offset"][name], layout["Frame_offset"][name] + sizes[name])
            for name in FRAME_FIELDS}


def _read_frames(path: Path, document: dict, num_joints: int, layout: dict[str, slice], min_frames: int) -> np.ndarray:
    frames = document["Frames"]
    if not isinstance(frames, list):
        raise AwdError(path, "Frames", f"expected a list of frames, found {type(frames).__name__}")
    if len(frames) < min_frames:
        raise AwdError(path, "Frames", f"expected at least {min_frames} frames, found {len(frames)}")
    length = frame_length(num_joints)
    for index, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != length:
            found = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise AwdError(path, f"Frames[{index}]",
                           f"expected {length} numbers (for {num_joints} joints), found {found}")
        if not set(map(type, frame)) <= PLAIN_NUMBERS and not all(is_number(value, finite=False) for value in frame):
            raise AwdError(path, f"Frames[{index}]", "expected numbers only")
    array = np.asarray(frames, dtype=np.float64).reshape(len(frames), length)
    bad = ~np.isfinite(array)
    if bad.any():
        frame_index, column = (int(i) for i in np.argwhere(bad)[0])
        name = next(name for name, part in layout.items() if part.start <= column < part.stop)
        raise AwdError(path, f"Frames[{frame_index}].{name}",
                       f"expected finite numbers, found {array[frame_index, column]}")
    check_physical(path, array, layout)
    return array


def first_non_unit(quats: np.ndarray, tolerance: float) -> tuple[int, float] | None:
    """(row, norm) of the first quaternion whose norm differs from 1 by more than `tolerance`, else None."""
    norms = np.linalg.norm(quats, axis=1)
    bad = np.abs(norms - 1.0) > tolerance
    if not bad.any():
        return None
    row = int(np.argmax(bad))
    return row, float(norms[row])


def load_clip(path, joint_names=None, min_frames: int = 2) -> Clip:
    """Load and validate a clip; every problem is a one-line AwdError naming the file and the field.
    `joint_names`: the robot's joint order; the clip's `Joints` must match it exactly."""
    path = Path(path)
    if not path.is_file():
        raise AwdError(path, None, "clip file not found")
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AwdError(path, None, f"invalid JSON ({error})") from None
    _check_top_level(path, document)
    fps = _check_timing(path, document)
    weight = _require_positive_number(path, document, "MotionWeight")
    joints = _check_joints(path, document, joint_names)
    layout = _check_layout(path, document, len(joints))
    frames = _read_frames(path, document, len(joints), layout, min_frames)
    parts = {name: frames[:, part] for name, part in layout.items()}

    root_quat = parts["root_quat"]
    bad = first_non_unit(root_quat, QUAT_NORM_TOLERANCE)
    if bad is not None:
        index, norm = bad
        raise AwdError(path, f"Frames[{index}].root_quat", f"expected a unit quaternion (x, y, z, w; tolerance "
                       f"{QUAT_NORM_TOLERANCE}), found norm {norm:.6g}")
    contacts = parts["foot_contacts"]
    bad = (contacts != 0.0) & (contacts != 1.0)
    if bad.any():
        index = int(np.argwhere(bad)[0][0])
        raise AwdError(path, f"Frames[{index}].foot_contacts", f"expected 0 or 1, found {contacts[index].tolist()}")

    metadata = dict(document.get("Metadata", {}))
    if "Placo" in document:
        metadata["Placo"] = document["Placo"]
    return Clip(
        fps=fps, joint_names=joints, robot=document["Robot"], weight=weight, loop_mode=document["LoopMode"],
        metadata=metadata,
        root_pos=parts["root_pos"], root_quat=root_quat / np.linalg.norm(root_quat, axis=1, keepdims=True),
        joint_pos=parts["joints_pos"],
        foot_pos=np.stack([parts["left_toe_pos"], parts["right_toe_pos"]], axis=1),
        root_lin_vel=parts["world_linear_vel"], root_ang_vel=parts["world_angular_vel"],
        joint_vel=parts["joints_vel"], foot_vel=np.stack([parts["left_toe_vel"], parts["right_toe_vel"]], axis=1),
        foot_contacts=contacts,
    )
