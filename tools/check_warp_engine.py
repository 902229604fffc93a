"""GPU check: one policy step of the MuJoCo Warp engine against the CPU MuJoCo engine from the same states
(clip frames of the default dataset, with random PD targets), printed per field with float32 tolerances.

    python tools/check_warp_engine.py                 # cuda:0, 256 envs
    python tools/check_warp_engine.py --device cpu --num_envs 8   # Warp's CPU backend (slow start)

Exit code 1 when more than 1 % of the envs are beyond tolerance in a field (see awd/engine/compare.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from awd.engine import make_engine  # noqa: E402
from awd.engine.compare import TOLERANCES, compare_one_step, failures  # noqa: E402
from awd.errors import exit_on_error  # noqa: E402
from awd.motion.dataset import load_dataset  # noqa: E402
from awd.motion.motion_lib import MotionLib  # noqa: E402
from awd.robot import load_robot_spec  # noqa: E402
from awd.engine import default_tracked_bodies as tracked_bodies  # noqa: E402
from awd.tasks.factory import resolve_motion_path  # noqa: E402


def clip_states(spec, num_envs: int, seed: int) -> dict[str, torch.Tensor]:
    """Reference-motion states of the robot's default clips (root at its clip height, xy at the origin)."""
    lib = MotionLib(load_dataset(resolve_motion_path(f"motions/{spec.name}"), spec.joint_names))
    generator = torch.Generator().manual_seed(seed)
    ids = lib.sample_clips(num_envs, generator=generator)
    state = lib.get_state(ids, lib.sample_times(ids, generator=generator))
    root_pos = state.root_pos.clone()
    root_pos[:, :2] = 0.0
    return {"root_pos": root_pos, "root_quat": state.root_quat, "root_lin_vel": state.root_lin_vel,
            "root_ang_vel": state.root_ang_vel, "joint_pos": state.joint_pos, "joint_vel": state.joint_vel}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="mini_bdx")
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--num_envs", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with exit_on_error():
        spec = load_robot_spec(args.robot)
        bodies = tracked_bodies(spec)
        warp_engine = make_engine("mujoco_warp", spec, args.num_envs, args.device, bodies)
        cpu_engine = make_engine("mujoco", spec, args.num_envs, "cpu", bodies)
        state = {k: v.float() for k, v in clip_states(spec, args.num_envs, args.seed).items()}
        generator = torch.Generator().manual_seed(args.seed)
        targets = state["joint_pos"] + 0.25 * torch.randn(state["joint_pos"].shape, generator=generator)
        result = compare_one_step(warp_engine, cpu_engine, state, targets)
    print(f"MuJoCo Warp ({args.device}) vs CPU MuJoCo, {args.num_envs} envs from clip frames, one policy step\n")
    print("| field | tolerance | after reset: max, share of envs beyond | after one step: max, share beyond |")
    print("| --- | ---: | ---: | ---: |")
    for field, after_step in result["step"].items():
        tolerance = f"{TOLERANCES[field]:.0e}" if field in TOLERANCES else "flag differs"
        reset = result["reset"][field]
        print(f"| {field} | {tolerance} | {reset['max']:.2e}, {reset['share']:.1%} | "
              f"{after_step['max']:.2e}, {after_step['share']:.1%} |")
    bad = failures(result["reset"]) + failures(result["step"])
    print("\nFAIL: " + "; ".join(bad) if bad else "\nOK: at most 1 % of envs beyond float32 tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
