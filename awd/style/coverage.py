"""Command coverage: a command task's ranges against the velocities its clips walk at. Past the fastest clip on an
axis no clip shows the style to imitate, and a policy asked to go there must leave its clips' motion or fall short
of the command (docs/style_rounds.md, tenth round: the duck's lateral extremes). Training names such ends at start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

AXES = (("lin_vel_x", "m/s"), ("lin_vel_y", "m/s"), ("ang_vel_z", "rad/s"))


def clip_velocities(clips) -> np.ndarray:
    """(C, 3): each clip's mean vx, vy in its heading frame and yaw rate."""
    from awd.style.gait import yaw_frame_velocity

    return np.stack([yaw_frame_velocity(clip).mean(axis=0) for clip in clips])


def uncovered_ends(ranges: dict, velocities: np.ndarray, names: list[str], tolerance: float = 0.01) -> list[str]:
    """Each end of a command range (`ranges`: {"lin_vel_x": [lo, hi], ...}) beyond the fastest clip on that axis by
    more than `tolerance` of the end, as "lin_vel_y +0.120 m/s (fastest clip +0.115, left_fast)"."""
    ends = []
    for axis, (key, unit) in enumerate(AXES):
        for end, pick in zip(ranges[key], (np.argmin, np.argmax)):
            best = int(pick(velocities[:, axis]))
            reach = velocities[best, axis]
            if end != 0 and (end - reach) * np.sign(end) > tolerance * abs(end):
                ends.append(f"{key} {end:+.3f} {unit} (fastest clip {reach:+.3f}, {names[best]})")
    return ends


def coverage_line(config: dict) -> str | None:
    """The start-of-run line that names the command range ends no clip reaches, or None (no commands, no clips,
    or every end covered)."""
    from awd.motion.dataset import dataset_files, load_dataset
    from awd.robot import load_robot_spec
    from awd.tasks.config import env_config_from_mapping
    from awd.tasks import TASKS, DucklingCommand
    from awd.tasks.factory import resolve_dataset

    env = env_config_from_mapping(config["env"], config["sources"]["env"])
    if env.motion_file is None or not issubclass(TASKS[config["task"]], DucklingCommand):
        return None
    spec = load_robot_spec(env.robot)
    path = resolve_dataset(env.motion_file, spec.name, env.source)
    velocities = clip_velocities(load_dataset(path, spec.joint_names))  # validates the dataset first
    names = [Path(file).stem for file in dataset_files(path)]
    ranges = {key: list(getattr(env.commands, key)) for key, _ in AXES}
    ends = uncovered_ends(ranges, velocities, names)
    if not ends:
        return None
    return ("commands beyond every clip: " + "; ".join(ends) + f" (no clip shows the style there; `awd gait --cover "
            f"{config['task']}` writes clips that reach them)")
