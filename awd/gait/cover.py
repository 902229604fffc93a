"""Clips at the ends of a command task's ranges (`awd gait --cover TASK`): one clip per non-zero end of each
command axis, walking a little past it (`COVER_MARGIN`), so that a policy commanded at an extreme has a clip
to imitate there (awd/style/coverage.py names the ends a dataset leaves uncovered). Placo takes per-step
displacements, and the velocity a displacement gives is not linear in it across axes (a lateral step moves the
root less than its length), so each clip is generated up to `PASSES` times, its displacement scaled by the
velocity asked over the velocity measured, until it is within `TOLERANCE`. A displacement beyond the preset's
step limit is clamped to it (Placo would) and said.
"""

from __future__ import annotations

from dataclasses import dataclass

from awd.errors import AwdError
from awd.gait.batch import ClipJob, ClipResult, GenerationOptions, run_jobs

COVER_MARGIN = 0.03
TOLERANCE = 0.01
PASSES = 3
AXES = {"lin_vel_x": ("dx", "vx"), "lin_vel_y": ("dy", "vy"), "ang_vel_z": ("dtheta", "wz")}


@dataclass(frozen=True)
class RangeEnd:
    axis: str        # lin_vel_x, lin_vel_y or ang_vel_z
    velocity: float  # the range's end (m/s or rad/s)

    @property
    def name(self) -> str:
        return f"cover_{self.axis}_{'max' if self.velocity > 0 else 'min'}.json"

    @property
    def target(self) -> float:
        return self.velocity * (1.0 + COVER_MARGIN)


def task_range_ends(task: str) -> tuple[str, list[RangeEnd]]:
    """(robot name, the non-zero ends of the command ranges) of a registered command task or an env YAML."""
    from pathlib import Path

    from awd.config import load_run_config
    from awd.tasks import TASKS, DucklingCommand
    from awd.tasks.config import env_config_from_mapping, load_env_config

    if task in TASKS:
        if not issubclass(TASKS[task], DucklingCommand):
            raise AwdError(None, "--cover", f"expected a command task (DucklingCommand, G1Command), found {task!r}")
        config = load_run_config(task)
        env = env_config_from_mapping(config["env"], config["sources"]["env"])
    elif Path(task).suffix.lower() in (".yaml", ".yml"):
        env = load_env_config(task)
    else:
        raise AwdError(None, "--cover", f"expected a command task ({', '.join(sorted(TASKS))}) or an env YAML, "
                       f"found {task!r}")
    ends = [RangeEnd(axis, float(end)) for axis in AXES for end in getattr(env.commands, axis) if end != 0]
    return env.robot, ends


def check_cover_robot(spec, task_robot: str) -> None:
    """The clips of a --cover task are for its robot or a variant of it, one whose joints are all among the task
    robot's or the reverse (g1_23dof for G1Command); anything else is an AwdError."""
    from awd.robot.spec import load_robot_spec

    joints, task_joints = set(spec.joint_names), set(load_robot_spec(task_robot).joint_names)
    if not (joints <= task_joints or task_joints <= joints):
        raise AwdError(None, "--robot", f"expected the --cover task's robot {task_robot!r} or a variant of it (its "
                       f"joints, some locked), found {spec.name!r}")


def step_limit(params: dict, axis: str, velocity: float) -> tuple[str, float]:
    """The preset's per-step limit (its key, its value) for a displacement along `axis` in the direction of
    `velocity`."""
    key = {"lin_vel_x": "walk_max_dx_forward" if velocity > 0 else "walk_max_dx_backward",
           "lin_vel_y": "walk_max_dy", "ang_vel_z": "walk_max_dtheta"}[axis]
    return key, float(params[key])


def cover_jobs(ends: list[RangeEnd], displacements: dict[str, float], params: dict
               ) -> tuple[list[ClipJob], dict[str, str]]:
    """A job per end at its displacement, clamped to the preset's step limit, and a line per clamped end."""
    jobs, clamped = [], {}
    for end in ends:
        key, limit = step_limit(params, end.axis, end.velocity)
        step = displacements[end.name]
        if abs(step) > limit:
            clamped[end.name] = (f"{end.name}: {end.axis} {end.target:+.3f} needs {AXES[end.axis][0]} {step:+.4f} "
                                 f"per step, beyond the preset's {key} ({limit:g}): clamped (raise it in a --preset, "
                                 "or narrow the command range)")
            step = limit if step > 0 else -limit
        jobs.append(ClipJob(end.name, **{AXES[end.axis][0]: round(step, 5)}))
    return jobs, clamped


def generate_cover(spec, params: dict, ends: list[RangeEnd], output_dir, options: GenerationOptions,
                   workers: int = 1) -> tuple[list[ClipResult], list[str]]:
    """The clips of `ends` in `output_dir` (the last pass's), and a line per end they could not reach."""
    step_s = float(params["single_support_duration"]) / (1.0 - float(params["double_support_ratio"]))
    displacements = {end.name: end.target * step_s for end in ends}
    for _ in range(PASSES):
        jobs, clamped = cover_jobs(ends, displacements, params)
        results = run_jobs(spec, params, jobs, output_dir, options, workers=workers, progress=False)
        reached = {end.name: result.measured[AXES[end.axis][1]] for end, result in zip(ends, results)}
        pending = [(end, job) for end, job in zip(ends, jobs) if end.name not in clamped
                   and abs(reached[end.name] - end.target) > TOLERANCE * abs(end.target)]
        if not pending:
            break
        for end, job in pending:
            if reached[end.name] * end.target > 0:
                displacements[end.name] = getattr(job, AXES[end.axis][0]) * end.target / reached[end.name]
    short = [f"{end.name}: {end.axis} {reached[end.name]:+.3f} reached, {end.velocity:+.3f} asked"
             for end in ends if abs(reached[end.name]) < abs(end.velocity)]
    return results, list(clamped.values()) + short
