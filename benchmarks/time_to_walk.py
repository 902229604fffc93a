"""Time to walk: wall-clock minutes from launch until a DucklingCommand (or `--task G1Command`) policy trained from
scratch walks with style: the evaluator's verdict (awd/evaluate.py: survival, planar and yaw tracking over 20-s
episodes with commands resampled every 5 s, thresholds from the task config's `verdict`) and the style benchmark's
(awd/style/judge.py: every judged clip, every command extreme, the style classifier). `--no_style` judges tracking
alone. An imitation task (`--task G1AMP`, DucklingAMP) is judged on survival and the style classifier.

Training runs as `python awd/run.py --task TASK --headless ...` in a subprocess (its output goes to
OUT/train.log) and rewrites its latest checkpoint every `--eval_every` epochs (the overrides
`train.params.config.save_latest_frequency`, and `save_latest_interval_s=0`: no rewrites by time). Whenever no
evaluation is running, the newest checkpoint is hard-linked to OUT/eval/ (a stable snapshot: the trainer replaces
the file by a rename) and evaluated by tools/evaluate.py in a second subprocess, by default on the CPU engine with
a few threads, so training is not paused; `--eval_cpus` pins it to given cores. A row's minutes are when its
checkpoint was written, counted from the launch of the training process (start-up, kernel compile and demo-buffer
fill included). Training stops at the first pass (with `--stop_but_classifier`, at the first checkpoint that
passes everything but the classifier) or at `--minutes`; the checkpoint that stopped it stays in OUT/eval/ without
its resume state (a few MB: it plays, judges and exports); a checkpoint written before the limit is still
evaluated after it. A run that never passes names its first checkpoint that passes everything but the style
classifier (whose bound two physical performances of the same clips do not meet: docs/style_rounds.md, tenth round).

    python benchmarks/time_to_walk.py --engine mujoco_warp --minutes 10          # GPU training, CPU evaluation
    python benchmarks/time_to_walk.py --engine mujoco --num_envs 16 --minutes 2  # CPU only (smoke test)

Anything else on the command line is a dotted override passed to run.py (e.g. train.params.config.horizon_length=24).
The rows and the verdict are also written to OUT/time_to_walk.json, with the paths of the run's last checkpoint and
of its best-style snapshot (`style/best_style.pth`), which the last line names too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from awd.errors import AwdError, exit_on_error  # noqa: E402
from awd.learning.agent_state import policy_state  # noqa: E402
from awd.learning.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from awd.style.judge import passed_count  # noqa: E402
from awd.utils.io import read_json, write_json_atomic  # noqa: E402

EXPERIMENT = "time_to_walk"
COLUMNS = ("minutes", "epoch", "frames", "survival", "planar err (m/s)", "yaw err (rad/s)", "clips", "extremes",
           "classifier", "pass")


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="DucklingCommand",
                        help="the task to train: a command task, or an imitation task (G1AMP: survival, classifier)")
    parser.add_argument("--engine", help="training engine (default: run.py's)")
    parser.add_argument("--num_envs", type=int, default=0, help="training envs (default: run.py's for the engine)")
    parser.add_argument("--seed", type=int, default=1, help="training seed")
    parser.add_argument("--minutes", type=float, default=10.0, help="time limit from launch")
    parser.add_argument("--eval_every", type=int, default=10, help="epochs between checkpoints to evaluate")
    parser.add_argument("--eval_engine", default="mujoco", help="evaluation engine (default: CPU MuJoCo)")
    parser.add_argument("--eval_envs", type=int, default=64, help="evaluation episodes, run side by side")
    parser.add_argument("--eval_threads", type=int, default=4, help="CPU threads of the evaluator")
    parser.add_argument("--eval_cpus", help="pin the evaluator to these cores, e.g. 0-3 or 0,2 (Linux)")
    parser.add_argument("--output_path", default="output/time_to_walk", help="runs go to OUTPUT_PATH/<timestamp>/")
    parser.add_argument("--min_survival", type=float, help="default: the task config's")
    parser.add_argument("--max_planar_error", type=float, help="m/s; default: the task config's")
    parser.add_argument("--max_yaw_error", type=float, help="rad/s; default: the task config's")
    parser.add_argument("--no_style", action="store_true", help="judge tracking alone (no style benchmark)")
    parser.add_argument("--stop_but_classifier", action="store_true",
                        help="stop at the first checkpoint that passes everything but the style classifier")
    args, rest = parser.parse_known_args(argv)
    unknown = [item for item in rest if "=" not in item or item.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args, rest


def parse_cpus(text: str | None) -> set[int] | None:
    """'0-3,6' -> {0, 1, 2, 3, 6}; None stays None."""
    if not text:
        return None
    cpus = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise AwdError("command line", "--eval_cpus", f"expected cores like 0-3 or 0,2, got {text!r}") from None
    return cpus


def train_command(args, overrides: list[str], out: Path) -> list[str]:
    command = [sys.executable, str(ROOT / "awd" / "run.py"), "--task", args.task, "--headless",
               "--seed", str(args.seed), "--max_iterations", "1000000", "--output_path", str(out),
               "--experiment", EXPERIMENT, f"train.params.config.save_latest_frequency={args.eval_every}",
               "train.params.config.save_latest_interval_s=0"]
    if args.engine:
        command += ["--engine", args.engine]
    if args.num_envs:
        command += ["--num_envs", str(args.num_envs)]
    return command + overrides


def eval_command(args, checkpoint: Path, json_path: Path) -> list[str]:
    command = [sys.executable, str(ROOT / "tools" / "evaluate.py"), str(checkpoint), "--engine", args.eval_engine,
               "--num_envs", str(args.eval_envs), "--threads", str(args.eval_threads), "--json", str(json_path)]
    for flag in ("min_survival", "max_planar_error", "max_yaw_error"):
        if getattr(args, flag) is not None:
            command += [f"--{flag}", str(getattr(args, flag))]
    return command + (["--no_style"] if args.no_style else [])


@dataclass
class PendingEval:
    process: subprocess.Popen
    snapshot: Path  # the evaluator writes <snapshot>.json and <snapshot>.log next to it
    saved_min: float


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted(out.glob(f"*/nn/{EXPERIMENT}.pth"))
    return found[-1] if found else None


def style_summary(result: dict) -> dict:
    """Clips and extremes passed (as 'k/n') and the classifier's accuracy of an evaluator result with style."""
    style = result.get("style")
    if style is None:
        return {"clips": None, "extremes": None, "classifier": None}
    return {"clips": passed_count(style["clips"]), "extremes": passed_count(style["extremes"]),
            "classifier": style["classifier_accuracy"]}


