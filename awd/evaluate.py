"""The policy evaluator: survival and velocity tracking of a DucklingCommand or G1Command checkpoint, on any
engine.

`evaluate(checkpoint, settings)` rebuilds the env of the checkpoint's resolved config (`config.env_config`),
restores the actor (model weights and the observation normaliser) and runs `num_envs` episodes of
`episode_s` seconds side by side, all starting at t = 0 from the default standing pose (init.mode Default,
so every checkpoint is judged from the same start; domain randomisation stays as the checkpoint trained it).
Actions are the deterministic policy mean clipped to [-1, 1], as the rl_games player does.

Commands: every `resample_s` seconds each env gets a new (vx, vy, wz) from the env's own `sample_commands`
(uniform within the config's ranges, zeroed as its small_* settings say), held with `set_commands`. The share of
stand (all-zero) commands is the evaluator's `zero_prob`, not the training config's, so that runs trained with
more stops are judged on the same commands.

Metrics:
    survival       share of the episodes that reach `episode_s` without a termination (fall or invalid state)
    planar_error   mean |v_xy - cmd_xy| (m/s) in the yaw frame
    yaw_error      mean |wz - cmd_wz| (rad/s)
    fall_commands  per fall, the command it came under, the one before (zero at the start) and the seconds since
                   the change: a G1 policy fell mostly 1-2 s after a stop from a fast walk (twenty-fourth round)
The velocities are the env's windowed `tracking_velocities()` (mean over `commands.velocity_window_s`, the
same signal the tracking rewards see). The first `settle_s` seconds after every command change (and after
the start) are left out, so that the window holds only motion under the current command and the robot has
had time to change speed. An env that falls counts one fall and is left out for the rest of the run (the
env resets it, but its new episode is not counted): episodes = num_envs, one each.

`passes(result, thresholds)` applies the tracking thresholds (by default the task config's `verdict`: for the duck
survival >= 0.95, planar error <= 0.05 m/s, yaw error <= 0.15 rad/s). Unless `style` is None, the style benchmark
(awd.style.judge) runs too and `passed` is the "walks with style" verdict: tracking, every judged clip, every
command extreme and the style classifier (`tracking_passed` keeps the tracking verdict alone).
`format_table(result)` prints the markdown tables. CLI: tools/evaluate.py, or
`python awd/run.py --test --eval --checkpoint X`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

import torch

from awd.errors import AwdError, exit_on_error
from awd.learning.policy import build_actor, check_checkpoint_layout, deterministic_actions
from awd.style.judge import StyleSettings

DEFAULT_DEVICE = {"mujoco": "cpu"}  # any other engine: cuda:0


@dataclass(frozen=True)
class Thresholds:
    survival: float | None = 0.95  # at least (None: the task config's)
    planar_error: float | None = 0.05  # m/s, at most
    yaw_error: float | None = 0.15  # rad/s, at most


@dataclass(frozen=True)
class EvalSettings:
    engine: str = "mujoco"
    device: str | None = None  # None: cpu for mujoco, cuda:0 otherwise
    num_envs: int = 64
    threads: int | None = None  # CPU engine threads (None: the engine's default); the CLI also sets torch's
    episode_s: float = 20.0
    resample_s: float = 5.0
    zero_prob: float = 0.1  # share of stand commands (the shipped training configs' share)
    settle_s: float = 1.0
    seed: int = 0
    thresholds: Thresholds | None = None  # None: the task config's verdict thresholds
    style: StyleSettings | None = field(default_factory=StyleSettings)  # None: tracking only


def _check_settings(settings: EvalSettings) -> None:
    if settings.num_envs < 1:
        raise AwdError("command line", "--num_envs", f"expected a positive number of envs, got {settings.num_envs}")
    if settings.episode_s <= 0 or settings.resample_s <= 0:
        raise AwdError("command line", "--episode_s/--resample_s",
                       f"expected positive seconds, got {settings.episode_s} and {settings.resample_s}")
    if not 0 <= settings.zero_prob <= 1:
        raise AwdError("command line", "--zero_prob", f"expected a share in [0, 1], got {settings.zero_prob}")
    if not 0 <= settings.settle_s < min(settings.resample_s, settings.episode_s):
        raise AwdError("command line", "--settle_s", f"expected 0 <= settle_s < resample_s and episode_s, "
                       f"got {settings.settle_s} (nothing would be measured)")


def load_eval_checkpoint(path: str | Path) -> tuple[dict, dict]:
    """(checkpoint state, env_config) of a command task's training checkpoint (DucklingCommand, G1Command: survival
    and tracking) or an imitation task's (DucklingAMP, G1AMP: survival); anything else is an AwdError."""
    from awd.learning.checkpoint import load_checkpoint
    from awd.loader import checkpoint_env_config
    from awd.tasks import TASKS, DucklingAMP, DucklingCommand

    state = load_checkpoint(path, "cpu")
    env_config = checkpoint_env_config(path, state)
    task = env_config.get("task")
    task_class = TASKS.get(task)
    if task_class is None or not issubclass(task_class, (DucklingCommand, DucklingAMP)):
        raise AwdError(path, "config.env_config.task",
                       f"the evaluator measures command tasks (DucklingCommand, G1Command) and imitation tasks "
                       f"(DucklingAMP, G1AMP), found task {task!r}")
    return state, env_config


