"""How often training asks for each clip's command. Commands are drawn as the task's sampler draws them in
training (`sample_commands`: its ranges, zero share and `single_axis_prob`), and each is matched to the clip that
walks nearest it, in units of the clips' spread, as the `gait_pose` reward matches them (awd.tasks.gait_pose). Per
clip: the share of draws nearest it, and the mean over all draws of the pose term's weight w = exp(-d^2 / radius^2)
that clip gets: how much of training asks for that clip's gait. The sampler draws the three axes apart, so a clip
that walks fast along one axis is seldom near a draw (the G1's `forward_fast` 0.0047 per draw against 0.0083 for
each fast turn, docs/style_rounds.md, twenty-ninth round). CLI: benchmarks/command_exposure.py.
"""

from __future__ import annotations

from pathlib import Path

import torch

DEFAULT_RADIUS = 0.5  # the gait_pose term's own default (awd.tasks.gait_pose)


@torch.no_grad()
def command_exposure(env_config: dict, draws: int = 200_000, seed: int = 0) -> dict:
    """{"task", "draws", "radius", "zero_share", "total_weight", "clips": [{"name", "velocity", "nearest_share",
    "weight"}]} for the clips that walk at a command the sampler asks for, in dataset order."""
    from awd.errors import AwdError
    from awd.motion.dataset import dataset_files
    from awd.tasks.factory import build_env, resolve_dataset
    from awd.tasks.gait_clock import STAND_COMMAND
    from awd.tasks.gait_pose import nearest_clip, spread_scale
    from awd.tasks.motion_match import zeroed
    from awd.tasks.tracking import stride_velocity

    env = build_env(env_config["env"], 1, task=env_config["task"], source=env_config.get("source"), seed=seed)
    if not hasattr(env, "sample_commands"):
        raise AwdError(env.cfg.source, "task", f"expected a command task, found {env_config['task']}")
    if env.motion_lib is None:
        raise AwdError(env.cfg.source, "env.motion_file", "expected clips to match the commands to")
    lib, names = env.motion_lib, [Path(f).stem for f in dataset_files(resolve_dataset(
        env.cfg.motion_file, env.spec.name, env.cfg.source))]
    walking = [(clip, stride_velocity(lib.get_state(*lib.time_grid(clip, env.dt)))) for clip in range(lib.num_clips)]
    walking = [(clip, velocity) for clip, velocity in walking if not zeroed(velocity, env.cfg.commands)]
    if not walking:
        raise AwdError(env.cfg.source, "env.motion_file", "expected clips that walk at a command the sampler asks for")
    velocities = torch.stack([velocity for _, velocity in walking]).to(env.dtype)
    scale = spread_scale(velocities)
    commands = env.sample_commands(draws).to(velocities.device, velocities.dtype)
    distance, nearest = nearest_clip(commands, velocities * scale, scale)
    moving = commands.norm(dim=-1) >= STAND_COMMAND
    term = env.cfg.rewards.get("gait_pose")
    radius = float(term.params["radius"]) if term is not None else DEFAULT_RADIUS
    weight = torch.exp(-distance / radius ** 2) * moving
    clips = [{"name": names[clip], "velocity": velocities[row].tolist(),
              "nearest_share": float(((nearest == row) & moving).sum()) / draws,
              "weight": float(weight[nearest == row].sum()) / draws} for row, (clip, _) in enumerate(walking)]
    return {"task": env_config["task"], "draws": draws, "radius": radius,
            "zero_share": float((~moving).sum()) / draws, "total_weight": float(weight.sum()) / draws,
            "clips": clips}


def format_exposure(result: dict) -> str:
    lines = [f"command exposure of {result['task']}: {result['draws']:,} commands drawn as in training, each matched "
             f"to its nearest walking clip (in the clips' spread); pose weight w = exp(-d^2 / {result['radius']:g}^2)",
             "", "| clip | vx vy wz | share of draws nearest | pose weight per draw |", "|---|---|---:|---:|"]
    for clip in sorted(result["clips"], key=lambda row: row["weight"]):
        vx, vy, wz = clip["velocity"]
        lines.append(f"| {clip['name']} | {vx:+.2f} {vy:+.2f} {wz:+.2f} | {clip['nearest_share']:.3f} | "
                     f"{clip['weight']:.4f} |")
    lines.append(f"zero commands {result['zero_share']:.3f} of the draws; pose weight over all clips "
                 f"{result['total_weight']:.3f} per draw")
    return "\n".join(lines)


def main(argv=None) -> dict:
    import argparse

    from awd.config import load_run_config
    from awd.errors import exit_on_error
    from awd.utils.io import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="DucklingCommand", help="a command task; its shipped config with overrides")
    parser.add_argument("--draws", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("overrides", nargs="*", help="dotted env overrides, e.g. env.commands.single_axis_prob=0.3")
    args = parser.parse_args(argv)
    with exit_on_error():
        if args.draws < 1:
            from awd.errors import AwdError

            raise AwdError("--draws", None, f"expected a positive number of commands, found {args.draws}")
        config = load_run_config(args.task, overrides=args.overrides)
        result = command_exposure({"task": args.task, "env": config["env"], "source": config["sources"]["env"]},
                                  args.draws, args.seed)
        print(format_exposure(result), flush=True)
        if args.json:
            write_json_atomic(args.json, result, indent=2)
        return result