def format_row(row: dict) -> str:
    number = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    values = (f"{row['minutes']:.2f}", str(row["epoch"]), f"{row['frame']:,}", f"{row['survival']:.3f}",
              number(row["planar_error"]), number(row["yaw_error"]), row["clips"] or "n/a",
              row["extremes"] or "n/a", number(row["classifier"]), "PASS" if row["passed"] else "no")
    return "| " + " | ".join(values) + " |"


class TimeToWalk:
    """The training process, the evaluator processes and the rows they produced."""

    def __init__(self, args, overrides: list[str]):
        self.args = args
        self.out = Path(args.output_path).resolve() / time.strftime("%Y%m%d-%H%M%S")
        self.out.mkdir(parents=True, exist_ok=True)
        self.limit_s = 60.0 * args.minutes
        self.cpus = parse_cpus(args.eval_cpus)
        self.rows: list[dict] = []
        self.pending: PendingEval | None = None
        self.last_mtime = 0.0
        self.launched_evals = 0
        self.log = open(self.out / "train.log", "w", encoding="utf-8")
        self.launched = time.time()
        self.train = subprocess.Popen(train_command(args, overrides, self.out), stdout=self.log,
                                      stderr=subprocess.STDOUT, cwd=ROOT)
        self.stopped_by_us = False

    def elapsed(self) -> float:
        return time.time() - self.launched

    def run(self) -> dict | None:
        """Poll until a checkpoint passes or the limit is reached and every checkpoint before it is evaluated."""
        print(f"time_to_walk: training -> {self.out} (log: train.log), limit {self.args.minutes:g} min", flush=True)
        print("| " + " | ".join(COLUMNS) + " |\n|" + " ---: |" * len(COLUMNS), flush=True)
        try:
            while True:
                passed = self._collect()
                if passed:
                    return passed
                if self.elapsed() > self.limit_s:
                    self._stop_training()
                if self.pending is None and not self._launch_eval() and self.train.poll() is not None:
                    return None
                time.sleep(1.0)
        finally:
            self._stop_training()
            if self.pending is not None:
                self.pending.process.kill()
                self.pending.process.wait()
            self.log.close()

    def _launch_eval(self) -> bool:
        """Evaluate a snapshot of the newest checkpoint written before the limit, if there is a new one."""
        checkpoint = latest_checkpoint(self.out)
        if checkpoint is None or checkpoint.stat().st_mtime <= self.last_mtime:
            return False
        frozen = self.out / "eval" / f"checkpoint_{self.launched_evals:03d}.pth"
        frozen.parent.mkdir(exist_ok=True)
        os.link(checkpoint, frozen)  # the file the trainer wrote last; it replaces it by a rename, never in place
        self.launched_evals += 1
        self.last_mtime = frozen.stat().st_mtime
        saved_s = self.last_mtime - self.launched
        if saved_s > self.limit_s:
            frozen.unlink()
            return False
        with open(frozen.with_suffix(".log"), "w", encoding="utf-8") as log:
            process = subprocess.Popen(eval_command(self.args, frozen, frozen.with_suffix(".json")), stdout=log,
                                       stderr=subprocess.STDOUT, cwd=ROOT,
                                       preexec_fn=(lambda: os.sched_setaffinity(0, self.cpus)) if self.cpus else None)
        self.pending = PendingEval(process, frozen, saved_s / 60)
        return True

    def _collect(self) -> dict | None:
        """The row of a finished evaluation (printed and kept); returns it when it passed (or, with
        --stop_but_classifier, everything but the classifier)."""
        pending = self.pending
        if pending is None or pending.process.poll() is None:
            return None
        self.pending = None
        if pending.process.returncode != 0:
            lines = pending.snapshot.with_suffix(".log").read_text(encoding="utf-8").strip().splitlines()
            raise AwdError(pending.snapshot, "evaluation", lines[-1] if lines else "the evaluator failed")
        result = read_json(pending.snapshot.with_suffix(".json"))
        row = {"minutes": pending.saved_min, "evaluated_min": self.elapsed() / 60, "epoch": result["epoch"],
               "frame": result["frame"], "commanded": result["commanded"], "survival": result["survival"],
               "planar_error": result["planar_error"],
               "yaw_error": result["yaw_error"], **style_summary(result), "passed": result["passed"],
               "passed_but_classifier": all(ok for name, ok in result.get("verdict", {"passed": result["passed"]})
                                            .items() if name != "classifier"),
               "checkpoint": str(pending.snapshot)}
        self.rows.append(row)
        print(format_row(row), flush=True)
        done = row["passed"] or (self.args.stop_but_classifier and row["passed_but_classifier"])
        if not done:
            pending.snapshot.unlink()
            return None
        save_checkpoint(pending.snapshot, policy_state(load_checkpoint(pending.snapshot)))
        return row

    def _stop_training(self) -> None:
        if self.train.poll() is None:
            self.stopped_by_us = True
            self.train.terminate()
            try:
                self.train.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.train.kill()
                self.train.wait()

    def training_failed(self) -> bool:
        return not self.stopped_by_us and self.train.returncode not in (0, None)


