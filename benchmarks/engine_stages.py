"""Milliseconds per CUDA-graph launch of the MuJoCo Warp engine's pieces, for the task's robot and tracked
bodies at each env count: where a policy step's GPU time goes, and what the engine's step layout saves.

    policy step       engine.step's graph: decimation x step, the position stage
    position stage    fwd_kinematics + collision + sensor_pos: what a reset replays
    forward           a full mjw.forward (what a reset replayed before: the constraint solve included)
    step              one mjw.step (one substep, sensors off)
    collision         mjw.collision alone
    step2 layout      the earlier layout: step2 + (decimation - 1) x step + forward (with its reset forward,
                      the cost this engine's step + position stage replaced)

Each graph is captured once, launched `--warmup` times, then timed over `--launches` launches with CUDA events
(median of 3 blocks). The robots stand at the default pose with default targets (contacts on both feet).

    python benchmarks/engine_stages.py [--robot mini_bdx] [--num_envs 4096 8192 16384] [--launches 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from awd.engine import make_engine  # noqa: E402
from awd.errors import exit_on_error  # noqa: E402
from awd.robot import load_robot_spec  # noqa: E402
from awd.engine import default_tracked_bodies as tracked_bodies  # noqa: E402


def stage_kernels(engine) -> dict:
    m, d, mjw, decimation = engine._m, engine._d, engine._mjw, engine.spec.decimation

    def step2_layout():
        mjw.step2(m, d)
        engine._substeps_without_sensors(decimation - 1)
        mjw.forward(m, d)

    return {"policy step": engine._step_kernels, "position stage": engine._position_kernels,
            "forward": lambda: mjw.forward(m, d), "step": lambda: engine._substeps_without_sensors(1),
            "collision": lambda: mjw.collision(m, d), "step2 layout": step2_layout}


def time_graph(engine, kernels, warmup: int, launches: int) -> float:
    wp = engine._wp
    with wp.ScopedCapture(device=engine._wp_device) as capture:
        kernels()
    for _ in range(warmup):
        wp.capture_launch(capture.graph)
    blocks = []
    for _ in range(3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(launches):
            wp.capture_launch(capture.graph)
        end.record()
        end.synchronize()
        blocks.append(start.elapsed_time(end) / launches)
    return statistics.median(blocks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="mini_bdx")
    parser.add_argument("--num_envs", type=int, nargs="+", default=[4096, 8192, 16384])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--launches", type=int, default=100)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("engine_stages: needs a CUDA GPU and mujoco_warp", file=sys.stderr)
        return 2
    with exit_on_error():
        spec = load_robot_spec(args.robot)
        rows = []
        for num_envs in args.num_envs:
            engine = make_engine("mujoco_warp", spec, num_envs, args.device, tracked_bodies(spec))
            targets = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32, device=engine.device)
            engine.step(targets.expand(num_envs, -1).contiguous())
            rows.append((num_envs, {name: time_graph(engine, kernels, args.warmup, args.launches)
                                    for name, kernels in stage_kernels(engine).items()}))
            del engine
    names = list(rows[0][1])
    print(f"{spec.name}, decimation {spec.decimation}, {torch.cuda.get_device_name()}: ms per graph launch\n")
    print("| envs | " + " | ".join(names) + " |")
    print("| ---: |" + " ---: |" * len(names))
    for num_envs, times in rows:
        print(f"| {num_envs} | " + " | ".join(f"{times[name]:.3f}" for name in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
