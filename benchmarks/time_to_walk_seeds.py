"""The median over seeds of benchmarks/time_to_walk.py runs: a verdict asks for the median of 3 seeds, each run alone
from a fresh machine, and the runs come back one session at a time as their OUT/time_to_walk.json files.

    python benchmarks/time_to_walk_seeds.py RUN1/time_to_walk.json RUN2/time_to_walk.json RUN3/time_to_walk.json

One row per run: its seed and minutes (from the run's own arguments), the epochs it reached, its time to walk with
style, from when it passed everything but the style classifier, and its best checkpoint (the one that passed the
most clips and command extremes, the later one on a tie). Then the medians: a run that never walked counts as
slower than any that did, so the median is reached only when most runs walk.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from time_to_walk import parse_args as parse_run_args  # noqa: E402

from awd.errors import AwdError, exit_on_error  # noqa: E402
from awd.utils.io import read_json  # noqa: E402


def passed(share: str) -> int:
    """The count passed of a report's "passed/total" share."""
    return int(share.split("/")[0])


def best_row(rows: list[dict]) -> dict:
    def score(indexed):
        index, row = indexed
        return passed(row["clips"]) + passed(row["extremes"]), index
    return max(enumerate(rows), key=score)[1]


def first_minutes(rows: list[dict], key: str) -> float:
    return next((row["minutes"] for row in rows if row[key]), math.inf)


def run_summary(path: str | Path) -> dict:
    record = read_json(path)
    try:
        args, _ = parse_run_args(record["argv"])
        rows = record["rows"]
        return {"path": str(path), "seed": args.seed, "limit": args.minutes, "epochs": rows[-1]["epoch"] if rows else 0,
                "walked": record["walked"]["minutes"] if record["walked"] else math.inf,
                "but_classifier": first_minutes(rows, "passed_but_classifier"),
                "best": best_row(rows) if rows else None}
    except (KeyError, TypeError, ValueError) as error:
        raise AwdError(path, "argv/rows/walked",
                       f"expected a time_to_walk.json of benchmarks/time_to_walk.py ({error})") from None


def minutes(value: float) -> str:
    return "not reached" if math.isinf(value) else f"{value:.2f}"


def format_table(runs: list[dict]) -> str:
    lines = ["| seed | minutes | epochs | time to walk (min) | all but the classifier from (min) | best: epoch, "
             "survival, planar / yaw, clips, extremes, classifier |", "| ---: | ---: | ---: | ---: | ---: | --- |"]
    for run in runs:
        best = run["best"]
        shown = (f"{best['epoch']}, {best['survival']:.3f}, {best['planar_error']:.3f} / {best['yaw_error']:.3f}, "
                 f"{best['clips']}, {best['extremes']}, {best['classifier']:.3f}") if best else "no checkpoint judged"
        lines.append(f"| {run['seed']} | {run['limit']:g} | {run['epochs']} | {minutes(run['walked'])} "
                     f"| {minutes(run['but_classifier'])} | {shown} |")
    walked, but_classifier = (statistics.median(run[key] for run in runs) for key in ("walked", "but_classifier"))
    lines += ["", f"median over {len(runs)} runs: time to walk {minutes(walked)}, all but the classifier "
              f"{minutes(but_classifier)}"]
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="time_to_walk.json files, one per seed")
    paths = parser.parse_args(argv).runs
    with exit_on_error():
        runs = [run_summary(path) for path in paths]
    print(format_table(runs), flush=True)
    return runs


if __name__ == "__main__":
    main()
