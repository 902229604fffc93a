"""What fails, report by report, over a run's style reports (the `style/epochNNNNNN.json` files that time_to_walk's
evaluator and the training's style monitor write): per judged epoch the clips and extremes passed, each failing
clip with the criteria it misses (its joint error as a share of the baseline's), each failing extreme with what it
reached on the commanded axis, and the classifier. A time_to_walk table counts passes; this names what is behind
them, so that a run's trend (a clip drifting off as training goes on, an extreme that passes at one report in two)
reads at a glance; and the joint held furthest from the clips' pose, so that a posture drifting off as training
goes on (the 23-DOF G1's crouch, docs/style_rounds.md, thirty-second and thirty-third rounds) shows report by
report. CLI: benchmarks/style_timeline.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def style_reports(run: str | Path) -> list[dict]:
    """The style reports under `run` (a run folder, or one report), in epoch order."""
    from awd.errors import AwdError

    run = Path(run)
    paths = [run] if run.is_file() else sorted(run.rglob("style/epoch*.json"))
    if not paths:
        raise AwdError(run, None, "expected a style report (style/epochNNNNNN.json) in it, found none")
    reports = []
    for path in paths:
        try:
            reports.append(json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise AwdError(path, None, f"invalid JSON ({error})") from None
    return sorted(reports, key=lambda report: report.get("epoch", 0))


def failing_clips(report: dict) -> list[str]:
    """Each clip that misses a criterion, as "forward_fast joint 0.96" (or the criteria it misses, or "fell")."""
    rows = []
    for clip in report.get("clips", []):
        missed = [name for name, ok in clip["pass"].items() if not ok]
        if clip.get("fell"):
            rows.append(f"{clip['name']} fell")
        elif missed:
            ratio = (clip["joint_error"] or 0.0) / (clip["baseline_error"] or 1.0)
            rows.append(f"{clip['name']} " + ", ".join(f"joint {ratio:.2f}" if name == "joint_error" else name
                                                      for name in missed))
    return rows


def failing_extremes(report: dict) -> list[str]:
    """Each extreme that misses, as "lin_vel_y max 0.174 of 0.20" (or "... fell")."""
    rows = []
    for extreme in report.get("extremes", []):
        if all(extreme["pass"].values()):
            continue
        axis = int(np.flatnonzero(extreme["command"])[0])
        reached = "fell" if extreme.get("fell") else (f"{extreme['achieved'][axis]:.3f} of "
                                                      f"{extreme['command'][axis]:.2f}")
        rows.append(f"{extreme['extreme']} {reached}")
    return rows


def furthest_offset(report: dict) -> str:
    """The moved joint held furthest from the clips' pose, as "left_knee_joint +0.050 (+0.113 forward_fast)" (median
    offset over the judged clips, then the largest and its clip), or "-" for a report without joint offsets."""
    from awd.style.judge import offset_joints, offset_text

    offsets = offset_joints(report.get("clips", []), count=1)
    return offset_text(*offsets[0]) if offsets else "-"


def format_timeline(reports: list[dict]) -> str:
    lines = ["| epoch | clips | furthest offset (rad) | failing clips | extremes | failing extremes | classifier |",
             "| ---: | ---: | --- | --- | ---: | --- | ---: |"]
    for report in reports:
        clips, extremes = report.get("clips", []), report.get("extremes", [])
        bad_clips, bad_extremes = failing_clips(report), failing_extremes(report)
        accuracy = report.get("classifier_accuracy")
        lines.append(f"| {report.get('epoch', 0)} | {len(clips) - len(bad_clips)}/{len(clips)} | "
                     f"{furthest_offset(report)} | "
                     f"{'; '.join(bad_clips) or '-'} | {len(extremes) - len(bad_extremes)}/{len(extremes)} | "
                     f"{'; '.join(bad_extremes) or '-'} | {'-' if accuracy is None else f'{accuracy:.3f}'} |")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    import argparse

    from awd.errors import exit_on_error

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run folder (its style/epochNNNNNN.json reports, at any depth) or one report")
    args = parser.parse_args(argv)
    with exit_on_error():
        reports = style_reports(args.run)
        print(format_timeline(reports), flush=True)
        return reports
