"""Import retargeted motion from CSV into the clip format (docs/clip_format.md, "Importing retargeted motion").

The CSV layout is the one of the public retargeted LAFAN1 data for the Unitree G1: one row per frame, no
header, comma-separated numbers: root position x, y, z (m, world, z up), root quaternion x, y, z, w, then one
joint angle (rad) per joint, in the robot's joint order unless another column order is given; frames at a
fixed rate (LAFAN1: 30 fps). Everything else a clip holds is derived with the robot's own model: foot (sole)
positions by forward kinematics of its MJCF, velocities by finite differences (awd.motion.clip), foot contacts
from sole height and speed. The motion can be moved so that its lowest sole touches the floor.

Validation: every problem is one AwdError line naming the file and the row/column or option (missing file,
empty file, wrong number of columns, a cell that is not a finite number, a root quaternion far from unit
length, a joint angle beyond the robot's limits by more than `limit_tolerance` (smaller excesses are clamped),
too few frames, robot joints missing from the column order, unknown options).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from awd.errors import AwdError
from awd.motion.clip import Clip, clip_from_positions, first_non_unit
from awd.robot.kinematics import BodyPositions
from awd.robot.spec import RobotSpec, load_robot_spec

ROOT_COLUMNS = 7            # position (3), quaternion x, y, z, w (4)
QUAT_NORM_TOLERANCE = 0.01  # retargeting tools write quaternions to a few decimals; normalised after the check
FLOOR_MODES = ("auto", "none")
LOOP_MODES = ("Wrap", "Clamp")


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV and turn it into a clip."""

    fps: float = 30.0
    columns: tuple[str, ...] | None = None  # joint names of the CSV's joint columns (None: the robot's order)
    header: bool = False                    # skip the first row
    start: int = 0                          # first frame kept
    end: int | None = None                  # one past the last frame kept (None: to the end)
    floor: str = "auto"                     # auto: lowest sole on the floor; none: heights as given
    contact_height: float = 0.03            # m above the floor below which a sole may be in contact ...
    contact_speed: float = 0.25             # ... if it moves slower than this (m/s)
    limit_tolerance: float = 0.05           # rad beyond a joint limit that is clamped; more is an error
    loop_mode: str = "Clamp"
    weight: float = 1.0


def check_options(options: CsvOptions) -> None:
    """One-line AwdError for an option out of range (before any file is read)."""
    def fail(option: str, message: str):
        raise AwdError("command line", option, message)

    if not (math.isfinite(options.fps) and options.fps > 0):
        fail("--fps", f"expected a positive frame rate, found {options.fps}")
    if options.start < 0 or (options.end is not None and options.end <= options.start):
        fail("--start/--end", f"expected 0 <= start < end, found {options.start} and {options.end}")
    if options.floor not in FLOOR_MODES:
        fail("--floor", f"expected one of {list(FLOOR_MODES)}, found {options.floor!r}")
    if options.loop_mode not in LOOP_MODES:
        fail("--loop", f"expected one of {list(LOOP_MODES)}, found {options.loop_mode!r}")
    if not options.weight > 0:
        fail("--weight", f"expected a positive number, found {options.weight}")
    for option, value in (("--contact_height", options.contact_height), ("--contact_speed", options.contact_speed),
                          ("--limit_tolerance", options.limit_tolerance)):
        if not (math.isfinite(value) and value >= 0):
            fail(option, f"expected a number >= 0, found {value}")
    if options.columns is not None and len(set(options.columns)) != len(options.columns):
        fail("--columns", "expected unique joint names")


def joint_columns(spec: RobotSpec, options: CsvOptions) -> np.ndarray:
    """For each robot joint (spec order), the index of its column among the CSV's joint columns."""
    columns = list(options.columns) if options.columns is not None else list(spec.joint_names)
    missing = [name for name in spec.joint_names if name not in columns]
    if missing:
        raise AwdError("command line", "--columns", f"the robot's joints {missing} have no column (CSV joint "
                       f"columns: {columns})")
    return np.array([columns.index(name) for name in spec.joint_names])


def read_csv(path: Path, num_columns: int, header: bool = False) -> np.ndarray:
    """(T, num_columns) float64 from a CSV of numbers; errors name the row (1-based, as an editor shows it)."""
    if not path.is_file():
        raise AwdError(path, None, "CSV file not found")
    rows = []
    with open(path, newline="", encoding="utf-8") as stream:
        for number, row in enumerate(csv.reader(stream), start=1):
            if (header and number == 1) or not any(cell.strip() for cell in row):
                continue
            if len(row) != num_columns:
                raise AwdError(path, f"row {number}", f"expected {num_columns} columns (7 root + "
                               f"{num_columns - ROOT_COLUMNS} joints), found {len(row)}")
            rows.append([_number(path, number, column, cell) for column, cell in enumerate(row, start=1)])
    if not rows:
        raise AwdError(path, None, "expected rows of numbers, found none")
    return np.array(rows, dtype=np.float64)


