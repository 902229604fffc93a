#!/usr/bin/env python
"""Benchmark of the Placo gait generator: start-up time, seconds per 10-s clip on one core (generation and
saving, with IK solver statistics), and the wall time of the CLI for N clips with `-j 2`.
`python benchmarks/gait_gen.py [--clips 100] [--single 5] [--jobs 2]`."""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # harmless when awd is installed

SCRIPT = REPO / "gait_gen" / "auto_gait_generator.py"


def cli_wall_time(arguments, output_dir) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(SCRIPT), "-q", "-o", str(output_dir), *arguments], check=True)
    return time.perf_counter() - started


def single_core(count: int, length: float, fps: float) -> dict:
    import numpy as np

    from awd.gait import WalkCommand, WalkEngine, load_walk_params
    from awd.motion.clip import save_clip
    from awd.robot import load_robot_spec

    started = time.perf_counter()
    spec = load_robot_spec("mini_bdx")
    engine = WalkEngine(spec, load_walk_params(spec))
    setup = time.perf_counter() - started
    rng = np.random.default_rng(0)
    generate, save, solves, replans, frames = [], [], 0, 0, 0
    with tempfile.TemporaryDirectory() as folder:
        for index in range(count):
            command = WalkCommand(*rng.uniform([-0.03, -0.03, -0.15], [0.03, 0.03, 0.15]))
            recording = engine.generate(command, length, fps)
            generate.append(recording.seconds)
            started = time.perf_counter()
            save_clip(recording.clip, Path(folder) / f"{index}.json")
            save.append(time.perf_counter() - started)
            solves += recording.ik_solves
            replans += recording.replans
            frames += recording.clip.num_frames
            substeps = recording.stats["substeps_per_frame"]
    total_generate = sum(generate)
    return {"setup": setup, "generate": total_generate / count, "save": sum(save) / count,
            "solves_per_clip": solves / count, "replans_per_clip": replans / count, "substeps": substeps,
            "solves_per_second": solves / total_generate, "frames_per_clip": frames / count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100, help="clips for the parallel run (default 100)")
    parser.add_argument("--jobs", type=int, default=2, help="workers for the parallel run (default 2)")
    parser.add_argument("--single", type=int, default=5, help="clips timed on one core (default 5)")
    parser.add_argument("--length", type=float, default=10.0, help="clip length in seconds (default 10)")
    parser.add_argument("--fps", type=float, default=50.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        startup = cli_wall_time(["-n", "0"], Path(folder) / "empty")
    single = single_core(args.single, args.length, args.fps)
    with tempfile.TemporaryDirectory() as folder:
        parallel = cli_wall_time(["-n", str(args.clips), "-j", str(args.jobs), "-l", str(args.length),
                                  "--fps", str(args.fps), "--seed", "0"], Path(folder) / "clips")

    per_clip = single["generate"] + single["save"]
    rows = [
        ("start-up: CLI with -n 0 (python, imports, robot spec) [s]", f"{startup:.2f}"),
        ("start-up: spec + engine in process [s]", f"{single['setup']:.2f}"),
        (f"one core: seconds per {args.length:g}-s clip, generate + save [s]", f"{per_clip:.3f}"),
        ("  of which generate (IK + walk planning) [s]", f"{single['generate']:.3f}"),
        ("  of which save_clip (JSON) [s]", f"{single['save']:.3f}"),
        ("  frames per clip / IK substeps per frame", f"{single['frames_per_clip']:.0f} / {single['substeps']}"),
        ("  IK solves per clip (warm-up included) / replans per clip",
         f"{single['solves_per_clip']:.0f} / {single['replans_per_clip']:.0f}"),
        ("  IK solves per second of CPU (planning included)", f"{single['solves_per_second']:.0f}"),
        (f"{args.clips} clips with -j {args.jobs}: total wall time [s]", f"{parallel:.1f}"),
        ("  wall seconds per clip", f"{parallel / max(args.clips, 1):.3f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'measure':<{width}}  value")
    print("-" * (width + 10))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"(single-core numbers are means over {args.single} clips of random commands, {args.fps:g} fps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
