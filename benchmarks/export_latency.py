#!/usr/bin/env python
"""Latency of one exported actor call for one observation: ONNX Runtime (one thread, sequential, the
deployment path) and TorchScript (one thread), for the default duck actor and an AWD-sized [1024, 512] one.

    python benchmarks/export_latency.py [--iterations 20000] [--units 256,128 ...] [--json out.json]

The actors are exported exactly as awd.export writes them (normaliser baked in, clip to [-1, 1]) with random
weights; the observation and action sizes come from the default DucklingCommand env (mini_bdx: 54 -> 16) and
the default actor from the train YAML (awd/data/cfg/mini_bdx/train/amp_duckling.yaml). Each call is timed on
its own (perf_counter_ns) after a warm-up; the table gives the median and the 99th percentile in µs.

Measured on the 2-core development machine (shared with other jobs; torch 2.13 CPU, onnxruntime 1.31.1,
20000 calls, target <= 50 µs median with ONNX Runtime):

| actor | parameters | ORT median µs | ORT p99 µs | TorchScript median µs | TorchScript p99 µs |
| --- | ---: | ---: | ---: | ---: | ---: |
| [512, 256, 128] elu (default) | 194,448 | 15.8 | 21.9 | 35.5 | 78.6 |
| [1024, 512] elu (AWD-sized) | 589,328 | 66.1 | 153.1 | 102.4 | 211.2 |
| [256, 128, 128] elu | 65,552 | 10.6 | 14.9 | 26.1 | 62.2 |

The default [512, 256, 128] meets the 50 µs target with room to spare, so it stays the default (the smaller
[256, 128, 128] would save about 5 µs). The AWD-sized actor misses it: 66 µs median here (the issue quotes
196 µs from an earlier run on this machine; the cores are shared, so the numbers move with the load).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
import torch

from awd.config import load_run_config
from awd.export import compile_actor
from awd.learning.network import AMPActorCritic, DeployedActor
from awd.loader import build_contract_env, onnx_session
from awd.utils.io import write_json_atomic

AWD_UNITS = [1024, 512]


def make_actor(units: list[int], activation: str, obs_size: int, action_size: int) -> DeployedActor:
    """A deployable actor with random weights and a random observation normaliser."""
    from rl_games.algos_torch.running_mean_std import RunningMeanStd

    with contextlib.redirect_stdout(io.StringIO()):  # rl_games prints each normaliser's shape
        stats = RunningMeanStd((obs_size,))
    network = AMPActorCritic({"actor": {"units": units, "activation": activation}, "critic": {"units": [8]},
                              "disc": {"units": [8]}}, obs_size, action_size, 1, 8)
    stats.running_mean.normal_()
    stats.running_var.uniform_(0.5, 2.0)
    return DeployedActor(network, stats).eval()


def time_calls(call, obs, iterations: int, warmup: int) -> np.ndarray:
    """Per-call wall time in µs."""
    for _ in range(warmup):
        call(obs)
    samples = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter_ns()
        call(obs)
        samples[i] = time.perf_counter_ns() - start
    return samples / 1000.0


def measure(units: list[int], activation: str, obs_size: int, action_size: int, iterations: int, warmup: int) -> dict:
    actor = make_actor(units, activation, obs_size, action_size)
    onnx_model, scripted = compile_actor(actor, obs_size)
    session = onnx_session(onnx_model.SerializeToString(), threads=1)
    obs = np.random.default_rng(0).standard_normal((1, obs_size)).astype(np.float32)
    ort_us = time_calls(lambda x: session.run(["actions"], {"obs": x}), obs, iterations, warmup)
    with torch.no_grad():
        scripted_us = time_calls(scripted, torch.from_numpy(obs), iterations, warmup)
    return {"units": units, "activation": activation, "parameters": sum(p.numel() for p in actor.parameters()),
            "ort_median_us": float(np.median(ort_us)), "ort_p99_us": float(np.percentile(ort_us, 99)),
            "torchscript_median_us": float(np.median(scripted_us)),
            "torchscript_p99_us": float(np.percentile(scripted_us, 99))}


def format_table(rows: list[dict], default_units: list[int]) -> str:
    lines = ["| actor | parameters | ORT median µs | ORT p99 µs | TorchScript median µs | TorchScript p99 µs |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        name = f"{row['units']} {row['activation']}"
        name += " (default)" if row["units"] == default_units else " (AWD-sized)" if row["units"] == AWD_UNITS else ""
        lines.append(f"| {name} | {row['parameters']:,} | {row['ort_median_us']:.1f} | {row['ort_p99_us']:.1f} "
                     f"| {row['torchscript_median_us']:.1f} | {row['torchscript_p99_us']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--units", nargs="*", default=[], help="more actor sizes, e.g. 256,128")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = load_run_config("DucklingCommand")
    env = build_contract_env("DucklingCommand", config["env"], config["sources"]["env"])
    actor_config = config["train"]["params"]["network"]["actor"]
    sizes = [actor_config["units"], AWD_UNITS, *([int(u) for u in text.split(",")] for text in args.units)]
    rows = [measure(units, actor_config["activation"], env.num_obs, env.num_actions, args.iterations, args.warmup)
            for units in sizes]
    print(f"one observation ({env.num_obs} -> {env.num_actions}), {args.iterations} calls, one thread")
    print(format_table(rows, actor_config["units"]), flush=True)
    if args.json:
        write_json_atomic(args.json, rows, indent=2)
    return rows


if __name__ == "__main__":
    main()
