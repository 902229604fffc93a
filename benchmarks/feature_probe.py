"""Which AMP features tell a policy from its clips? Single AMP frames of the policy at every judged clip's command
(an imitation policy, such as G1AMP's: running free for the rest of its episode) against demo frames, separated
by a discriminator trained from scratch per feature group (logic: awd/style/feature_probe.py). Run it when the
training log warns that the discriminator saturated.

    python benchmarks/feature_probe.py POLICY [--noise 0.5] [--motion_file CLIPS] [--json out.json]

POLICY is a checkpoint or an export folder.
"""

import argparse

import torch

from awd.errors import exit_on_error
from awd.style.feature_probe import format_probe, policy_and_demo_frames, probe
from awd.style.judge import load_policy_under_test
from awd.utils.io import write_json_atomic


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="checkpoint (.pth) or export folder")
    parser.add_argument("--noise", type=float, default=0.0, help="instance noise on the normalised features")
    parser.add_argument("--motion_file", help="clips to compare with (default: the policy's dataset)")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    with exit_on_error():
        agent, demo, names = policy_and_demo_frames(load_policy_under_test(args.policy, args.motion_file))
        result = probe(agent, demo, names, args.noise)
        print(format_probe(result))
        if args.json:
            write_json_atomic(args.json, result, indent=2)
        return result


if __name__ == "__main__":
    main()
