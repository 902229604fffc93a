"""Style metrics in TensorBoard while training: every `style_eval_every` epochs the latest checkpoint is judged by
the style benchmark (awd.style.judge, CPU MuJoCo) in a background process, so training does not wait; when the
judge finishes, its numbers are logged under `style/` at the frame of the checkpoint it judged:

    style/clips_passed, style/extremes_passed     shares of judged clips and command extremes that pass
    style/classifier_accuracy                     the style classifier's held-out accuracy
    style/clearance_ratio, style/double_support_gap, style/stride_period_ratio, style/joint_error_ratio,
    style/held_rms                                means over the judged clips that step (policy vs clip)
    style/judge_s                                 the judge's wall time

The judge runs on `style_eval_threads` CPU threads (niced); one at a time: a checkpoint saved while one runs waits
for the next turn. Nothing is judged when `style_eval_every` is 0. The judge deletes its snapshot (a hard link to
the latest checkpoint) once loaded, so a run killed meanwhile leaves no 0.3 GB copy behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from awd.utils.io import read_json


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
        for stale in self.folder.glob("epoch*.pth"):  # snapshots of a judge killed before it loaded one
            stale.unlink()
        self.last_epoch = 0
        self.pending: tuple[subprocess.Popen, Path, int] | None = None

    def after_save(self, checkpoint: Path, epoch: int, frame: int) -> None:
        """Called after the latest checkpoint was written: judge a snapshot of it when due and none is running."""
        self.poll()
        if self.every <= 0 or self.pending is not None or epoch - self.last_epoch < self.every:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        snapshot = self.folder / f"epoch{epoch:06d}.pth"
        snapshot.unlink(missing_ok=True)
        os.link(checkpoint, snapshot)  # the trainer replaces the file by a rename, never in place
        command = [sys.executable, "-m", "awd.style.judge", str(snapshot), "--threads", str(self.threads),
                   "--json", str(snapshot.with_suffix(".json")), "--remove_after_load", *self.judge_args]
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
        snapshot.unlink(missing_ok=True)
        result = snapshot.with_suffix(".json")
        if process.returncode != 0 or not result.exists():
            print(f"[awd] style judge of {snapshot.name} failed; see {snapshot.with_suffix('.log')}", flush=True)
            return
        if self.writer is not None:
            for key, value in style_scalars(read_json(result)).items():
                self.writer.add_scalar(key, value, frame)
            self.writer.flush()
