"""Batch generation: lists of clip jobs (random commands drawn from ranges, or the canonical named set), run in
this process or in worker processes (one WalkEngine per worker), each clip saved atomically; a summary table.
Random commands are drawn in the parent from one seeded generator, so the output does not depend on -j."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from awd.errors import AwdError
from awd.gait.clip_checks import check_soles, joints_at_limits
from awd.gait.engine import WalkCommand, WalkEngine
from awd.gait.feasibility import TorqueModel
from awd.gait.params import WalkParams
from awd.motion.clip import save_clip
from awd.robot.spec import RobotSpec

COMMAND_DECIMALS = 4  # random per-step displacements are rounded to 0.1 mm / 0.1 mrad
SPEED_FRACTIONS = {"slow": 0.25, "medium": 0.5, "fast": 0.75}  # of walk_max_dx_forward / walk_max_dy
BACKWARD_FRACTIONS = {"slow": 1 / 3, "medium": 2 / 3, "fast": 1.0}  # of walk_max_dx_backward
TURN_PER_STEP = {"slow": 0.08, "medium": 0.16, "fast": 0.24}  # rad per step (capped by walk_max_dtheta)
LATERAL_FRACTIONS = {"slow": 0.1, "medium": 0.2, "fast": 0.3}  # of walk_max_dy
BALANCE_TOLERANCE = 0.02  # m of the centre of pressure outside the stance sole (95th percentile) before a warning


@dataclass(frozen=True)
class ClipJob:
    """One clip to generate: output file name and command."""

    name: str
    dx: float = 0.0
    dy: float = 0.0
    dtheta: float = 0.0
    stand: bool = False

    @property
    def command(self) -> WalkCommand:
        return WalkCommand(self.dx, self.dy, self.dtheta)


@dataclass(frozen=True)
class GenerationOptions:
    length: float = 10.0
    fps: float = 50.0
    skip_warmup: bool = False


@dataclass
class ClipResult:
    path: Path
    job: ClipJob
    measured: dict
    seconds: float
    ik_solves: int
    torque: tuple[str, float]  # the joint whose 95th-percentile |torque| / effort limit is highest, and that share
    cop_outside: float  # m: 95th percentile of the centre of pressure's distance outside the stance sole
    at_limits: list[tuple[str, float]]  # joints at a range bound in more than 10 % of the frames, and their share


def random_jobs(count: int, ranges: dict, seed: int | None, stand: bool = False) -> list[ClipJob]:
    """`count` jobs with dx, dy, dtheta drawn uniformly (and independently) from `ranges` = {"dx": (lo, hi), ...}."""
    rng = np.random.default_rng(seed)
    jobs = []
    for index in range(count):
        draws = {key: round(float(rng.uniform(*ranges[key])), COMMAND_DECIMALS) for key in ("dx", "dy", "dtheta")}
        if stand:
            draws = {"dx": 0.0, "dy": 0.0, "dtheta": 0.0}
        prefix = "standing" if stand else "random"
        jobs.append(ClipJob(name=f"{prefix}_{index:03d}.json", stand=stand, **draws))
    return jobs


def named_jobs(params: WalkParams) -> list[ClipJob]:
    """The canonical set: standing (static), in_place (stepping on the spot), then forward, backward, left,
    right, turn_left, turn_right, forward_left, forward_right, each at slow / medium / fast."""
    jobs = [ClipJob("standing.json", stand=True), ClipJob("in_place.json")]
    for speed, fraction in SPEED_FRACTIONS.items():
        forward = round(fraction * params["walk_max_dx_forward"], COMMAND_DECIMALS)
        backward = round(BACKWARD_FRACTIONS[speed] * params["walk_max_dx_backward"], COMMAND_DECIMALS)
        lateral = round(LATERAL_FRACTIONS[speed] * params["walk_max_dy"], COMMAND_DECIMALS)
        turn = round(min(TURN_PER_STEP[speed], params["walk_max_dtheta"]), COMMAND_DECIMALS)
        diagonal_x, diagonal_y = round(0.7 * forward, COMMAND_DECIMALS), round(0.7 * lateral, COMMAND_DECIMALS)
        motions = {
            "forward": (forward, 0.0, 0.0), "backward": (-backward, 0.0, 0.0),
            "left": (0.0, lateral, 0.0), "right": (0.0, -lateral, 0.0),
            "turn_left": (0.0, 0.0, turn), "turn_right": (0.0, 0.0, -turn),
            "forward_left": (diagonal_x, diagonal_y, 0.0), "forward_right": (diagonal_x, -diagonal_y, 0.0),
        }
        jobs += [ClipJob(f"{motion}_{speed}.json", *command) for motion, command in motions.items()]
    return jobs


# ----------------------------------------------------------------------------------------- workers

_ENGINE: WalkEngine | None = None
_TORQUES: TorqueModel | None = None
_OPTIONS: GenerationOptions | None = None


def _init_worker(spec: RobotSpec, params: WalkParams, options: GenerationOptions) -> None:
    global _ENGINE, _TORQUES, _OPTIONS
    _ENGINE = WalkEngine(spec, params)
    _TORQUES = TorqueModel(spec)
    _OPTIONS = options


def _run_job(job: ClipJob, output_dir: Path) -> ClipResult:
    """Generate one clip and save it atomically (a failure leaves no file behind)."""
    path = output_dir / job.name
    try:
        recording = _ENGINE.generate(job.command, _OPTIONS.length, _OPTIONS.fps, stand=job.stand,
                                     skip_warmup=_OPTIONS.skip_warmup)
    except RuntimeError as error:  # Placo reports failures (infeasible QP, ...) as RuntimeError
        raise AwdError(path, None,
                       f"generation failed for dx={job.dx}, dy={job.dy}, dtheta={job.dtheta}: {error}") from None
    clip, spec = recording.clip, _ENGINE.spec
    check_soles(clip, path)
    save_clip(clip, path)
    measured, demand = clip.metadata["Generator"]["measured_velocity"], _TORQUES.demand(clip)
    return ClipResult(path=path, job=job, measured=measured, seconds=recording.seconds, ik_solves=recording.ik_solves,
                      torque=demand.worst, cop_outside=demand.cop_outside,
                      at_limits=joints_at_limits(clip, spec.joint_lower, spec.joint_upper))


def _run_job_in_worker(job: ClipJob, output_dir: Path):
    """`_run_job` for a pool: an AwdError comes back as its parts (it does not survive pickling as is)."""
    try:
        return _run_job(job, output_dir)
    except AwdError as error:
        return ("AwdError", error.source, error.field, error.message)


def run_jobs(spec: RobotSpec, params: WalkParams, jobs: list[ClipJob], output_dir, options: GenerationOptions,
             workers: int = 1, progress: bool = True) -> list[ClipResult]:
    """Generate every job into `output_dir` with `workers` processes; results in job order. The first failure
    cancels the jobs not yet started and is raised after the running ones finish."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(int(workers), len(jobs) or 1))
    bar = _progress_bar(len(jobs), progress)
    results = {}
    try:
        if workers == 1:
            _init_worker(spec, params, options)
            for job in jobs:
                results[job.name] = _run_job(job, output_dir)
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(spec, params, options)) as pool:
                futures = {pool.submit(_run_job_in_worker, job, output_dir): job for job in jobs}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        if future.exception() is not None:
                            for other in pending:
                                other.cancel()
                            raise future.exception()
                        result = future.result()
                        if isinstance(result, tuple):
                            for other in pending:
                                other.cancel()
                            raise AwdError(*result[1:])
                        results[futures[future].name] = result
                        bar.update(1)
    finally:
        bar.close()
    return [results[job.name] for job in jobs]


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, unit="clip", disable=not enabled, dynamic_ncols=True)