def build_eval_env(env_config: dict, settings: EvalSettings, device: str):
    """The checkpoint's env with eval settings: default-pose starts, no env command timer, no timeout in the run,
    the evaluator's share of stand commands."""
    from awd.loader import policy_env

    env = env_config["env"]
    env = {**env, "commands": {**(env.get("commands") or {}), "zero_prob": settings.zero_prob}}
    return policy_env(env_config["task"], env, env_config.get("source"), settings.num_envs,
                      settings.engine, device, settings.threads, settings.seed,
                      episode_length_s=2.0 * settings.episode_s, command_timer=False)


def run_episodes(env, model, settings: EvalSettings) -> dict:
    """Roll out one synchronous episode per env; sums stay on the env's device until the end."""
    n, dt = env.num_envs, env.dt
    episode_steps = max(1, int(round(settings.episode_s / dt)))
    resample_steps = max(1, int(round(settings.resample_s / dt)))
    settle_steps = int(round(settings.settle_s / dt))
    alive = torch.ones(n, dtype=torch.bool, device=env.device)
    sums = torch.zeros(4, dtype=torch.float64, device=env.device)  # env-steps, tracked steps, planar, yaw
    commanded = hasattr(env, "set_commands")  # an imitation task: survival only
    if commanded:
        env.set_commands(env.sample_commands(n))
        before = torch.zeros_like(env.commands)  # the command before the one in effect: the start stands
        falls = FallRecord(n, env.device, env.commands.dtype)
    obs = env.reset()
    for step in range(episode_steps):
        commands = env.commands.clone() if commanded else None  # what the policy sees in obs during this step
        resample = commanded and (step + 1) % resample_steps == 0 and step + 1 < episode_steps
        if resample:
            env.set_commands(env.sample_commands(n))  # shows in the obs returned by this step
        obs, _, _, infos = env.step(deterministic_actions(model, obs))
        terminated = infos["terminate"].to(torch.bool)
        sums[0] += alive.sum()
        if commanded:
            falls.record(alive & terminated, commands, before, (step % resample_steps + 1) * dt)
            before = commands if resample else before
        alive &= ~terminated
        if commanded and step % resample_steps >= settle_steps:
            lin_vel, ang_vel = env.tracking_velocities()
            weight = alive.to(torch.float64)
            sums[1] += weight.sum()
            sums[2] += ((lin_vel[:, :2] - commands[:, :2]).norm(dim=-1) * weight).sum()
            sums[3] += ((ang_vel[:, 2] - commands[:, 2]).abs() * weight).sum()
    env_steps, tracked, planar, yaw = sums.tolist()
    survivors = int(alive.sum())
    return {"episodes": n, "falls": n - survivors, "survival": survivors / n, "commanded": commanded,
            "fall_commands": falls.report(~alive) if commanded else [], "env_steps": int(env_steps),
            "tracked_steps": int(tracked), "planar_error": planar / tracked if tracked else None,
            "yaw_error": yaw / tracked if tracked else None}


