"""Command line of the gait generator (`gait_gen/auto_gait_generator.py` is a thin wrapper around `main`).
Flags follow the old AWD `auto_gait_generator.py` (-n, -o, -l, --mini, --preset, --min_/--max_ ranges) plus
--robot, --fps, --seed, -j, --stand, --skip_warmup, --named, --names and --cover."""

from __future__ import annotations

import argparse
import math
import sys
import time

from awd.errors import AwdError, exit_on_error
from awd.gait.batch import (GenerationOptions, balance_warning, default_workers, limit_warnings, named_jobs,
                            random_jobs, run_jobs, summary_table, torque_warning)
from awd.gait.cover import check_cover_robot, generate_cover, task_range_ends
from awd.gait.params import load_walk_params
from awd.robot.spec import load_robot_spec

DEFAULT_RANGES = {"dx": (-0.03, 0.03), "dy": (-0.03, 0.03), "dtheta": (-0.15, 0.15)}  # as the old tool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generate walking reference clips with Placo (per-step displacements drawn uniformly from "
                    "the --min_/--max_ ranges, or the canonical --named set).")
    parser.add_argument("-o", "--output_dir", default="recordings", help="output folder (created; default: recordings)")
    parser.add_argument("-n", "--num_recordings", "--num", type=int, default=None,
                        help="number of random clips (default 10; 0 with --named or --cover)")
    parser.add_argument("-l", "--length", type=float, default=10.0, help="seconds recorded per clip (default 10)")
    parser.add_argument("--fps", type=float, default=50.0, help="frames per second (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random commands (reproducible output)")
    parser.add_argument("-j", "--jobs", type=int, nargs="?", const=default_workers(), default=1,
                        help="worker processes (bare -j: all cores; default 1)")
    parser.add_argument("--robot", default=None,
                        help="robot name or path to a robot.yaml (default mini_bdx, or the --cover task's robot)")
    parser.add_argument("--mini", action="store_true", help="alias of --robot mini_bdx (old tool)")
    parser.add_argument("--preset", default=None,
                        help="JSON of walk parameters overriding the robot's placo_defaults.json")
    for key, (low, high) in DEFAULT_RANGES.items():
        unit = "rad" if key == "dtheta" else "m"
        parser.add_argument(f"--min_{key}", type=float, default=low,
                            help=f"lowest per-step {key} ({unit}, default {low})")
        parser.add_argument(f"--max_{key}", type=float, default=high,
                            help=f"highest per-step {key} ({unit}, default {high})")
    parser.add_argument("--stand", action="store_true", help="standing clips (static initial pose)")
    parser.add_argument("--skip_warmup", action="store_true",
                        help="record from the start of the walk (standing start included) instead of after the warm-up")
    parser.add_argument("--named", action="store_true",
                        help="write the canonical named clips (standing, in_place, forward, backward, left, right, "
                             "turn_left, turn_right, forward_left, forward_right x slow/medium/fast)")
    parser.add_argument("--names", default=None,
                        help="comma-separated clips of the named set only (e.g. standing,forward_medium); "
                        "implies --named")
    parser.add_argument("--cover", default=None, metavar="TASK",
                        help="also write a clip just past each end of a command task's ranges (a task such as "
                             "DucklingCommand, or an env YAML): cover_<axis>_<min|max>.json (awd/gait/cover.py)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary table")
    return parser