def summary_table(results: list[ClipResult]) -> str:
    """Fixed-width table: file, requested per-step command, measured heading-frame velocities, seconds, torque."""
    header = (f"{'file':<28} {'dx':>7} {'dy':>7} {'dtheta':>7} | {'vx':>7} {'vy':>7} {'wz':>7} | {'seconds':>7} | "
              "CoP out mm | torque / limit")
    lines = [header, "-" * len(header)]
    for result in results:
        job, measured = result.job, result.measured
        lines.append(f"{result.path.name:<28} {job.dx:>7.4f} {job.dy:>7.4f} {job.dtheta:>7.4f} | "
                     f"{measured['vx']:>7.3f} {measured['vy']:>7.3f} {measured['wz']:>7.3f} | {result.seconds:>7.2f} | "
                     f"{1e3 * result.cop_outside:>10.0f} | {result.torque[1]:.2f} {result.torque[0]}")
    lines.append("requested: per-step displacement (m, m, rad); measured: mean root velocity in the heading frame "
                 "over whole gait periods (m/s, m/s, rad/s); CoP out: in single support, the 95th percentile of how "
                 "far the centre of pressure lies outside the stance sole (awd.gait.balance); torque: the most loaded "
                 "joint's 95th-percentile |torque| / effort limit to perform the clip exactly (awd.gait.feasibility)")
    return "\n".join(lines)


def limit_warnings(results: list[ClipResult]) -> list[str]:
    """One line per clip with joints at a range bound in more than 10 % of its frames."""
    return [f"{result.path.name}: " + ", ".join(f"{name} at its limit in {share:.0%} of the frames"
                                                for name, share in result.at_limits)
            + " (the walk asks more range than the joint has)" for result in results if result.at_limits]


def _beyond(results: list[ClipResult], value, limit: float) -> tuple[list[ClipResult], ClipResult | None]:
    """The results whose `value` exceeds `limit`, and the one furthest beyond it (None if none)."""
    over = [result for result in results if value(result) > limit]
    return over, max(over, key=value, default=None)


def torque_warning(results: list[ClipResult]) -> str | None:
    """One line when clips need more torque than the robot has (95th percentile beyond a joint's effort limit)."""
    over, worst = _beyond(results, lambda result: result.torque[1], 1.0)
    if not over:
        return None
    return (f"{len(over)} of {len(results)} clips need more than a joint's effort limit to be performed exactly "
            f"(worst: {worst.path.name}, {worst.torque[0]} at {worst.torque[1]:.2f} x its limit); a policy "
            "can only approximate them, and a discriminator tells its motion from them. Slower steps "
            "(single_support_duration) or a lower walk_foot_height ask less (docs/gait_generator.md)")


def balance_warning(results: list[ClipResult]) -> str | None:
    """One line when clips put the centre of pressure more than BALANCE_TOLERANCE outside the stance sole."""
    over, worst = _beyond(results, lambda result: result.cop_outside, BALANCE_TOLERANCE)
    if not over:
        return None
    return (f"{len(over)} of {len(results)} clips put the centre of pressure more than {1e3 * BALANCE_TOLERANCE:g} mm "
            f"outside the stance sole (worst: {worst.path.name}, {1e3 * worst.cop_outside:.0f} mm at the 95th "
            "percentile): their swinging limbs tip the robot over, so a policy cannot perform them as they are. "
            "Slower steps (single_support_duration) or a lower walk_foot_height ask less (docs/gait_generator.md)")


def default_workers() -> int:
    return os.cpu_count() or 1