class FallRecord:
    """Per env, the command a fall came under, the one before it and the seconds since it took effect (on the env's
    device, written without a host sync)."""

    def __init__(self, n: int, device, dtype):
        self.command = torch.zeros(n, 3, device=device, dtype=dtype)
        self.before = torch.zeros(n, 3, device=device, dtype=dtype)
        self.after_s = torch.zeros(n, device=device, dtype=dtype)

    def record(self, fell: torch.Tensor, command: torch.Tensor, before: torch.Tensor, after_s: float) -> None:
        self.command = torch.where(fell.unsqueeze(-1), command, self.command)
        self.before = torch.where(fell.unsqueeze(-1), before, self.before)
        self.after_s = self.after_s.masked_fill(fell, after_s)

    def report(self, fallen: torch.Tensor) -> list[dict]:
        return [{"command": self.command[i].tolist(), "before": self.before[i].tolist(),
                 "after_s": round(float(self.after_s[i]), 4)} for i in fallen.nonzero().flatten().tolist()]


def fall_summary(falls: list[dict]) -> str:
    """One line on when the commanded falls came: how many under the zero command right after walking (a stop)."""
    stops = [f for f in falls if not any(f["command"]) and any(f["before"])]
    if not stops:
        return f"falls under the zero command after walking: 0 of {len(falls)}"
    speeds = [math.hypot(*f["before"][:2]) for f in stops]
    after = [f["after_s"] for f in stops]
    return (f"falls under the zero command after walking: {len(stops)} of {len(falls)} ({min(after):.1f}–"
            f"{max(after):.1f} s after the stop, from {min(speeds):.2f}–{max(speeds):.2f} m/s)")


def passes(result: dict, thresholds: Thresholds) -> dict[str, bool]:
    """Per-metric verdicts (survival alone for an imitation task); a metric with no measurement (None) fails."""
    def at_most(value, limit):
        return value is not None and value <= limit

    survival = {"survival": result["survival"] >= thresholds.survival}
    if not result.get("commanded", True):
        return survival
    return {**survival, "planar_error": at_most(result["planar_error"], thresholds.planar_error),
            "yaw_error": at_most(result["yaw_error"], thresholds.yaw_error)}


def evaluate(checkpoint: str | Path, settings: EvalSettings = EvalSettings()) -> dict:
    """Evaluate a checkpoint; returns the metrics, the settings, the verdicts and `passed`."""
    _check_settings(settings)
    device = settings.device or DEFAULT_DEVICE.get(settings.engine, "cuda:0")
    start = time.perf_counter()
    state, env_config = load_eval_checkpoint(checkpoint)
    env = build_eval_env(env_config, settings, device)
    check_checkpoint_layout(checkpoint, state, env)
    model = build_actor(state, env, device)
    result = {"checkpoint": str(checkpoint), "epoch": int(state.get("epoch", 0)), "frame": int(state.get("frame", 0)),
              **run_episodes(env, model, settings)}
    thresholds = task_thresholds(env.cfg.verdict, settings.thresholds)
    verdicts = passes(result, thresholds)
    result.update({"pass": verdicts, "tracking_passed": all(verdicts.values()), "passed": all(verdicts.values()),
                   "settings": {**asdict(settings), "thresholds": asdict(thresholds)}, "device": device})
    if settings.style is not None:
        result.update(judge_with_style(checkpoint, result, settings))
    result["wall_s"] = time.perf_counter() - start
    return result


def task_thresholds(verdict, given: Thresholds | None) -> Thresholds:
    """The task config's tracking thresholds, with the fields of `given` that are not None instead."""
    from_task = Thresholds(verdict.survival, verdict.planar_error, verdict.yaw_error)
    if given is None:
        return from_task
    return Thresholds(*(mine if mine is not None else theirs for mine, theirs in zip(astuple(given),
                                                                                     astuple(from_task))))


def judge_with_style(checkpoint, result: dict, settings: EvalSettings) -> dict:
    """The style report of the checkpoint and the "walks with style" verdict over it and `result`."""
    from awd.style.judge import checkpoint_policy, judge_style, style_verdict

    style = dataclasses.replace(settings.style, engine=settings.engine, device=settings.device,
                                threads=settings.threads)
    report = judge_style(checkpoint_policy(checkpoint), style)
    verdict = style_verdict(result, report)
    return {"style": report, "verdict": verdict["parts"], "passed": verdict["passed"]}


