"""What a command policy does at each command along one axis, the other two zero: the velocity it reaches, its gain
(reached / commanded on that axis), whether it falls, its stride and double support. Measured as the style judge
measures its command extremes (awd.style.judge): envs on CPU MuJoCo (or another engine) from the default pose,
`settle_s`, then the mean over `measure_s`; but `repeats` envs per command, averaged, since one episode's speed
depends on where its gait clock started (a G1 policy's sideways speed: up to 0.04 m/s between starts). The
commands run from the axis's range minimum to its maximum, each end times `beyond` (1.5: half as far again past
the ends), the zero command left out. A policy that reaches three quarters of every sideways command has a gain
to fix, not a reach (docs/style_rounds.md, twentieth round). With `stop_s`, a second run walks each command as long
and then gets the zero command, as a released joystick gives it, for `stop_s`: the envs that fall then are the
row's `stop_falls` (a G1 policy fell 1-2 s after every stop from 0.5 m/s, twenty-fourth round). CLI:
benchmarks/command_sweep.py.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from awd.errors import AwdError, exit_on_error
from awd.style.gait import gait_stats
from awd.style.judge import PolicyUnderTest, StyleSettings, commanded, load_policy_under_test
from awd.style.recording import build_style_env, rollout
from awd.tasks.config import COMMAND_AXES as AXES


def sweep_commands(commands, axis: str, steps: int, beyond: float = 1.0) -> np.ndarray:
    """(K, 3) commands evenly from the range minimum to its maximum of `axis` (each times `beyond`), the others
    zero, without the zero command; `commands` is a task config's CommandsConfig."""
    if axis not in AXES:
        raise AwdError("command line", "--axis", f"expected one of {', '.join(AXES)}, found {axis!r}")
    if steps < 2 or beyond <= 0:
        raise AwdError("command line", "--steps/--beyond", "expected at least 2 steps and beyond > 0")
    low, high = (beyond * value for value in getattr(commands, axis))
    values = np.linspace(low, high, steps)
    values = values[np.abs(values) > 1e-9]
    sweep = np.zeros((len(values), 3))
    sweep[:, AXES.index(axis)] = values
    return sweep


def sweep_policy(policy: PolicyUnderTest, axis: str, settings: StyleSettings = StyleSettings(), steps: int = 9,
                 beyond: float = 1.0, repeats: int = 4, stop_s: float = 0.0) -> dict:
    """The sweep report of a command policy along `axis` (see the module docstring)."""
    if not commanded(policy.env_config):
        raise AwdError(policy.name, "task", f"expected a command policy, found {policy.env_config['task']!r} "
                                            "(an imitation policy takes no command)")
    start = time.perf_counter()
    cfg = policy.task_config()
    if repeats < 1 or stop_s < 0:
        raise AwdError("command line", "--repeats/--stop_s", f"expected at least 1 env per command and stop_s >= 0, "
                                                              f"found {repeats} and {stop_s}")
    commands = np.repeat(sweep_commands(cfg.commands, axis, steps, beyond), repeats, axis=0)
    walk_s = settings.settle_s + settings.measure_s
    env = build_style_env(policy.env_config, len(commands), settings, walk_s)
    gaits, fell = rollout(env, policy.act, commands, settings)
    stopped = None
    if stop_s > 0:
        stopped = stop_falls(build_style_env(policy.env_config, len(commands), settings, walk_s + stop_s),
                             policy.act, commands, walk_s, stop_s)
    rows = []
    for run in (slice(first, first + repeats) for first in range(0, len(commands), repeats)):
        row = _row(commands[run.start], [gait_stats(gait) for gait in gaits[run]], int(fell[run].sum()),
                   AXES.index(axis))
        rows.append(row if stopped is None else {**row, "stop_falls": int(stopped[run].sum())})
    return {"policy": policy.name, "epoch": policy.epoch, "axis": axis, "range": list(getattr(cfg.commands, axis)),
            "repeats": repeats, "stop_s": stop_s, "rows": rows, "wall_s": time.perf_counter() - start}


