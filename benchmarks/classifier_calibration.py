"""How strict is the style classifier (awd/style/classifier.py)? It scores two datasets of the same clips against
each other, e.g. two trackers' performances of one source (`awd perform`), or performances against their sources:
held-out accuracy with every feature and with each feature group alone, and each dataset against itself (0.5 is
indistinguishable). Clips are paired by file name; `standing` and `in_place` are left out, as the style judge
leaves them out of its walking clips.

    python benchmarks/classifier_calibration.py awd/data/motions/mini_bdx_performed OTHER_PERFORMANCES
    python benchmarks/classifier_calibration.py awd/data/motions/mini_bdx_performed awd/data/motions/mini_bdx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from awd.errors import AwdError, exit_on_error  # noqa: E402

LEFT_OUT = ("standing", "in_place")


def paired_gaits(first: Path, second: Path, robot: str) -> tuple[list[str], list, list]:
    """The clip names both folders hold (but LEFT_OUT) and their Gaits, in name order."""
    from awd.motion.clip import load_clip
    from awd.robot import load_robot_spec
    from awd.style.gait import Gait

    spec = load_robot_spec(robot)
    for folder in (first, second):
        if not folder.is_dir():
            raise AwdError(folder, None, "expected a folder of clips")
    names = sorted({p.stem for p in first.glob("*.json")} & {p.stem for p in second.glob("*.json")} - set(LEFT_OUT))
    if not names:
        raise AwdError(second, None, f"expected clips named as in {first}, found none in common")
    return names, *([Gait.from_clip(load_clip(folder / f"{name}.json", spec.joint_names)) for name in names]
                    for folder in (first, second))


def calibration_rows(first: list, second: list, seeds: tuple[int, ...]) -> list[tuple[str, list[float]]]:
    """(label, accuracy per seed) for every feature, each group alone, and each dataset against itself."""
    from awd.style.classifier import SENSOR_NOISE, held_out_accuracy

    rows = [("all features", [held_out_accuracy(first, second, seed=s) for s in seeds])]
    rows += [(f"{part} alone", [held_out_accuracy(first, second, seed=s, parts=(part,)) for s in seeds])
             for part in SENSOR_NOISE]
    rows += [(f"{label} against itself", [held_out_accuracy(group, group, seed=s) for s in seeds])
             for label, group in (("first", first), ("second", second))]
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--robot", default="mini_bdx")
    parser.add_argument("--seeds", type=int, default=2, help="classifier seeds (noise draws and initialisations)")
    args = parser.parse_args(argv)
    with exit_on_error():
        names, first, second = paired_gaits(args.first, args.second, args.robot)
        seeds = tuple(range(args.seeds))
        print(f"style classifier: {args.first} against {args.second}, {len(names)} clips paired by name\n")
        print("| features | held-out accuracy (" + ", ".join(f"seed {s}" for s in seeds) + ") |\n| --- | --- |")
        for label, accuracies in calibration_rows(first, second, seeds):
            print(f"| {label} | " + " / ".join(f"{a:.3f}" for a in accuracies) + " |")


if __name__ == "__main__":
    main()
