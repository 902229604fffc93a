"""Set a robot up from its files: write the URDF Placo needs (from the MJCF, as tools/mjcf_to_urdf.py), compute
the standing pose from the walk parameters (awd.gait.standing) and compare it with the spec's `init` and joint
defaults; `--write` puts it into the spec (the YAML is rewritten: comments are not kept).

    python tools/robot_setup.py path/to/robot.yaml [--preset walk.json] [--write]
    python tools/robot_setup.py path/to/robot.yaml --gains_from_armature 10 2 [--scale_factor 0.25] [--write]

`--gains_from_armature F ZETA` prints (and with `--write` writes into every joint) kp, kd and the action scale
derived from each joint's armature (awd.robot.gains); the pose is not computed then.

Exit code 0 when the spec holds the pose (within 1 mm and 0.01 rad) or was written, 1 when it differs, 2 on bad
input or a pose unfit to stand on (a joint at its limit, a sole not flat).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python tools/robot_setup.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from awd.errors import AwdError, exit_on_error  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("robot", help="robot name or path to a robot.yaml")
    parser.add_argument("--preset", help="JSON of walk parameters overriding the robot's placo_defaults.json")
    parser.add_argument("--write", action="store_true", help="write the pose (or the gains) into the spec")
    parser.add_argument("--gains_from_armature", type=float, nargs=2, metavar=("HZ", "ZETA"),
                        help="PD gains from each joint's armature: natural frequency (Hz) and damping ratio")
    parser.add_argument("--scale_factor", type=float, default=0.25,
                        help="with --gains_from_armature: action scale = factor * effort limit / kp")
    return parser


def write_gains(spec, gains: dict, write: bool) -> int:
    """Print the gains per joint; with `write`, put them into each joint of the spec."""
    from awd.robot.spec import load_robot_spec
    from awd.utils.io import read_yaml, write_yaml_atomic

    for index, name in enumerate(spec.joint_names):
        print(f"  {name}: " + ", ".join(f"{key} {values[index]:.4g}" for key, values in gains.items()))
    if not write:
        print("(--write puts them into the spec)")
        return 0
    raw = read_yaml(spec.spec_path)
    for index, entry in enumerate(raw["joints"]):
        entry.update({key: round(float(values[index]), 6) for key, values in gains.items()})
    write_yaml_atomic(spec.spec_path, raw)
    load_robot_spec(spec.spec_path)
    print(f"written to {spec.spec_path}")
    return 0


def differences(spec, pose) -> list[str]:
    rows = [f"init.root_height: {spec.init_root_height:.4f} -> {pose.root_height:.4f}"
            ] if abs(spec.init_root_height - pose.root_height) > 1e-3 else []
    if max(abs(a - b) for a, b in zip(spec.init_root_quat, pose.root_quat)) > 1e-3:
        rows.append(f"init.root_quat: {_rounded(spec.init_root_quat)} -> {_rounded(pose.root_quat)}")
    pairs = zip(spec.joint_names, spec.default_joint_pos, pose.joint_pos)
    rows += [f"joints.{name}.default: {old:.4f} -> {new:.4f}" for name, old, new in pairs if abs(old - new) > 0.01]
    return rows


def _rounded(values, digits: int = 5) -> list[float]:
    return [round(float(v), digits) + 0.0 for v in values]  # + 0.0: no -0.0


def write(spec, pose) -> None:
    from awd.utils.io import read_yaml, write_yaml_atomic

    raw = read_yaml(spec.spec_path)
    raw["init"]["root_height"] = round(float(pose.root_height), 4)
    raw["init"]["root_quat"] = _rounded(pose.root_quat)
    for entry, value in zip(raw["joints"], pose.joint_pos):
        entry["default"] = _rounded([value], 4)[0]
    write_yaml_atomic(spec.spec_path, raw)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    with exit_on_error():
        from awd.gait.params import load_walk_params
        from awd.gait.standing import problems, standing_pose
        from awd.robot.spec import load_robot_spec

        from awd.robot.urdf import write_urdf

        spec = load_robot_spec(args.robot, check_height=False)
        if args.gains_from_armature:
            from awd.robot.gains import armature_gains

            return write_gains(spec, armature_gains(spec, *args.gains_from_armature, args.scale_factor), args.write)
        write_urdf(spec)
        pose = standing_pose(spec, load_walk_params(spec, args.preset))
        unfit = problems(pose)
        if unfit:
            raise AwdError(spec.spec_path, "placo_defaults", "the walk's standing pose is unfit: " + "; ".join(unfit))
        changes = differences(spec, pose)
        print(f"standing pose of {spec.name}: root height {pose.root_height:.4f} m, soles tilted "
              f"{pose.sole_tilt_deg[0]:.1f} / {pose.sole_tilt_deg[1]:.1f} deg")
        for line in changes:
            print(f"  {line}")
        if changes and args.write:
            write(spec, pose)
            load_robot_spec(spec.spec_path)
            print(f"written to {spec.spec_path}")
            return 0
        print("the spec holds this pose" if not changes else "the spec differs (--write puts the pose into it)")
        return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main())
