"""Regenerate a robot's URDF (for Placo) from its MJCF: python tools/mjcf_to_urdf.py mini_bdx|path/robot.yaml"""

import argparse

from awd.errors import exit_on_error
from awd.robot import load_robot_spec
from awd.robot.urdf import write_urdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("robot", help="robot name or path to its robot.yaml")
    args = parser.parse_args()
    with exit_on_error():
        spec = load_robot_spec(args.robot, check_height=False)  # the URDF does not depend on the pose
        write_urdf(spec)
        print(f"wrote {spec.urdf_path}")


if __name__ == "__main__":
    main()
