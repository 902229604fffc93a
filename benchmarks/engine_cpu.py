"""Throughput of the CPU MuJoCo engine against raw MuJoCo physics on the same threads.

Engine: `engine.step(targets)` (decimation physics steps, the position stage of the new state, state
gathering and the torch/float32 conversion). Raw: the same MjDatas stepped with `mj_step(m, d, decimation)` from the
same
thread pool, nothing read back. Both start from the default standing pose and replay the same random PD
targets (default pose + U(-0.3, 0.3) rad); no resets during timing (fallen robots keep simulating in both).
Best of `--repeats` timed blocks.

    python benchmarks/engine_cpu.py [--envs 16 64 256] [--steps 200] [--threads N]

Measured (mini_bdx, decimation 4, 2 threads, mujoco 4.0.0) on 2 shared cores, two invocations (wall-clock
rates swing up to 2x between runs on shared cores; the overhead as the ratio of process CPU time, engine /
raw, is steadier):

| envs | engine env-steps/s | raw env-steps/s | overhead, CPU time |
| ---: | ---: | ---: | ---: |
| 16 | 13,600 | 20,200 | 1.34 to 1.35x |
| 64 | 17,500 | 22,600 | 1.22 to 1.23x |
| 256 | 16,700 | 20,600 | 1.20 to 1.21x |

Nearly all of the overhead is the position stage per policy step (mj_fwdPosition and mj_sensorPos) that makes
contacts and body positions those of the new state (see awd/engine/mujoco_cpu.py); gathering and converting
the state of 64 envs costs about 0.07 ms per policy step.
"""

from __future__ import annotations

import argparse
import time

import mujoco
import numpy as np
import torch

from awd.engine.mujoco_cpu import MujocoCpuEngine
from awd.robot import load_robot_spec


def reset_default(engine: MujocoCpuEngine) -> None:
    spec, n = engine.spec, engine.num_envs
    zeros = torch.zeros(n, 3, dtype=torch.float64)
    engine.reset(torch.arange(n), torch.tensor([0.0, 0.0, spec.init_root_height]).expand(n, 3),
                 torch.as_tensor(spec.init_root_quat).expand(n, 4), zeros, zeros,
                 torch.as_tensor(spec.default_joint_pos).expand(n, -1), torch.zeros(n, spec.num_joints))


def raw_step(engine: MujocoCpuEngine, targets: np.ndarray) -> None:
    decimation = engine.spec.decimation

    def chunk(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            d = engine._datas[i]
            d.ctrl[:] = targets[i]
            mujoco.mj_step(engine._models[i], d, decimation)

    if engine._pool is None:
        chunk(0, engine.num_envs)
    else:
        for future in [engine._pool.submit(chunk, lo, hi) for lo, hi in engine._chunks]:
            future.result()


def measure(num_envs: int, steps: int, repeats: int, threads: int | None) -> tuple[float, float, float]:
    spec = load_robot_spec("mini_bdx")
    engine = MujocoCpuEngine(spec, num_envs, num_threads=threads)
    rng = np.random.default_rng(0)
    targets = spec.default_joint_pos + rng.uniform(-0.3, 0.3, (steps, num_envs, spec.num_joints))
    targets_torch = torch.as_tensor(targets, dtype=torch.float32)
    best_engine = best_raw = cpu_engine = cpu_raw = float("inf")
    for _ in range(repeats):
        reset_default(engine)
        start, cpu = time.perf_counter(), time.process_time()
        for k in range(steps):
            engine.step(targets_torch[k])
        best_engine = min(best_engine, time.perf_counter() - start)
        cpu_engine = min(cpu_engine, time.process_time() - cpu)
        reset_default(engine)
        start, cpu = time.perf_counter(), time.process_time()
        for k in range(steps):
            raw_step(engine, targets[k])
        best_raw = min(best_raw, time.perf_counter() - start)
        cpu_raw = min(cpu_raw, time.process_time() - cpu)
    engine.close()
    return num_envs * steps / best_engine, num_envs * steps / best_raw, cpu_engine / cpu_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print("| envs | engine env-steps/s | raw env-steps/s | overhead (wall) | overhead (CPU time) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for num_envs in args.envs:
        engine_rate, raw_rate, cpu_ratio = measure(num_envs, args.steps, args.repeats, args.threads)
        print(f"| {num_envs} | {engine_rate:,.0f} | {raw_rate:,.0f} | {raw_rate / engine_rate:.2f}x "
              f"| {cpu_ratio:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
