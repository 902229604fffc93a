"""Style metrics in TensorBoard while training: every `style_eval_every` epochs the latest checkpoint is judged by
the style benchmark (awd.style.judge, CPU MuJoCo) in a background process, so training does not wait; when the
judge finishes, its numbers are logged under `style/` at the frame of the checkpoint it judged:

    style/clips_passed, style/extremes_passed     shares of judged clips and command extremes that pass
    style/classifier_accuracy                     the style classifier's held-out accuracy
    style/clearance_ratio, style/double_support_gap, style/stride_period_ratio, style/joint_error_ratio,
    style/held_rms                                means over the judged clips that step (policy vs clip)
    style/judge_s                                 the judge's wall time

The judge runs on `style_eval_threads` CPU threads (niced); one at a time: a checkpoint saved while one runs waits
for the next turn. Nothing is judged when `style_eval_every` is 0. The snapshot judged is the latest state without
what only a resume reads (as a numbered checkpoint: a few MB, no replay buffer).

A style can peak and then drift while tracking still improves (the duck's head, thirteenth round in
docs/style_rounds.md), so the snapshot that passes the most judged clips and command extremes so far (on
a tie, the later one) is kept as `best_style.pth`, its report as `best_style.json`; a resumed run carries on from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from awd.learning.agent_state import policy_state
from awd.learning.checkpoint import save_checkpoint
from awd.utils.io import read_json, write_json_atomic

BEST = "best_style"


def _passing(report: dict) -> int:
    """Judged clips plus command extremes that pass every criterion."""
    return sum(all(item["pass"].values()) for item in report["clips"] + report["extremes"])


def style_scalars(report: dict) -> dict[str, float]:
    """The `style/` scalars of a style report."""
    clips, extremes = report["clips"], report["extremes"]
    stepping = [c for c in clips if c["clip"]["stride_period"] and not c["fell"]]

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else float("nan")

    def ratio(value, reference):  # None where the clip's own value is 0 (a foot it never lifts) or missing
        return value / reference if value is not None and reference else None

    def lowest(values):
        values = [v for v in values if v is not None]
        return min(values) if values else None

    scalars = {
        "style/clips_passed": mean([all(c["pass"].values()) for c in clips]),
        "style/extremes_passed": mean([all(e["pass"].values()) for e in extremes]),
        "style/clearance_ratio": mean([lowest([ratio(p, c) for p, c in zip(s["policy"]["clearance"],
                                                                            s["clip"]["clearance"])])
                                       for s in stepping]),
        "style/double_support_gap": mean([abs(s["policy"]["double_support"] - s["clip"]["double_support"])
                                          for s in stepping]),
        "style/stride_period_ratio": mean([ratio(s["policy"]["stride_period"] or 0.0, s["clip"]["stride_period"])
                                           for s in stepping]),
        "style/joint_error_ratio": mean([ratio(s["joint_error"], s["baseline_error"]) for s in stepping]),
        "style/held_rms": mean([c["held_rms"] for c in clips]),
        "style/judge_s": float(report["wall_s"]),
    }
    if report.get("classifier_accuracy") is not None:
        scalars["style/classifier_accuracy"] = float(report["classifier_accuracy"])
    return scalars


class StyleMonitor:
    def __init__(self, every: int, threads: int, folder: str | Path, writer, judge_args: tuple[str, ...] = ()):
        self.every, self.threads, self.writer, self.judge_args = int(every), max(1, int(threads)), writer, judge_args
        self.folder = Path(folder)
        for stale in self.folder.glob("epoch*.pth"):  # snapshots of a run killed while judging them
            stale.unlink()
        best = self.folder / f"{BEST}.json"
        self.best_passed = _passing(read_json(best)) if best.exists() else -1
        self.last_epoch = 0
        self.pending: tuple[subprocess.Popen, Path, int] | None = None

    def after_save(self, state: dict, epoch: int, frame: int) -> None:
        """Called after the latest checkpoint was written from `state`: judge a snapshot of it when due and none is
        running."""
        self.poll()
        if self.every <= 0 or self.pending is not None or epoch - self.last_epoch < self.every:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        snapshot = save_checkpoint(self.folder / f"epoch{epoch:06d}.pth", policy_state(state))
        command = [sys.executable, "-m", "awd.style.judge", str(snapshot), "--threads", str(self.threads),
                   "--json", str(snapshot.with_suffix(".json")), *self.judge_args]
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        with open(snapshot.with_suffix(".log"), "w", encoding="utf-8") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       preexec_fn=lambda: os.nice(10))
        self.pending, self.last_epoch = (process, snapshot, frame), epoch

    def poll(self, wait: bool = False) -> None:
        """Log the finished judge's scalars (with `wait`, wait for it first)."""
        if self.pending is None:
            return
        process, snapshot, frame = self.pending
        if wait:
            process.wait()
        if process.poll() is None:
            return
        self.pending = None
        result = snapshot.with_suffix(".json")
        if process.returncode != 0 or not result.exists():
            snapshot.unlink(missing_ok=True)
            print(f"[awd] style judge of {snapshot.name} failed; see {snapshot.with_suffix('.log')}", flush=True)
            return
        report = read_json(result)
        self._keep_if_best(snapshot, report)
        if self.writer is not None:
            for key, value in style_scalars(report).items():
                self.writer.add_scalar(key, value, frame)
            self.writer.flush()

    def _keep_if_best(self, snapshot: Path, report: dict) -> None:
        passed = _passing(report)
        if passed < self.best_passed:
            snapshot.unlink()
            return
        self.best_passed = passed
        os.replace(snapshot, self.folder / f"{BEST}.pth")
        write_json_atomic(self.folder / f"{BEST}.json", report, indent=2)
        print(f"[awd] style: {snapshot.stem} passes {passed} of {len(report['clips']) + len(report['extremes'])} "
              f"judged clips and extremes, the most so far: kept as {self.folder / BEST}.pth", flush=True)
