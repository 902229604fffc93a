"""What the clips ask that training cannot give, named when a run starts:
- command coverage: a command task's ranges against the velocities its clips walk at. Past the fastest clip on an
  axis no clip shows the style to imitate, and a policy asked to go there must leave its clips' motion or fall short
  of the command (docs/style_rounds.md, tenth round: the duck's lateral extremes);
- joint reach: a policy's PD targets stay within default +- action scale (actions are clipped to [-1, 1]), so a
  joint the clips take further from its default is out of reach, and the policy cannot move like them
  (docs/style_rounds.md, first round: the duck's knees at action scale 0.25);
- the gait clock (awd.tasks.gait_clock): a period more than 15 % off the clips' median stride asks for another
  cadence than the clips show.
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


def joints_out_of_reach(clips, spec, percentile: float = 99.0) -> list[str]:
    """Each joint whose `percentile`-th |clip angle - default| over every frame exceeds its action scale, furthest
    first, as "left_knee_joint 0.63 rad (scale 0.25)"."""
    offsets = np.percentile(np.abs(np.concatenate([clip.joint_pos for clip in clips]) - spec.default_joint_pos),
                            percentile, axis=0)
    ratios = offsets / spec.joint_action_scale
    return [f"{spec.joint_names[j]} {offsets[j]:.2f} rad (scale {spec.joint_action_scale[j]:.2f})"
            for j in np.argsort(-ratios) if ratios[j] > 1.0]


def clock_mismatch(period_s: float, clips, tolerance: float = 0.15) -> str | None:
    """A line when a gait clock's period is more than `tolerance` off the median stride of the clips that step."""
    from awd.style.gait import stride_period

    strides = [p for p in (stride_period(clip.foot_contacts > 0.5, 1.0 / clip.fps) for clip in clips) if p]
    stride = float(np.median(strides)) if strides else None
    if period_s <= 0 or stride is None or abs(period_s - stride) <= tolerance * stride:
        return None
    return (f"the gait clock's period {period_s:g} s is off the clips' stride {stride:.2f} s (median of "
            f"{len(strides)} clips): set env.commands.gait_period_s to it")


def coverage_lines(config: dict) -> list[str]:
    """The start-of-run lines that name the joint angles of the clips beyond the policy's reach and, for a command
    task, the command range ends no clip reaches and a gait clock off the clips' stride (none without clips)."""
    from awd.motion.dataset import dataset_files, load_dataset
    from awd.robot import load_robot_spec
    from awd.tasks.config import env_config_from_mapping
    from awd.tasks import TASKS, DucklingCommand
    from awd.tasks.factory import resolve_dataset

    env = env_config_from_mapping(config["env"], config["sources"]["env"])
    if env.motion_file is None:
        return []
    spec = load_robot_spec(env.robot)
    path = resolve_dataset(env.motion_file, spec.name, env.source)
    clips = load_dataset(path, spec.joint_names)  # validates the dataset first
    lines = []
    far = joints_out_of_reach(clips, spec)
    if far:
        lines.append(f"clip joint angles beyond the policy's reach (default +- action scale, 99th percentile): "
                     f"{', '.join(far[:4])}{f' and {len(far) - 4} more' if len(far) > 4 else ''}; raise "
                     "control.action_scale (or the joints' own) in the robot spec")
    ends = uncovered_ends({key: list(getattr(env.commands, key)) for key, _ in AXES}, clip_velocities(clips),
                          [Path(file).stem for file in dataset_files(path)])
    command_task = issubclass(TASKS[config["task"]], DucklingCommand)
    if ends and command_task:
        lines.append("commands beyond every clip: " + "; ".join(ends) + " (no clip shows the style there; `awd gait "
                     f"--cover {config['task']} --robot {env.robot}` writes clips that reach them)")
    clock = clock_mismatch(env.commands.gait_period_s, clips) if command_task else None
    return lines + [clock] if clock else lines
