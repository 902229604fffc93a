"""The style benchmark: does a command policy walk like its clips, at each commanded velocity?

For a checkpoint, or an export folder (its policy.json holds the env config, whose motion_file is resolved on
this machine, and the dataset's hash, which must match), the
policy runs on CPU MuJoCo (or another engine) with fixed commands, one env per command, from the default pose:
- one env per judged clip, commanded at the clip's own mean velocity (yaw frame, over whole strides). Judged are
  the clips whose velocity, with parts below the task's `small_*` thresholds zeroed like the command sampler does,
  is non-zero and inside the command ranges; the zero command is judged against the standing clip (one that never
  steps) only; the report lists the others and why they were skipped;
- `extreme_rollouts` envs per command extreme (each axis at its minimum and maximum, the other axes zero), judged on
  their mean velocity and failed if any falls: the gait clock starts at a random phase in each env, and one G1
  sidestep rollout at 0.2 m/s measured 0.163-0.183 m/s by its env's phase (docs/style_rounds.md, 28th round).
After `settle_s` the next `measure_s` are recorded and compared with the clip (awd.style.gait): velocity and
drift, stride period, swing clearance per foot, double-support and flight shares, trunk height, pitch and roll,
symmetry, the moved joints' stride error next to the default pose held still (the baseline), and the RMS of the
joints the clips hold from the clip's value. Held are the task's `env.amp.exclude_joints` (the duck's head and
antennas, the G1's waist, arms but shoulder pitch, and wrists; a performed clip wiggles them, so their spread does
not tell), moved all others; a task that excludes none holds the joints a clip moves less than `HELD_STD`. An env
that falls fails its clip. A style classifier (awd.style.classifier) scores all judged motions against their clips.

`clip_passes`, `extreme_passes` and `style_verdict` apply the task config's `verdict` thresholds
(awd.tasks.config.VerdictConfig). CLI: benchmarks/style.py.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from awd.errors import AwdError, exit_on_error
from awd.style.classifier import held_out_accuracy
from awd.style.gait import Gait, gait_stats, joint_cycle_errors
from awd.style.recording import build_style_env, clip_gaits, rollout
from awd.tasks.clip_commands import zero_small_parts
from awd.tasks.config import COMMAND_AXES

HELD_STD = 0.01  # rad: a clip joint that moves less than this is held


@dataclass(frozen=True)
class StyleSettings:
    engine: str = "mujoco"
    device: str | None = None  # None: cpu for mujoco, cuda:0 otherwise
    threads: int | None = None
    settle_s: float = 2.0
    measure_s: float = 4.0
    seed: int = 0
    classifier: bool = True
    extreme_rollouts: int = 4


@dataclass
class PolicyUnderTest:
    """What the benchmark needs of a policy: its env config (task, env mapping, source), the dataset path and an
    `act(obs) -> actions` of deterministic actions clipped to [-1, 1]."""

    name: str
    env_config: dict
    motion_file: Path
    act: object
    epoch: int = 0

    def task_config(self):
        """The task's env config (awd.tasks.config) from `env_config`."""
        from awd.tasks.config import env_config_from_mapping

        return env_config_from_mapping(self.env_config["env"], self.env_config.get("source") or "env config")


# ------------------------------------------------------------------------------------------------ policies


def checkpoint_policy(path: str | Path, motion_file: str | None = None) -> PolicyUnderTest:
    from awd.learning.policy import deterministic_actions
    from awd.loader import checkpoint_env_config, load_policy

    state, _, model = load_policy(path)
    env_config = checkpoint_env_config(path, state)
    return PolicyUnderTest(str(path), env_config, judged_dataset(path, env_config, motion_file),
                           partial(deterministic_actions, model), int(state.get("epoch", 0)))


def export_policy(folder: str | Path, motion_file: str | None = None) -> PolicyUnderTest:
    from awd.loader import load_export
    from awd.motion.dataset import dataset_sha256

    metadata, act = load_export(folder)
    env_config = metadata["env_config"]
    dataset = metadata.get("dataset") or {}
    path = judged_dataset(Path(folder) / "policy.json", env_config, motion_file)
    if motion_file is None and dataset.get("sha256") not in (None, dataset_sha256(path)):
        raise AwdError(path, "dataset.sha256", "the dataset differs from the one the policy was trained on "
                       "(pass --motion_file to judge against it anyway)")
    return PolicyUnderTest(str(folder), env_config, path, act, int(metadata.get("source", {}).get("epoch", 0)))


