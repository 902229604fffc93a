"""Style A/B: train several variants of a command task (DucklingCommand, or `--task G1Command`) side by side on one
machine for the same wall time, then judge each one's latest checkpoint with the evaluator and the style benchmark
(CPU, in parallel) and print one table: tracking, extremes and clips passed, the classifier's accuracy, the gait's
medians over the judged clips (clearance, double support, stride, joint error / baseline, held joints) and how many
clips pass each check, and how saturated the discriminator was (share of epochs after epoch 100 with both
accuracies, on clean inputs, above 0.9).

    python benchmarks/style_ab.py --minutes 8 base= "noise=train.params.config.disc_input_noise=1.0" \\
        "no_root=env.amp.root_rotation=false env.amp.root_angular_velocity=false"

Each variant is NAME=OVERRIDES (dotted run.py overrides separated by spaces; empty: the shipped defaults).
Training runs go to OUTPUT/<name>/ with their logs; the table is also written to OUTPUT/style_ab.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from awd.style.judge import passed_count, worst_joints, worst_joints_line

ROOT = Path(__file__).resolve().parents[1]
EPOCH_LINE = re.compile(r"epoch (\d+)\S* .*acc agent ([\d.]+) demo ([\d.]+)(?: \(clean ([\d.]+) / ([\d.]+))?")


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    if not name or not re.fullmatch(r"[\w.-]+", name):
        raise SystemExit(f"error: variant {text!r}: expected NAME=OVERRIDES with a name of letters, digits, _ . -")
    return name, overrides.split()


def saturation(log_text: str, after_epoch: int = 100, level: float = 0.9) -> dict:
    """Last accuracies and the share of epochs after `after_epoch` with both accuracies above `level` (those on
    clean inputs when the run trains its discriminator on noised ones)."""
    rows = [(int(e), float(ca or a), float(cd or d)) for e, a, d, ca, cd in EPOCH_LINE.findall(log_text)]
    late = [(a, d) for e, a, d in rows if e > after_epoch]
    return {"epochs": rows[-1][0] if rows else 0, "last_acc": list(rows[-1][1:]) if rows else None,
            "saturated_share": sum(a > level and d > level for a, d in late) / len(late) if late else None}


def train_command(task: str, name: str, overrides: list[str], out: Path, seed: int) -> list[str]:
    return [sys.executable, str(ROOT / "awd" / "run.py"), "--task", task, "--headless", "--seed",
            str(seed), "--max_iterations", "1000000", "--output_path", str(out / name), "--experiment", name,
            *overrides]


def judge_command(checkpoint: Path, json_path: Path, threads: int) -> list[str]:
    return [sys.executable, str(ROOT / "tools" / "evaluate.py"), str(checkpoint), "--threads", str(threads),
            "--json", str(json_path)]


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def clip_medians(clips: list[dict]) -> dict:
    """Medians over the judged clips: the lower foot's clearance (mm), double support, joint error / baseline,
    held joints' RMS, and how many clips pass each check."""
    gaits = [c["policy"] for c in clips if c.get("policy")]
    checks = sorted({name for c in clips for name in c["pass"]})
    return {"clearance_mm": _median(1e3 * min(g["clearance"]) for g in gaits),
            "double_support": _median(g["double_support"] for g in gaits),
            "stride_s": _median(g["stride_period"] for g in gaits),
            "joint_error_ratio": _median(c["joint_error"] / c["baseline_error"] for c in clips
                                         if c["joint_error"] is not None and c["baseline_error"]),
            "held_rms": _median(c["held_rms"] for c in clips),
            "checks_passed": {name: sum(bool(c["pass"].get(name)) for c in clips) for name in checks}}


def summary_row(name: str, result: dict, sat: dict) -> dict:
    style = result["style"]
    return {"variant": name, "epoch": result["epoch"], "survival": result["survival"],
            "planar": result["planar_error"], "yaw": result["yaw_error"], "extremes": passed_count(style["extremes"]),
            "clips": passed_count(style["clips"]), "classifier": style["classifier_accuracy"],
            **clip_medians(style["clips"]), "saturated_share": sat["saturated_share"], "last_acc": sat["last_acc"],
            "passed": result["passed"], "worst_joints": worst_joints(style["clips"])}


def format_table(rows: list[dict]) -> str:
    def f(value, digits=3):
        return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    header = ("variant", "epoch", "survival", "planar", "yaw", "extremes", "clips", "classifier", "clearance_mm",
              "double_support", "stride_s", "joint_error_ratio", "held_rms", "checks_passed", "saturated_share",
              "last_acc", "passed")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(f(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="NAME=OVERRIDES")
    parser.add_argument("--task", default="DucklingCommand", help="the command task every variant trains")
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall time of every variant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--judge_threads", type=int, default=4)
    parser.add_argument("--output_path", default="output/style_ab")
    args = parser.parse_args(argv)
    variants = [parse_variant(text) for text in args.variants]
    out = Path(args.output_path).resolve() / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    runs = {}
    for name, overrides in variants:
        log = open(out / f"{name}.log", "w", encoding="utf-8")
        runs[name] = (subprocess.Popen(train_command(args.task, name, overrides, out, args.seed), stdout=log,
                                       stderr=subprocess.STDOUT, cwd=ROOT), log)
    deadline = time.time() + 60 * args.minutes
    while time.time() < deadline and any(p.poll() is None for p, _ in runs.values()):
        time.sleep(2)
    for process, log in runs.values():
        if process.poll() is None:
            process.terminate()
            process.wait()
        log.close()
    judges = {}
    for name, _ in variants:
        found = sorted((out / name).glob(f"*/nn/{name}.pth"))
        if found:
            judges[name] = subprocess.Popen(judge_command(found[-1], out / f"{name}.json", args.judge_threads),
                                            stdout=subprocess.DEVNULL, stderr=open(out / f"{name}.judge.log", "w"))
    rows = []
    for name, _ in variants:
        sat = saturation((out / f"{name}.log").read_text(encoding="utf-8"))
        if name not in judges or judges[name].wait() != 0:
            print(f"{name}: no checkpoint judged (see {out / name}.log and .judge.log)", flush=True)
            continue
        rows.append(summary_row(name, json.loads((out / f"{name}.json").read_text()), sat))
    print(format_table(rows), flush=True)
    for row in rows:
        print(f"{row['variant']}: {worst_joints_line(row['worst_joints'])}", flush=True)
    (out / "style_ab.json").write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