@torch.no_grad()
def stop_falls(env, act, commands: np.ndarray, walk_s: float, stop_s: float) -> np.ndarray:
    """(N,) bool: the envs that fall within `stop_s` of the zero command, after `walk_s` at their `commands` without
    a fall (one that fell walking does not count)."""
    walk, stop = round(walk_s / env.dt), round(stop_s / env.dt)
    env.set_commands(torch.as_tensor(commands, dtype=torch.float32))
    obs = env.reset()
    walking_fall = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    stopping_fall = torch.zeros_like(walking_fall)
    for step in range(walk + stop):
        if step == walk:
            env.set_commands(torch.zeros(env.num_envs, 3))
        obs, _, _, infos = env.step(act(obs).to(env.device))
        fell = infos["terminate"].to(torch.bool)
        if step < walk:
            walking_fall |= fell
        else:
            stopping_fall |= fell & ~walking_fall
    return stopping_fall.cpu().numpy()


def _row(command: np.ndarray, stats: list, falls: int, index: int) -> dict:
    """One command's row: the mean of its envs' GaitStats, the gain on axis `index`."""
    achieved = np.mean([s.velocity for s in stats], axis=0)
    strides = [s.stride_period for s in stats if s.stride_period is not None]
    return {"command": command.tolist(), "achieved": achieved.tolist(), "gain": float(achieved[index] / command[index]),
            "spread": float(np.std([s.velocity[index] for s in stats])), "falls": falls,
            "stride_period": float(np.mean(strides)) if strides else None,
            "double_support": float(np.mean([s.double_support for s in stats]))}


def format_sweep(report: dict) -> str:
    low, high = report["range"]
    lines = [f"{report['policy']} (epoch {report['epoch']}) along {report['axis']} (range {low:g} .. {high:g}), "
             f"the other axes zero; mean of {report['repeats']} envs per command", "",
             "| command | achieved vx vy wz | gain | spread | stride s | double support | falls |"
             + (f" falls in {report['stop_s']:g} s after a stop |" if report.get("stop_s") else ""),
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if report.get("stop_s") else "")]
    index = AXES.index(report["axis"])
    for row in report["rows"]:
        stride = "n/a" if row["stride_period"] is None else f"{row['stride_period']:.2f}"
        lines.append(f"| {row['command'][index]:+.3f} | {' '.join(f'{v:+.3f}' for v in row['achieved'])} | "
                     f"{row['gain']:.2f} | {row['spread']:.3f} | {stride} | {row['double_support']:.2f} | "
                     f"{row['falls']} |" + (f" {row['stop_falls']} |" if "stop_falls" in row else ""))
    return "\n".join(lines + ["", f"{report['wall_s']:.1f} s"])


def main(argv=None) -> dict:
    from awd.utils.io import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = StyleSettings()
    parser.add_argument("policy", help="a checkpoint (nn/<name>.pth) or an export folder (policy.json, policy.onnx)")
    parser.add_argument("--axis", default="lin_vel_y", help=f"one of {', '.join(AXES)}")
    parser.add_argument("--steps", type=int, default=9, help="commands from the range minimum to its maximum")
    parser.add_argument("--beyond", type=float, default=1.0, help="each range end times this")
    parser.add_argument("--repeats", type=int, default=4, help="envs per command (gait clock starts differ), averaged")
    parser.add_argument("--stop_s", type=float, default=0.0,
                        help="> 0: also stop each command (zero command) after the walk, and count falls in this time")
    parser.add_argument("--engine", default=defaults.engine, help="physics engine (default: CPU MuJoCo)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--settle_s", type=float, default=defaults.settle_s)
    parser.add_argument("--measure_s", type=float, default=defaults.measure_s)
    parser.add_argument("--json", help="also write the report to this JSON file")
    args = parser.parse_args(argv)
    with exit_on_error():
        settings = StyleSettings(engine=args.engine, threads=args.threads, settle_s=args.settle_s,
                                 measure_s=args.measure_s, classifier=False)
        report = sweep_policy(load_policy_under_test(args.policy), args.axis, settings, args.steps, args.beyond,
                              args.repeats, args.stop_s)
        print(format_sweep(report), flush=True)
        if args.json:
            write_json_atomic(args.json, report, indent=2)
        return report