def load_policy_under_test(path: str | Path, motion_file: str | None = None) -> PolicyUnderTest:
    path = Path(path)
    if path.is_dir():
        return export_policy(path, motion_file)
    if not path.is_file():
        raise AwdError(path, None, "expected a checkpoint (.pth) or an export folder, found nothing")
    return checkpoint_policy(path, motion_file)


def judged_dataset(source, env_config: dict, motion_file: str | None) -> Path:
    """The dataset to judge against: `motion_file`, else the env config's, resolved on this machine."""
    from awd.robot import load_robot_spec
    from awd.tasks.factory import resolve_dataset

    name = motion_file or env_config["env"].get("motion_file")
    if not name:
        raise AwdError(source, "env.motion_file", "no dataset to judge against (pass --motion_file)")
    robot = load_robot_spec(env_config["env"].get("robot", "mini_bdx")).name
    return resolve_dataset(name, robot, env_config.get("source"))


# ------------------------------------------------------------------------------------------------ clips


def select_clips(names: list[str], gaits: list[Gait], commands) -> tuple[list[tuple[str, np.ndarray]], list[dict]]:
    """(judged [(name, command)], skipped [{clip, reason}])."""
    judged, skipped, standing = [], [], None
    ranges = (commands.lin_vel_x, commands.lin_vel_y, commands.ang_vel_z)
    for name, gait in zip(names, gaits):
        stats = gait_stats(gait)
        command = zero_small_parts(torch.as_tensor(stats.velocity, dtype=torch.float64), commands).numpy()
        outside = [axis for axis, value, (low, high) in zip(("vx", "vy", "wz"), command, ranges)
                   if not low - 1e-9 <= value <= high + 1e-9]
        if outside:
            skipped.append({"clip": name, "reason": "velocity outside the command range on " + ", ".join(outside)})
        elif command.any():
            judged.append((name, command))
        elif stats.double_support > 0.99 and standing is None:
            standing = (name, command)
        else:
            skipped.append({"clip": name, "reason": "zero command (judged against the standing clip only)"})
    if standing is not None:
        judged.append(standing)
    return judged, skipped


def judged_commands(policy: PolicyUnderTest, settings: StyleSettings):
    """(every judged clip's command (N, 3), those clips' gaits, settings) for a command policy; (None, every clip's
    gait, settings measuring the rest of the episode) for an imitation policy, which runs free."""
    from awd.robot import load_robot_spec
    from awd.style.imitation import watch_the_episode

    cfg = policy.task_config()
    names, gaits = clip_gaits(load_robot_spec(cfg.robot), policy.motion_file)
    if not commanded(policy.env_config):
        return None, gaits, watch_the_episode(settings, cfg)
    judged, by_name = select_clips(names, gaits, cfg.commands)[0], dict(zip(names, gaits))
    return np.array([c for _, c in judged]).reshape(-1, 3), [by_name[name] for name, _ in judged], settings


def extreme_commands(commands) -> list[tuple[str, np.ndarray]]:
    extremes = []
    for axis, name in enumerate(COMMAND_AXES):
        for bound, label in zip(getattr(commands, name), ("min", "max")):
            if bound != 0:
                command = np.zeros(3)
                command[axis] = bound
                extremes.append((f"{name} {label}", command))
    return extremes


# ------------------------------------------------------------------------------------------------ rollout


# ------------------------------------------------------------------------------------------------ judging


def held_joints(spec, cfg) -> np.ndarray | None:
    """(n,) bool: the joints the task's clips hold (its env.amp.exclude_joints); None when it excludes none."""
    from awd.tasks.amp_features import held_joint_mask, make_amp_layout

    mask = held_joint_mask(make_amp_layout(spec, cfg.amp, cfg.source), spec.num_joints).numpy()
    return mask if mask.any() else None