def _check_args(args) -> None:
    for key in ("length", "fps", *(f"{end}_{key}" for key in DEFAULT_RANGES for end in ("min", "max"))):
        if not math.isfinite(getattr(args, key)):
            raise AwdError(None, f"--{key}", f"expected a finite number, found {getattr(args, key)}")
    if args.length <= 0:
        raise AwdError(None, "--length", f"expected a positive number of seconds, found {args.length}")
    if args.fps <= 0:
        raise AwdError(None, "--fps", f"expected a positive frame rate, found {args.fps}")
    if args.length * args.fps < 2:
        raise AwdError(None, "--length", f"expected at least 2 frames per clip, found --length {args.length} s x "
                       f"--fps {args.fps} = {args.length * args.fps:g}")
    if args.jobs is not None and args.jobs < 1:
        raise AwdError(None, "--jobs", f"expected at least 1 worker, found {args.jobs}")
    if args.num_recordings is not None and args.num_recordings < 0:
        raise AwdError(None, "--num_recordings", f"expected a count >= 0, found {args.num_recordings}")
    for key in DEFAULT_RANGES:
        low, high = getattr(args, f"min_{key}"), getattr(args, f"max_{key}")
        if low > high:
            raise AwdError(None, f"--min_{key}", f"expected at most --max_{key} ({high}), found {low}")


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    started = time.perf_counter()
    cover_robot, ends = task_range_ends(args.cover) if args.cover else (None, [])
    robot = "mini_bdx" if args.mini else (args.robot or cover_robot or "mini_bdx")
    spec = load_robot_spec(robot)
    if cover_robot is not None:
        check_cover_robot(spec, cover_robot)
    params = load_walk_params(spec, args.preset)  # validated before anything is written
    named = args.named or args.names is not None
    count = args.num_recordings if args.num_recordings is not None else (0 if named or args.cover else 10)
    ranges = {key: (getattr(args, f"min_{key}"), getattr(args, f"max_{key}")) for key in DEFAULT_RANGES}
    for line in clamped_ranges(ranges, params):
        print(f"warning: {line}", file=sys.stderr)
    jobs = _select_named(named_jobs(params), args.names) if named else []
    jobs += random_jobs(count, ranges, args.seed, stand=args.stand)
    options = GenerationOptions(length=args.length, fps=args.fps, skip_warmup=args.skip_warmup)
    results = run_jobs(spec, params, jobs, args.output_dir, options, workers=args.jobs, progress=not args.quiet)
    uncovered = []
    if ends:
        covered, uncovered = generate_cover(spec, params, ends, args.output_dir, options, workers=args.jobs)
        results += covered
    for warning in [*limit_warnings(results), torque_warning(results), balance_warning(results), *uncovered]:
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        print(summary_table(results))
        print(f"{len(results)} clips in {args.output_dir} ({time.perf_counter() - started:.1f} s wall, "
              f"{args.jobs} worker(s))")
    return 0


def clamped_ranges(ranges: dict, params: dict) -> list[str]:
    """One line per range bound beyond the preset's step limits, which Placo's walk planner clamps each step to."""
    limits = {("dx", 1): "walk_max_dx_forward", ("dx", 0): "walk_max_dx_backward", ("dy", 0): "walk_max_dy",
              ("dy", 1): "walk_max_dy", ("dtheta", 0): "walk_max_dtheta", ("dtheta", 1): "walk_max_dtheta"}
    lines = []
    for (key, end), limit in limits.items():
        value, bound = ranges[key][end], params[limit]
        if (value > bound) if end else (value < -bound):
            flag = f"--{'max' if end else 'min'}_{key}"
            lines.append(f"{flag} {value:g} is beyond the preset's {limit} ({bound:g} per step): Placo clamps each "
                         f"step to {'' if end else '-'}{bound:g}")
    return lines


def _select_named(jobs: list, names: str | None) -> list:
    """The named jobs listed in `names` (comma-separated, in that order), or all of them when None."""
    if names is None:
        return jobs
    by_name = {job.name.removesuffix(".json"): job for job in jobs}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown or not wanted:
        raise AwdError(None, "--names",
                       f"expected names from the named set {sorted(by_name)}, found {unknown or names!r}")
    return [by_name[name] for name in wanted]


def main(argv=None) -> int:
    with exit_on_error():
        return run(argv)
    return 2  # pragma: no cover - exit_on_error exits
