"""What tells a policy from its clips, as the style classifier sees it? The policy recorded as `awd style` records it,
and the classifier's held-out accuracy with every feature group, each alone, all but each, and with the joints the
clips hold set to the clips' value (logic: awd/style/classifier_probe.py). Run it when the style report's classifier
fails while every clip and extreme passes. With `--against OTHER`, a second policy of the same robot recorded at
the same commands takes the clips' place: how far apart the classifier puts two policies that both walk.

    python benchmarks/classifier_probe.py POLICY [--against OTHER] [--seeds 2] [--motion_file CLIPS] [--json out.json]

POLICY is a checkpoint or an export folder. About 55 s for the G1 on two cores (two seeds).
"""

import argparse

import torch

from awd.errors import AwdError, exit_on_error
from awd.style.classifier_probe import format_rows, probe_rows, recorded_against, recorded_motions
from awd.style.judge import load_policy_under_test
from awd.utils.io import write_json_atomic


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="checkpoint (.pth) or export folder")
    parser.add_argument("--seeds", type=int, default=2, help="classifier seeds (noise draws and initialisations)")
    parser.add_argument("--motion_file", help="clips to compare with (default: the policy's dataset)")
    parser.add_argument("--against", help="a second policy (checkpoint or export folder) to compare with instead")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    with exit_on_error():
        if args.seeds < 1:
            raise AwdError("command line", "--seeds", f"expected at least 1, got {args.seeds}")
        policy = load_policy_under_test(args.policy, args.motion_file)
        if args.against:
            motions = recorded_against(policy, load_policy_under_test(args.against, args.motion_file))
        else:
            motions = recorded_motions(policy)
        rows = probe_rows(*motions, seeds=tuple(range(args.seeds)))
        reference = args.against or "its clips"
        print(format_rows(rows, policy.task_config().verdict.max_classifier_accuracy, reference))
        if args.json:
            write_json_atomic(args.json, [{"features": label, "accuracy": accs} for label, accs in rows], indent=2)
        return rows


if __name__ == "__main__":
    main()