def compare(policy: Gait, clip: Gait, default_pose: np.ndarray, held: np.ndarray | None = None,
            joint_names: tuple[str, ...] | None = None) -> dict:
    """The policy's gait next to its clip's (see the module docstring); `held`: `held_joints` of the task. With
    `joint_names`, `joint_errors` gives each moved joint's error and baseline (rad), `joint_offsets` its mean
    offset from the clip over the stride (rad; a crouch, a lean)."""
    mine, theirs = gait_stats(policy), gait_stats(clip)
    moving = clip.joint_pos.std(axis=0) >= HELD_STD if held is None else ~held
    result = {"policy": asdict(mine), "clip": asdict(theirs), "moved_joints": int(moving.sum()),
              "joint_error": None, "baseline_error": None, "held_rms": None}
    if moving.any() and theirs.stride_period:
        reference = clip.joint_pos[:, moving]
        cycle = (reference, theirs.stride_period, clip.dt)
        errors, offsets = joint_cycle_errors(policy.joint_pos[:, moving], mine.stride_period, policy.dt, *cycle)
        still = np.broadcast_to(default_pose[moving], reference.shape)
        baselines, _ = joint_cycle_errors(still, None, clip.dt, *cycle)
        result["joint_error"], result["baseline_error"] = float(errors.mean()), float(baselines.mean())
        if joint_names is not None:
            moved = [name for name, m in zip(joint_names, moving) if m]
            result["joint_errors"] = {n: [float(e), float(b)] for n, e, b in zip(moved, errors, baselines)}
            result["joint_offsets"] = {n: float(o) for n, o in zip(moved, offsets)}
    if (~moving).any():
        held = policy.joint_pos[:, ~moving] - clip.joint_pos[:, ~moving].mean(axis=0)
        result["held_rms"] = float(np.sqrt((held ** 2).mean()))
    return result


def clip_passes(result: dict, verdict) -> dict[str, bool]:
    """Per-clip criteria; a clip that never steps (standing) is judged on support and held joints only."""
    mine, theirs = result["policy"], result["clip"]
    checks = {"survived": not result["fell"],
              "double_support": abs(mine["double_support"] - theirs["double_support"])
              <= verdict.double_support_tolerance}
    if theirs["stride_period"]:
        period = mine["stride_period"]
        checks["stride_period"] = period is not None and (
            abs(period - theirs["stride_period"]) <= verdict.stride_period_tolerance * theirs["stride_period"])
        checks["clearance"] = all(p >= verdict.min_clearance_ratio * c for p, c in zip(mine["clearance"],
                                                                                       theirs["clearance"]))
    if result["joint_error"] is not None:
        checks["joint_error"] = result["joint_error"] <= verdict.max_joint_error_ratio * result["baseline_error"]
    if result["held_rms"] is not None:
        checks["held_joints"] = result["held_rms"] <= verdict.held_joint_rms
    return {name: bool(ok) for name, ok in checks.items()}


def extreme_passes(command: np.ndarray, achieved, fell: bool, verdict) -> dict[str, bool]:
    axis = int(np.flatnonzero(command)[0])
    achieved = np.asarray(achieved)
    others = np.delete(np.arange(3), axis)
    planar = [i for i in others if i < 2]
    checks = {"survived": not fell,
              "commanded_axis": abs(achieved[axis] - command[axis]) <= verdict.extreme_tolerance * abs(command[axis])}
    if planar:
        checks["planar_drift"] = float(np.linalg.norm(achieved[planar])) <= verdict.planar_error
    if 2 in others:
        checks["yaw_drift"] = abs(achieved[2]) <= verdict.yaw_error
    return {name: bool(ok) for name, ok in checks.items()}


def judge_style(policy: PolicyUnderTest, settings: StyleSettings = StyleSettings()) -> dict:
    """The style report of a policy (see the module docstring)."""
    from awd.robot import load_robot_spec

    if not commanded(policy.env_config):
        from awd.style.imitation import judge_imitation

        return judge_imitation(policy, settings)
    start = time.perf_counter()
    cfg = policy.task_config()
    extremes = extreme_commands(cfg.commands)
    spec = load_robot_spec(cfg.robot)
    names, gaits = clip_gaits(spec, policy.motion_file)
    judged, skipped = select_clips(names, gaits, cfg.commands)
    runs = settings.extreme_rollouts
    commands = np.array([c for _, c in judged] + [c for _, c in extremes for _ in range(runs)]).reshape(-1, 3)
    env = build_style_env(policy.env_config, len(commands), settings, settings.settle_s + settings.measure_s)
    recorded, fell = rollout(env, policy.act, commands, settings)
    by_name, held = dict(zip(names, gaits)), held_joints(spec, cfg)
    clips = []
    for index, (name, command) in enumerate(judged):
        result = {"name": name, "command": command.tolist(), "fell": bool(fell[index]),
                  **compare(recorded[index], by_name[name], spec.default_joint_pos, held, spec.joint_names)}
        result["pass"] = clip_passes(result, cfg.verdict)
        clips.append(result)
    extreme_rows = []
    for offset, (label, command) in enumerate(extremes):
        envs = range(len(judged) + offset * runs, len(judged) + (offset + 1) * runs)
        each = [list(gait_stats(recorded[i]).velocity) for i in envs]
        achieved, fallen = np.mean(each, axis=0).tolist(), bool(fell[list(envs)].any())
        extreme_rows.append({"extreme": label, "command": command.tolist(), "achieved": achieved,
                             "achieved_each": each, "fell": fallen,
                             "pass": extreme_passes(command, achieved, fallen, cfg.verdict)})
    accuracy = None
    if settings.classifier and judged:
        accuracy = held_out_accuracy([recorded[i] for i in range(len(judged))], [by_name[n] for n, _ in judged],
                                     seed=settings.seed)
    report = {"policy": policy.name, "epoch": policy.epoch, "dataset": str(policy.motion_file),
              "settings": asdict(settings), "verdict_thresholds": asdict(cfg.verdict), "clips": clips,
              "skipped": skipped, "extremes": extreme_rows, "classifier_accuracy": accuracy}
    report["pass"] = style_passes(report, cfg.verdict)
    report["wall_s"] = time.perf_counter() - start
    return report


