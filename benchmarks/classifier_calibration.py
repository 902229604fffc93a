"""How strict is the style classifier (awd/style/classifier.py)? It scores two datasets of the same clips against
each other, e.g. two trackers' performances of one source (`awd perform`), or performances against their sources:
held-out accuracy with every feature and with each feature group alone, and each dataset against itself (0.5 is
indistinguishable). Clips are paired by file name; `standing` and `in_place` are left out, as the style judge
leaves them out of its walking clips.

    python benchmarks/classifier_calibration.py awd/data/motions/mini_bdx_performed OTHER_PERFORMANCES
    python benchmarks/classifier_calibration.py awd/data/motions/mini_bdx_performed awd/data/motions/mini_bdx

With `--one_motion` it scores, for one dataset, each clip played five times as one motion against every clip of
that dataset: what a perfect imitator of that clip alone scores in an imitation task's style check
(awd/style/imitation.py, G1AMP and DucklingAMP), most alike first.

    python benchmarks/classifier_calibration.py awd/data/motions/g1 --one_motion --robot g1
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


def print_one_motion(dataset: Path, robot: str, seed: int) -> None:
    from awd.robot import load_robot_spec
    from awd.style.classifier import one_motion_accuracies
    from awd.style.recording import clip_gaits

    names, gaits = clip_gaits(load_robot_spec(robot), dataset)
    print(f"style classifier: each clip of {dataset} played 5 times as one motion, against all {len(names)} clips\n")
    print("| clip | held-out accuracy |\n| --- | ---: |")
    for name, accuracy in one_motion_accuracies(names, gaits, seed):
        print(f"| {name} | {accuracy:.3f} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path, nargs="?", help="the other dataset (not with --one_motion)")
    parser.add_argument("--one_motion", action="store_true", help="each clip of FIRST as one motion against FIRST")
    parser.add_argument("--robot", default="mini_bdx")
    parser.add_argument("--seeds", type=int, default=2, help="classifier seeds (noise draws and initialisations)")
    args = parser.parse_args(argv)
    if (args.second is None) != args.one_motion:
        parser.error("expected two datasets, or one with --one_motion")
    with exit_on_error():
        if args.one_motion:
            return print_one_motion(args.first, args.robot, 0)
        names, first, second = paired_gaits(args.first, args.second, args.robot)
        seeds = tuple(range(args.seeds))
        print(f"style classifier: {args.first} against {args.second}, {len(names)} clips paired by name\n")
        print("| features | held-out accuracy (" + ", ".join(f"seed {s}" for s in seeds) + ") |\n| --- | --- |")
        for label, accuracies in calibration_rows(first, second, seeds):
            print(f"| {label} | " + " / ".join(f"{a:.3f}" for a in accuracies) + " |")


if __name__ == "__main__":
    main()
