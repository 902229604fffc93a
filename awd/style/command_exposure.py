"""How often training asks for each clip's command. The commands of training's steps are drawn as the task gives
them: a reset from a clip frame is commanded that clip's velocity until the next resample (`clip_command_prob`,
awd.tasks.clip_commands), every other command is the sampler's (`sample_commands`: its ranges, zero share and
`single_axis_prob`); the share of the first kind assumes episodes that run their full length, as they do once a
policy stops falling. Each command is matched to the clip that walks nearest it, in units of the clips' spread, as
the `gait_pose` reward matches them (awd.tasks.gait_pose). Per clip: the share of steps nearest it, and the mean
over all steps of the pose term's weight w = exp(-d^2 / radius^2) that clip gets: how much of training asks for
that clip's gait. The sampler draws the three axes apart, so a clip that walks fast along one axis is seldom near
its draws (the G1's `forward_fast`, docs/style_rounds.md, twenty-ninth round). CLI: benchmarks/command_exposure.py.
"""

from __future__ import annotations

from pathlib import Path

import torch

DEFAULT_RADIUS = 0.5  # the gait_pose term's own default (awd.tasks.gait_pose)


@torch.no_grad()
def command_exposure(env_config: dict, draws: int = 200_000, seed: int = 0) -> dict:
    """{"task", "draws", "radius", "clip_command_share", "zero_share", "total_weight", "clips": [{"name", "velocity",
    "nearest_share", "weight"}]} for the clips that walk at a command the sampler asks for, in dataset order."""
    from awd.errors import AwdError
    from awd.motion.dataset import dataset_files
    from awd.tasks.demo_weights import clip_velocities_and_stepping
    from awd.tasks.factory import build_env, resolve_dataset
    from awd.tasks.gait_clock import STAND_COMMAND
    from awd.tasks.gait_pose import nearest_clip, spread_scale
    from awd.tasks.motion_match import zeroed

    env = build_env(env_config["env"], 1, task=env_config["task"], source=env_config.get("source"), seed=seed)
    if not hasattr(env, "sample_commands"):
        raise AwdError(env.cfg.source, "task", f"expected a command task, found {env_config['task']}")
    if env.motion_lib is None:
        raise AwdError(env.cfg.source, "env.motion_file", "expected clips to match the commands to")
    lib, names = env.motion_lib, [Path(f).stem for f in dataset_files(resolve_dataset(
        env.cfg.motion_file, env.spec.name, env.cfg.source))]
    walking = [(clip, velocity) for clip, velocity in enumerate(clip_velocities_and_stepping(lib, env.dt)[0])
               if not zeroed(velocity, env.cfg.commands)]
    if not walking:
        raise AwdError(env.cfg.source, "env.motion_file", "expected clips that walk at a command the sampler asks for")
    velocities = torch.stack([velocity for _, velocity in walking]).to(env.dtype)
    scale = spread_scale(velocities)
    commands = training_commands(env, draws).to(velocities.device, velocities.dtype)
    distance, nearest = nearest_clip(commands, velocities * scale, scale)
    moving = commands.norm(dim=-1) >= STAND_COMMAND
    term = env.cfg.rewards.get("gait_pose")
    radius = float(term.params["radius"]) if term is not None else DEFAULT_RADIUS
    weight = torch.exp(-distance / radius ** 2) * moving
    clips = [{"name": names[clip], "velocity": velocities[row].tolist(),
              "nearest_share": float(((nearest == row) & moving).sum()) / draws,
              "weight": float(weight[nearest == row].sum()) / draws} for row, (clip, _) in enumerate(walking)]
    return {"task": env_config["task"], "draws": draws, "radius": radius, "clip_command_share": clip_command_share(env),
            "zero_share": float((~moving).sum()) / draws, "total_weight": float(weight.sum()) / draws,
            "clips": clips}


def clip_command_share(env) -> float:
    """The share of a full-length episode's steps commanded the velocity of the clip it started from."""
    if env.clip_commands is None:
        return 0.0
    init = env.cfg.init
    from_clips = {"Default": 0.0, "Hybrid": init.hybrid_prob}.get(init.mode, 1.0)
    episode, resample = env.cfg.episode_length_s, env.cfg.commands.resample_s
    held = min(resample, episode) if resample > 0 else episode
    return from_clips * env.clip_commands.prob * held / episode


def training_commands(env, count: int) -> torch.Tensor:
    """(count, 3) commands in the mix training's steps get them: clips' own velocities (clips drawn by weight, as
    resets draw them) in `clip_command_share`, the sampler's draws in the rest."""
    from_clips = int(round(clip_command_share(env) * count))
    sampled = env.sample_commands(count - from_clips)
    if from_clips == 0:
        return sampled
    clip_ids = env.motion_lib.sample_clips(from_clips, generator=env.reset_states.motion_generator())
    return torch.cat([env.clip_commands.velocities[clip_ids.to(env.device)], sampled])


def format_exposure(result: dict) -> str:
    lines = [f"command exposure of {result['task']}: {result['draws']:,} commands as training's steps get them "
             f"({result['clip_command_share']:.3f} a clip's own velocity after a reset from it, the rest the "
             f"sampler's), each matched to its nearest walking clip (in the clips' spread); pose weight w = exp(-d^2 / "
             f"{result['radius']:g}^2)",
             "", "| clip | vx vy wz | share of steps nearest | pose weight per step |", "|---|---|---:|---:|"]
    for clip in sorted(result["clips"], key=lambda row: row["weight"]):
        vx, vy, wz = clip["velocity"]
        lines.append(f"| {clip['name']} | {vx:+.2f} {vy:+.2f} {wz:+.2f} | {clip['nearest_share']:.3f} | "
                     f"{clip['weight']:.4f} |")
    lines.append(f"zero commands {result['zero_share']:.3f} of the steps; pose weight over all clips "
                 f"{result['total_weight']:.3f} per step")
    return "\n".join(lines)


def main(argv=None) -> dict:
    import argparse

    from awd.config import load_run_config
    from awd.errors import AwdError, exit_on_error
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
            raise AwdError("command line", "--draws", f"expected a positive number of commands, found {args.draws}")
        config = load_run_config(args.task, overrides=args.overrides)
        result = command_exposure({"task": args.task, "env": config["env"], "source": config["sources"]["env"]},
                                  args.draws, args.seed)
        print(format_exposure(result), flush=True)
        if args.json:
            write_json_atomic(args.json, result, indent=2)
        return result