def style_passes(report: dict, verdict) -> dict[str, bool]:
    passes = {"clips": bool(report["clips"]) and all(all(c["pass"].values()) for c in report["clips"]),
              "extremes": all(all(e["pass"].values()) for e in report["extremes"])}
    if report["classifier_accuracy"] is not None:
        passes["classifier"] = report["classifier_accuracy"] <= verdict.max_classifier_accuracy
    return passes


def style_verdict(evaluation: dict | None, report: dict) -> dict:
    """"Walks with style": the evaluator's tracking verdicts (when given) and the style report's, all true."""
    parts = dict(report["pass"])
    if evaluation is not None:
        parts.update({f"tracking_{name}": ok for name, ok in evaluation["pass"].items()})
    return {"parts": parts, "passed": all(parts.values())}


# ------------------------------------------------------------------------------------------------ report


def _f(value, digits=3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _mark(checks: dict) -> str:
    failed = [name for name, ok in checks.items() if not ok]
    return "yes" if not failed else "no: " + ", ".join(failed)


def worst_joints(clips: list[dict], count: int = 4) -> list[tuple[str, float]]:
    """The `count` moved joints furthest from the clips' strides: (name, median over the judged clips of the
    joint's error / its baseline), worst first."""
    ratios: dict[str, list[float]] = {}
    for clip in clips:
        for name, (error, baseline) in clip.get("joint_errors", {}).items():
            ratios.setdefault(name, []).append(error / max(baseline, 1e-6))
    medians = sorted(((name, float(np.median(values))) for name, values in ratios.items()), key=lambda r: -r[1])
    return medians[:count]


def worst_joints_line(worst: list[tuple[str, float]]) -> str:
    return "joints furthest from the clips (median error / baseline): " + ", ".join(
        f"{name} {ratio:.2f}" for name, ratio in worst)


def offset_joints(clips: list[dict], count: int = 4) -> list[tuple[str, float, float, str]]:
    """The `count` moved joints held furthest from the clips' pose (a crouch shows as bent knees): (name, median
    over the judged clips of the joint's mean offset, its largest offset, that clip's name), largest first."""
    offsets: dict[str, list[tuple[float, str]]] = {}
    for clip in clips:
        for name, offset in clip.get("joint_offsets", {}).items():
            offsets.setdefault(name, []).append((offset, clip["name"]))
    rows = [(name, float(np.median([o for o, _ in values])), *max(values, key=lambda v: abs(v[0])))
            for name, values in offsets.items()]
    return sorted(rows, key=lambda r: -abs(r[1]))[:count]


def offset_text(name: str, median: float, largest: float, clip: str) -> str:
    """One row of `offset_joints` as "left_knee_joint +0.050 (+0.113 forward_fast)"."""
    return f"{name} {median:+.3f} ({largest:+.3f} {clip})"


def offset_joints_line(offsets: list[tuple[str, float, float, str]]) -> str:
    return "joints offset from the clips' pose (rad, median over the clips; largest): " + ", ".join(
        offset_text(*row) for row in offsets)


def passed_count(rows: list[dict]) -> str:
    """'k/n': how many clip or extreme rows pass every check."""
    return f"{sum(all(row['pass'].values()) for row in rows)}/{len(rows)}"


def commanded(env_config: dict) -> bool:
    """True for a policy of a task that takes velocity commands (judged per clip), False for an imitation task."""
    from awd.tasks import TASKS

    task = TASKS.get(env_config["env"].get("task") or env_config.get("task"))
    return task is None or hasattr(task, "set_commands")


def format_report(report: dict) -> str:
    if report.get("kind") == "imitation":
        from awd.style.imitation import format_imitation

        return format_imitation(report)
    lines = [f"style of {report['policy']} (epoch {report['epoch']}) against {report['dataset']}", "",
             "| clip | command vx vy wz | achieved vx vy wz | stride s (clip) | clearance mm L/R (clip) "
             "| double support (clip) | flight | pitch deg (clip) | joint err / baseline rad | held rms | pass |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in report["clips"]:
        p, k = c["policy"], c["clip"]
        lines.append(
            f"| {c['name']} | {' '.join(_f(v, 2) for v in c['command'])} | {' '.join(_f(v, 2) for v in p['velocity'])} "
            f"| {_f(p['stride_period'], 2)} ({_f(k['stride_period'], 2)}) "
            f"| {p['clearance'][0] * 1e3:.0f}/{p['clearance'][1] * 1e3:.0f} "
            f"({k['clearance'][0] * 1e3:.0f}/{k['clearance'][1] * 1e3:.0f}) "
            f"| {p['double_support']:.2f} ({k['double_support']:.2f}) | {p['flight']:.2f} "
            f"| {p['pitch_deg']:.1f} ({k['pitch_deg']:.1f}) | {_f(c['joint_error'])} / {_f(c['baseline_error'])} "
            f"| {_f(c['held_rms'])} | {'fell' if c['fell'] else _mark(c['pass'])} |")
    lines += ["", "| extreme | command | achieved vx vy wz | pass |", "| --- | ---: | --- | --- |"]
    for e in report["extremes"]:
        axis = int(np.flatnonzero(e["command"])[0])
        lines.append(f"| {e['extreme']} | {e['command'][axis]:.2f} | {' '.join(_f(v, 3) for v in e['achieved'])} "
                     f"| {_mark(e['pass'])} |")
    worst = worst_joints(report["clips"])
    if worst:
        lines += ["", worst_joints_line(worst), offset_joints_line(offset_joints(report["clips"], count=2))]
    if report["skipped"]:
        lines += ["", "skipped: " + "; ".join(f"{s['clip']} ({s['reason']})" for s in report["skipped"])]
    lines += ["", f"clips passed {passed_count(report['clips'])}; extremes passed {passed_count(report['extremes'])}; "
              f"classifier held-out accuracy {_f(report['classifier_accuracy'])} "
              f"(<= {report['verdict_thresholds']['max_classifier_accuracy']}); {report['wall_s']:.1f} s",
              f"style: {'PASS' if all(report['pass'].values()) else 'FAIL'} ({_mark(report['pass'])})"]
    if report["pass"].get("classifier") is False:
        lines.append(f"what tells it from its clips: python benchmarks/classifier_probe.py {report['policy']}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = StyleSettings()
    parser.add_argument("policy", help="a checkpoint (nn/<name>.pth) or an export folder (policy.json, policy.onnx)")
    parser.add_argument("--motion_file", help="judge against this dataset (default: the policy's own)")
    parser.add_argument("--engine", default=defaults.engine, help="physics engine (default: CPU MuJoCo)")
    parser.add_argument("--device")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--settle_s", type=float, default=defaults.settle_s)
    parser.add_argument("--measure_s", type=float, default=defaults.measure_s)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--no_classifier", action="store_true", help="skip the style classifier")
    parser.add_argument("--extreme_rollouts", type=int, default=defaults.extreme_rollouts,
                        help=f"envs per command extreme, judged on their mean (default {defaults.extreme_rollouts})")
    parser.add_argument("--json", help="also write the report to this JSON file")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    from awd.utils.io import write_json_atomic

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with exit_on_error():
        if args.settle_s < 0 or args.measure_s <= 0:
            raise AwdError("command line", "--settle_s/--measure_s", "expected settle >= 0 and measure > 0 seconds")
        if args.extreme_rollouts < 1:
            raise AwdError("command line", "--extreme_rollouts", f"expected at least 1, got {args.extreme_rollouts}")
        settings = StyleSettings(engine=args.engine, device=args.device, threads=args.threads,
                                 settle_s=args.settle_s, measure_s=args.measure_s, seed=args.seed,
                                 classifier=not args.no_classifier, extreme_rollouts=args.extreme_rollouts)
        policy = load_policy_under_test(args.policy, args.motion_file)
        report = judge_style(policy, settings)
        print(format_report(report), flush=True)
        if args.json:
            write_json_atomic(args.json, report, indent=2)
        return report


if __name__ == "__main__":
    main()
