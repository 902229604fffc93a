"""Import retargeted motion CSVs (root xyz, root quaternion xyzw, joint angles; e.g. the public retargeted
LAFAN1 data for the G1) into awd clips, one clip per CSV (awd.motion.csv_import):

    python tools/import_csv.py walk1_subject1.csv run1_subject2.csv --robot g1 --fps 30 -o my_clips
    python tools/import_csv.py dance.csv --robot g1_23dof --columns g1 -o clips   # 29-DOF CSV, 23-DOF robot

Every CSV is read and validated before anything is written; each clip is written atomically."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python tools/import_csv.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from awd.errors import AwdError, exit_on_error  # noqa: E402
from awd.motion.clip import save_clip  # noqa: E402
from awd.motion.csv_import import CsvOptions, column_names, import_csv  # noqa: E402
from awd.robot import load_robot_spec  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", nargs="+", help="CSV files, one frame per row")
    parser.add_argument("--robot", default="g1", help="robot name or path to a robot.yaml (default g1)")
    parser.add_argument("-o", "--output_dir", required=True, help="folder for the clips (<csv name>.json)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the CSV rows (default 30, LAFAN1's)")
    parser.add_argument("--columns", default=None,
                        help="joint order of the CSV columns: a robot name or robot.yaml (its joint order) or a "
                             ".txt file with one joint name per line (default: the robot's order); columns of "
                             "joints the robot lacks are dropped")
    parser.add_argument("--header", action="store_true", help="skip the first row")
    parser.add_argument("--start", type=int, default=0, help="first frame kept (default 0)")
    parser.add_argument("--end", type=int, default=None, help="one past the last frame kept (default: all)")
    parser.add_argument("--floor", choices=["auto", "none"], default="auto",
                        help="auto (default): move the motion vertically so the lowest sole touches the floor")
    parser.add_argument("--loop", choices=["Wrap", "Clamp"], default="Clamp", help="clip loop mode (default Clamp)")
    parser.add_argument("--weight", type=float, default=1.0, help="clip sampling weight (default 1)")
    parser.add_argument("--limit_tolerance", type=float, default=0.05,
                        help="rad beyond a joint limit that is clamped; more is an error (default 0.05)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    with exit_on_error():
        spec = load_robot_spec(args.robot)
        options = CsvOptions(fps=args.fps, columns=column_names(args.columns), header=args.header,
                             start=args.start, end=args.end, floor=args.floor, loop_mode=args.loop,
                             weight=args.weight, limit_tolerance=args.limit_tolerance)
        paths = [Path(name) for name in args.csv]
        names = [path.stem for path in paths]
        if len(set(names)) != len(names):
            raise AwdError("command line", "csv", "expected CSV files with distinct names (one clip per name)")
        clips = [import_csv(path, spec, options) for path in paths]
        output = Path(args.output_dir)
        output.mkdir(parents=True, exist_ok=True)
        for name, clip in zip(names, clips):
            save_clip(clip, output / f"{name}.json")
            print(f"{output / (name + '.json')}: {clip.num_frames} frames, {clip.duration:.2f} s at {clip.fps:g} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
