"""Cold start of the MuJoCo Warp engine: seconds from an empty Warp kernel cache (and no CUDA compute cache) to
the end of a first policy step, with the step's modules compiled in parallel (the engine's default,
awd/engine/warp_compile.py) and one after another at their first launch (Warp's own way). Each measurement is a
fresh process with its own empty cache directory.

    python benchmarks/cold_start.py [--robots mini_bdx g1] [--num_envs 8192] [--device cuda:0] [--modes parallel]

Measured on one H200 (16 cores; warp-lang 1.19.0, mujoco-warp 4.0.0, Warp's default -O2), 8192 envs, each a
fresh process with the Warp and CUDA caches deleted:

| robot | one by one | in parallel |
| --- | ---: | ---: |
| mini_bdx | 112.0 s | 53.2 s |
| g1 | 145.2 s | 59.9 s |

The largest single module then was MuJoCo Warp's convex collision kernel (GJK/EPA), 34-41 s by itself, compiled
for the feet's box-box pairs; the engine now hands those to the box-box collider CPU MuJoCo uses, so neither robot
compiles it: in parallel, mini_bdx 28.6 s and g1 33.4 s (`--modes parallel`, same machine). On Warp's CPU
backend (`--device cpu --num_envs 4 --robots mini_bdx`, 2 cores): 37.5 s against 23.8 s with the convex kernel,
32.2 s against 22.3 s without it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys, time
import warp
warp.config.kernel_cache_dir = sys.argv[1]
import torch
import awd.engine.mujoco_warp as engine_module
from awd.engine import default_tracked_bodies, make_engine
from awd.robot import load_robot_spec
if sys.argv[2] == "serial":
    engine_module.compile_in_parallel = lambda *args, **kwargs: 0
spec = load_robot_spec(sys.argv[3])
num_envs = int(sys.argv[5])
start = time.perf_counter()
engine = make_engine("mujoco_warp", spec, num_envs, sys.argv[4], default_tracked_bodies(spec))
engine.step(torch.as_tensor(spec.default_joint_pos, dtype=torch.float32, device=engine.device).expand(num_envs, -1))
if engine.device.type == "cuda":
    torch.cuda.synchronize()
print(time.perf_counter() - start)
"""


def cold_seconds(robot: str, mode: str, device: str, num_envs: int) -> float:
    """Seconds to build the engine and step once, in a fresh process with an empty kernel cache."""
    with tempfile.TemporaryDirectory(prefix="awd-cold-") as cache:
        env = {**os.environ, "CUDA_CACHE_DISABLE": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-c", PROBE, cache, mode, robot, device, str(num_envs)],
                              capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"cold_start: {robot} ({mode}) failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", default=["mini_bdx", "g1"])
    parser.add_argument("--num_envs", type=int, default=8192)
    parser.add_argument("--device", default="cuda:0", help="cuda:N, or cpu (Warp's CPU backend)")
    parser.add_argument("--modes", nargs="+", choices=("serial", "parallel"), default=["serial", "parallel"],
                        help="which compiles to time (a mode left out prints as -)")
    args = parser.parse_args(argv)
    print(f"| robot | one by one | in parallel |   ({args.num_envs} envs on {args.device}, empty caches)")
    print("| --- | ---: | ---: |")
    for robot in args.robots:
        cells = [f"{cold_seconds(robot, mode, args.device, args.num_envs):.1f} s" if mode in args.modes else "-"
                 for mode in ("serial", "parallel")]
        print(f"| {robot} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
