"""What do the discriminator's accuracies say? The training's discriminator (the task's train config: network,
loss, input noise, regularisers, learning rate) learns the policy's dataset against fixed agent sources: the same
dataset drawn again (the floor, 0.5), other datasets of the same clips (`--other`, e.g. a second tracker's
performances) and the policy's rollouts under the task's command sampling. Clean held-out accuracies, agent /
demo, after as many discriminator steps as training takes by each reported epoch (logic:
awd/style/disc_calibration.py). CPU.

    python benchmarks/disc_calibration.py POLICY [--other DIR ...] [--epochs 100] [--windows 30000]

POLICY is a checkpoint or an export folder; its dataset is the demo side (`--motion_file` to change it).
"""

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from awd.errors import AwdError, exit_on_error  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="checkpoint (.pth) or export folder")
    parser.add_argument("--other", nargs="*", default=[], help="datasets of the same clips as further agent sources")
    parser.add_argument("--motion_file", help="the demo dataset (default: the policy's)")
    parser.add_argument("--epochs", type=float, default=100.0, help="training epochs' worth of discriminator steps")
    parser.add_argument("--windows", type=int, default=30000, help="windows of each source")
    parser.add_argument("--minibatch", type=int, default=1024, help="rows of each side per step (training: 4096)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with exit_on_error():
        from awd.config import load_run_config
        from awd.style.disc_calibration import calibrate, dataset_env, disc_setup, format_rows, policy_windows
        from awd.style.judge import load_policy_under_test

        if args.epochs <= 0 or args.windows < 100 or args.minibatch < 1:
            raise AwdError(None, "--epochs/--windows/--minibatch",
                           "expected epochs > 0, windows >= 100 and minibatch >= 1")
        policy = load_policy_under_test(args.policy, args.motion_file)
        setup = disc_setup(load_run_config(policy.env_config["task"])["train"])
        steps = int(round(args.epochs * setup.steps_per_epoch))
        drawn = dataset_env(policy.env_config, policy.motion_file).fetch_amp_obs_demo(2 * args.windows)
        demo, again = drawn.float().cpu().split(args.windows)
        agents = {"the dataset again": again}
        for other in args.other:
            if not Path(other).exists():
                raise AwdError(other, "--other", "expected a clip, a folder of clips or a dataset YAML")
            env = dataset_env(policy.env_config, Path(other).resolve())
            agents[other] = env.fetch_amp_obs_demo(args.windows).float().cpu()
        agents[f"policy {args.policy}"] = policy_windows(policy, args.windows, threads=args.threads)
        print(f"discriminator of {policy.env_config['task']}: {setup.units}, {setup.weights.loss}, noise "
              f"{setup.weights.input_noise}, lr {setup.learning_rate}, {setup.steps_per_epoch} steps per epoch; "
              f"{steps} steps of {args.minibatch} rows per side; demo: {policy.motion_file}")
        print("\n| agent source | step | epoch | agent acc | demo acc |\n| --- | ---: | ---: | ---: | ---: |")
        results = {}
        for name, agent in agents.items():
            results[name] = calibrate(agent, demo, setup, steps, args.minibatch, report_every=max(1, steps // 4))
            print("\n".join(format_rows(name, results[name])), flush=True)
        return results


if __name__ == "__main__":
    main()