def _number(value, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_table(result: dict) -> str:
    """A markdown table of the metrics against the thresholds, with the run's counts below it."""
    limits = result["settings"]["thresholds"]
    verdict = result["pass"]
    mark = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    s = result["settings"]
    lines = [
        f"checkpoint {result['checkpoint']} (epoch {result['epoch']}, frames {result['frame']:,})",
        "",
        "| metric | value | threshold | pass |",
        "| --- | ---: | ---: | :---: |",
        f"| survival | {result['survival']:.3f} ({result['episodes'] - result['falls']}/{result['episodes']}) "
        f"| >= {limits['survival']} | {mark(verdict['survival'])} |",
    ]
    if "planar_error" in verdict:
        lines += [f"| planar velocity error (m/s) | {_number(result['planar_error'], 4)} | <= {limits['planar_error']} "
                  f"| {mark(verdict['planar_error'])} |",
                  f"| yaw-rate error (rad/s) | {_number(result['yaw_error'], 4)} | <= {limits['yaw_error']} "
                  f"| {mark(verdict['yaw_error'])} |"]
    lines += [
        "",
        f"{result['episodes']} episodes of {s['episode_s']:g} s on {s['engine']} ({result['device']}), "
        + (f"commands every {s['resample_s']:g} s ({s['zero_prob']:g} of them stand), first {s['settle_s']:g} s "
           "after each left out; "
           if result.get("commanded", True) else "no commands (an imitation task); ")
        + f"falls {result['falls']}, env-steps {result['env_steps']:,} ({result['tracked_steps']:,} tracked), "
        f"{result['wall_s']:.1f} s",
    ]
    if result.get("fall_commands"):
        lines.append(fall_summary(result["fall_commands"]))
    if "style" in result:
        from awd.style.judge import format_report

        failed = [name for name, ok in result["verdict"].items() if not ok]
        lines += ["", format_report(result["style"]), "",
                  f"walks with style: {'PASS' if result['passed'] else 'FAIL (' + ', '.join(failed) + ')'}"]
    else:
        lines.append(f"verdict: {'PASS' if result['passed'] else 'FAIL'} (tracking only)")
    return "\n".join(lines)


def evaluate_and_report(checkpoint: str | Path, settings: EvalSettings, json_path: str | Path | None = None) -> dict:
    """Evaluate, print the table and optionally write the result as JSON (atomically)."""
    from awd.utils.io import write_json_atomic

    result = evaluate(checkpoint, settings)
    print(format_table(result), flush=True)
    if json_path:
        write_json_atomic(json_path, result, indent=2)
    return result


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = EvalSettings()
    parser.add_argument("checkpoint",
                        help="a training checkpoint (nn/<name>.pth) of a DucklingCommand or G1Command run")
    parser.add_argument("--engine", default=defaults.engine, help="physics engine (default: mujoco)")
    parser.add_argument("--device", help="env and policy device (default: cpu for mujoco, cuda:0 otherwise)")
    parser.add_argument("--num_envs", type=int, default=defaults.num_envs, help="episodes, run side by side")
    parser.add_argument("--threads", type=int, help="CPU engine and torch threads (default: the engine's)")
    parser.add_argument("--episode_s", type=float, default=defaults.episode_s, help="episode length (s)")
    parser.add_argument("--resample_s", type=float, default=defaults.resample_s, help="command period (s)")
    parser.add_argument("--zero_prob", type=float, default=defaults.zero_prob,
                        help="share of stand (all-zero) commands, whatever the run trained with")
    parser.add_argument("--settle_s", type=float, default=defaults.settle_s,
                        help="seconds left out of the tracking errors after each command change")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the commands")
    parser.add_argument("--min_survival", type=float, help="default: the task config's verdict.survival")
    parser.add_argument("--max_planar_error", type=float, help="m/s; default: the task config's verdict.planar_error")
    parser.add_argument("--max_yaw_error", type=float, help="rad/s; default: the task config's verdict.yaw_error")
    parser.add_argument("--no_style", action="store_true", help="tracking only: skip the style benchmark")
    parser.add_argument("--json", help="also write the result to this JSON file")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> EvalSettings:
    given = (args.min_survival, args.max_planar_error, args.max_yaw_error)
    thresholds = Thresholds(*given) if any(value is not None for value in given) else None
    return EvalSettings(engine=args.engine, device=args.device, num_envs=args.num_envs, threads=args.threads,
                        episode_s=args.episode_s, resample_s=args.resample_s, zero_prob=args.zero_prob,
                        settle_s=args.settle_s, seed=args.seed, thresholds=thresholds,
                        style=None if args.no_style else StyleSettings())


def main(argv=None) -> dict:
    """CLI entry point (tools/evaluate.py); exit code 0 whether the policy passes or not, 2 on bad input."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with exit_on_error():
        return evaluate_and_report(args.checkpoint, settings_from_args(args), args.json)
