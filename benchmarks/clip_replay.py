"""Can the physics reproduce the clips? Open-loop PD replay of named clips at half the policy's reach (default +-
action_scale / 2), at its reach and unclamped, and under a tracking controller (10x gains and effort limits, no
lag), next to the clips' own gait and the torque each clip needs against the effort limits, and the AMP features
that separate the demos from physics most (logic: awd/style/physics_check.py).

    python benchmarks/clip_replay.py [--cfg_env CFG] [--clips forward_medium standing ...] [--json out.json]
"""

import argparse

import torch

from awd import DATA_DIR
from awd.errors import exit_on_error
from awd.style.physics_check import Drive, format_replay, replay_clips
from awd.utils.io import read_yaml, write_json_atomic

DEFAULT_CFG = DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml"
DEFAULT_CLIPS = ["standing", "forward_medium", "backward_medium", "left_medium", "turn_left_medium"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg_env", default=str(DEFAULT_CFG), help="env config naming the robot and the dataset")
    parser.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS, help="clip names (file stems)")
    parser.add_argument("--gain_scale", type=float, default=10.0,
                        help="the tracking-controller replay's gains and effort limits, x the robot's (default 10)")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with exit_on_error():
        from awd.robot import load_robot_spec

        env_config = {"env": read_yaml(args.cfg_env)["env"], "source": args.cfg_env}
        scale = load_robot_spec(env_config["env"].get("robot", "mini_bdx")).action_scale
        drives = [Drive(0.5 * scale), Drive(scale), Drive(), Drive(gain_scale=args.gain_scale, lead=True)]
        result = replay_clips(env_config, args.clips, drives)
        print(format_replay(result))
        if args.json:
            write_json_atomic(args.json, result, indent=2)
        return result


if __name__ == "__main__":
    main()