def trained_policies(out: Path) -> dict:
    """The run's last checkpoint and the style monitor's best-style snapshot (None where there is none)."""
    best = sorted(out.glob("*/style/best_style.pth"))
    last = latest_checkpoint(out)
    return {"last": str(last) if last else None, "best_style": str(best[-1]) if best else None}


def startup_line(log_text: str) -> str | None:
    """The training's start-up breakdown (awd.learning.progress.StartupClock), as it logged it."""
    found = re.search(r"start-up: .*", log_text)
    return found.group(0) if found else None


def verdict(walked: dict | None, rows: list[dict], args) -> str:
    imitation = any(not row.get("commanded", True) for row in rows)
    target = ("the tracking verdict" if args.no_style
              else "imitates with style: survival and the classifier" if imitation
              else "walks with style: tracking, every clip, extreme and the classifier")
    if walked is None:
        close = next((row for row in rows if row["passed_but_classifier"]), None)
        but = "" if args.no_style or close is None else (
            f"; everything but the classifier from {close['minutes']:.2f} min, epoch {close['epoch']}")
        return (f"time to walk: not reached within {args.minutes:g} min ({len(rows)} checkpoints evaluated; "
                f"{target}{but})")
    return (f"time to walk: {walked['minutes']:.2f} min (epoch {walked['epoch']}, {walked['frame']:,} frames; "
            f"confirmed by the evaluator at {walked['evaluated_min']:.2f} min; {target})")


def main(argv=None) -> None:
    args, overrides = parse_args(argv)
    with exit_on_error():
        benchmark = TimeToWalk(args, overrides)
        stopped_at = benchmark.run()
        walked = stopped_at if stopped_at and stopped_at["passed"] else None
        if benchmark.training_failed():
            tail = (benchmark.out / "train.log").read_text(encoding="utf-8").splitlines()[-5:]
            raise AwdError(benchmark.out / "train.log", None, "training failed: " + " / ".join(tail))
        summary = verdict(walked, benchmark.rows, args)
        if stopped_at and not walked:
            summary += "; stopped there (--stop_but_classifier)"
        startup = startup_line((benchmark.out / "train.log").read_text(encoding="utf-8"))
        policies = trained_policies(benchmark.out)
        print("\n".join(filter(None, [startup, summary])))
        print(f"policies: last {policies['last']}; best style {policies['best_style']}")
        record = {"walked": walked, "rows": benchmark.rows, "verdict": summary, "startup": startup,
                  "policies": policies, "argv": sys.argv[1:]}
        write_json_atomic(benchmark.out / "time_to_walk.json", record, indent=2)


if __name__ == "__main__":
    main()