def _number(path: Path, row: int, column: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        hint = " (a header row? use --header)" if row == 1 else ""
        raise AwdError(path, f"row {row}, column {column}", f"expected a number, found {cell!r}{hint}") from None
    if not math.isfinite(value):
        raise AwdError(path, f"row {row}, column {column}", f"expected a finite number, found {cell!r}")
    return value


def import_csv(path, spec: RobotSpec, options: CsvOptions = CsvOptions()) -> Clip:
    """The clip of one CSV file (validated; nothing is written)."""
    path = Path(path)
    check_options(options)
    order = joint_columns(spec, options)
    width = ROOT_COLUMNS + (len(options.columns) if options.columns is not None else spec.num_joints)
    table = read_csv(path, width, options.header)[options.start:options.end]
    if len(table) < 2:
        raise AwdError(path, "--start/--end", f"expected at least 2 frames, found {len(table)}")
    root_pos, root_quat = table[:, :3], _unit_quaternions(path, table[:, 3:7], options)
    joint_pos = _within_limits(path, spec, table[:, ROOT_COLUMNS:][:, order], options)
    feet = BodyPositions(spec, spec.foot_bodies)
    standing = float(feet(np.array([[0.0, 0.0, spec.init_root_height]]), spec.init_root_quat[None],
                          spec.default_joint_pos[None])[0, :, 2].min())  # foot frames' height when standing
    foot_pos = feet(root_pos, root_quat, joint_pos)
    if options.floor == "auto":
        lift = standing - foot_pos[..., 2].min()
        root_pos = root_pos + [0.0, 0.0, lift]
        foot_pos = foot_pos + [0.0, 0.0, lift]
    contacts = _foot_contacts(foot_pos, standing, options)
    return clip_from_positions(options.fps, spec.joint_names, root_pos, root_quat, joint_pos, foot_pos, contacts,
                               robot=spec.name, loop_mode=options.loop_mode, weight=options.weight,
                               metadata={"Import": {"source": path.name, "format": "csv (root xyz, quat xyzw, joints)",
                                                    "frames": [options.start, options.start + len(table)],
                                                    "floor": options.floor}})


def _row(options: CsvOptions, frame: int) -> str:
    """The file row (1-based) of a kept frame (rows of numbers counted, blank lines not)."""
    return f"row {options.start + frame + 1 + int(options.header)}"


def _unit_quaternions(path: Path, quats: np.ndarray, options: CsvOptions) -> np.ndarray:
    bad = first_non_unit(quats, QUAT_NORM_TOLERANCE)
    if bad is not None:
        frame, norm = bad
        raise AwdError(path, f"{_row(options, frame)}, columns 4-7", f"expected a unit quaternion x, y, z, w "
                       f"(tolerance {QUAT_NORM_TOLERANCE}), found norm {norm:.6g}")
    return quats / np.linalg.norm(quats, axis=1, keepdims=True)


def _within_limits(path: Path, spec: RobotSpec, joint_pos: np.ndarray, options: CsvOptions) -> np.ndarray:
    below = spec.joint_lower - joint_pos
    above = joint_pos - spec.joint_upper
    excess = np.maximum(below, above)
    if excess.max() > options.limit_tolerance:
        frame, joint = np.unravel_index(int(np.argmax(excess)), excess.shape)
        name = spec.joint_names[joint]
        raise AwdError(path, f"{_row(options, frame)}, joint {name}", f"expected an angle within "
                       f"[{spec.joint_lower[joint]:g}, {spec.joint_upper[joint]:g}] rad (tolerance "
                       f"{options.limit_tolerance:g}), found {joint_pos[frame, joint]:.4f} (radians? column order?)")
    return np.clip(joint_pos, spec.joint_lower, spec.joint_upper)


def _foot_contacts(foot_pos: np.ndarray, standing: float, options: CsvOptions) -> np.ndarray:
    """(T, 2) contact flags: the foot frame is near its standing height (an official model's ankle frames sit a
    few centimetres above the floor, our sole frames on it) and slow."""
    speed = np.linalg.norm(np.gradient(foot_pos, 1.0 / options.fps, axis=0), axis=-1)
    low = foot_pos[..., 2] - standing < options.contact_height
    return (low & (speed < options.contact_speed)).astype(np.float64)


def column_names(source: str | None) -> tuple[str, ...] | None:
    """The CSV's joint column order: a robot name or spec path (its joint order), a text file with one joint
    name per line, or None (the target robot's order)."""
    if source is None:
        return None
    path = Path(source)
    if path.suffix == ".txt":
        if not path.is_file():
            raise AwdError(path, None, "joint-order file not found")
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not names:
            raise AwdError(path, None, "expected one joint name per line, found none")
        return tuple(names)
    return load_robot_spec(source).joint_names
