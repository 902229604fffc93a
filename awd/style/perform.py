"""Performed clips: a trained motion tracker (task DucklingTrack or G1Track, awd/tasks/tracking.py) plays every clip
of a dataset in physics from the clip's first frame, and what the robot did becomes a clip of a new dataset
(`awd perform TRACKER -o DIR`). The performed clips stay within the actuators and the contact physics, which the
gait generator's kinematic clips do not (docs/style_rounds.md, seventh round: 2.6x the effort limits, a rigid trunk), so
a discriminator cannot tell them from physics by what physics cannot do. Each clip's table row says how far the
performance is from its source (joint RMS, velocity); a clip whose performance fell is left out and named.

The new dataset is written to a temporary folder and renamed into place: no half-written output.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from awd.errors import AwdError, exit_on_error


@torch.no_grad()
def perform(policy, clip_names: list[str], clips: list, settle_s: float = 0.2, threads: int = 1) -> list[dict]:
    """Every clip played by the tracker `policy` (a PolicyUnderTest of a tracker's checkpoint or export), one env
    per clip on CPU MuJoCo; per clip {name, clip (the performed Clip, or None if it fell), fell_at_s, rows}."""
    from awd.motion.clip import clip_from_positions
    from awd.style.recording import GaitRecorder
    from awd.tasks import TASKS, DucklingTrack, build_env

    task = policy.env_config["env"].get("task")
    if not issubclass(TASKS.get(task, object), DucklingTrack):
        raise AwdError(policy.name, "config.env_config.task", f"expected a tracker (DucklingTrack, G1Track), found "
                       f"{task!r}")
    mapping = copy.deepcopy(policy.env_config["env"])
    mapping["motion_file"] = str(policy.motion_file)
    mapping["episode_length_s"] = max(clip.duration for clip in clips) + 1.0
    torch.set_num_threads(threads)
    env = build_env(mapping, len(clips), source=policy.env_config.get("source"), seed=0)
    env.play_clips(torch.arange(len(clips)))
    recorder, dt = GaitRecorder(env.engine, env.spec.foot_bodies, env.dt), env.dt
    fell_at = np.full(len(clips), np.nan)
    steps = int(round(max(clip.duration for clip in clips) / dt))
    obs = env.compute_observations()
    for step in range(steps + 1):
        recorder.record()
        if step == steps:
            break
        obs, _, _, infos = env.step(policy.act(obs).to(env.device))
        fell = infos["terminate"].cpu().numpy().astype(bool)
        fell_at = np.where(fell & np.isnan(fell_at), (step + 1) * dt, fell_at)
    origins = env.reset_states.env_origins.double().cpu().numpy()
    skip = int(round(settle_s / dt))
    results = []
    for index, (name, source, gait) in enumerate(zip(clip_names, clips, recorder.gaits())):
        if not np.isnan(fell_at[index]) and fell_at[index] <= source.duration:
            results.append({"name": name, "clip": None, "fell_at_s": float(fell_at[index])})
            continue
        g = gait.frames(skip, int(round(source.duration / dt)) + 1)
        origin = origins[index]
        performed = clip_from_positions(1.0 / dt, source.joint_names, g.root_pos - origin, g.root_quat, g.joint_pos,
                                        g.foot_pos - origin, g.foot_contacts.astype(np.float64), robot=source.robot,
                                        weight=source.weight, loop_mode="Clamp", metadata=dict(source.metadata))
        results.append({"name": name, "clip": performed, "fell_at_s": None, **compare_to_source(performed, source)})
    return results


def compare_to_source(performed, source) -> dict:
    """Joint RMS (rad) against the source at the same times; both mean velocities (vx, vy in the heading frame, wz;
    awd.style.gait.yaw_frame_velocity), the lower swing clearance of the two feet (m) and double-support shares."""
    from awd.style.gait import Gait, gait_stats, yaw_frame_velocity

    def feet(clip) -> dict:
        stats = gait_stats(Gait.from_clip(clip))
        return {"clearance": min(stats.clearance), "double_support": stats.double_support}

    times = np.arange(performed.num_frames) / performed.fps + (source.duration - performed.duration)
    source_joints = np.stack([np.interp(times, np.arange(source.num_frames) / source.fps, source.joint_pos[:, j])
                              for j in range(source.joint_pos.shape[1])], axis=-1)
    return {"joint_rms": float(np.sqrt(((performed.joint_pos - source_joints) ** 2).mean())),
            "velocity": yaw_frame_velocity(performed).mean(axis=0).tolist(),
            "source_velocity": yaw_frame_velocity(source).mean(axis=0).tolist(),
            "feet": feet(performed), "source_feet": feet(source)}


def write_dataset(results: list[dict], output: Path, tracker: str) -> None:
    """The performed clips as `<name>.json` in `output` (created or replaced whole, atomically)."""
    from awd.motion.clip import save_clip

    kept = [r for r in results if r["clip"] is not None]
    if not kept:
        raise AwdError(output, None, "every performance fell: no clip to write (train the tracker longer)")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        for r in kept:
            performed = r["clip"]
            note = {"tracker": tracker, "source_clip": r["name"], "joint_rms_to_source": round(r["joint_rms"], 4)}
            performed = replace(performed, metadata={**performed.metadata, "Performed": note})
            save_clip(performed, staging / f"{r['name']}.json")
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def format_results(results: list[dict]) -> str:
    lines = ["| clip | joint rms (rad) | vx vy wz performed | vx vy wz source | clearance mm performed / source "
             "| double support performed / source |", "| --- | ---: | --- | --- | --- | --- |"]
    for r in results:
        if r["clip"] is None:
            lines.append(f"| {r['name']} | fell at {r['fell_at_s']:.2f} s | – | – | – | – |")
            continue
        v, s = (" ".join(f"{x:+.3f}" for x in r[key]) for key in ("velocity", "source_velocity"))
        mine, theirs = r["feet"], r["source_feet"]
        clearance = f"{1000 * mine['clearance']:.0f} / {1000 * theirs['clearance']:.0f}"
        support = f"{mine['double_support']:.2f} / {theirs['double_support']:.2f}"
        lines.append(f"| {r['name']} | {r['joint_rms']:.3f} | {v} | {s} | {clearance} | {support} |")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="awd perform", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracker", help="a tracker's checkpoint (.pth) or export folder")
    parser.add_argument("-o", "--output", required=True, help="folder for the performed clips (replaced whole)")
    parser.add_argument("--motion_file", help="dataset to perform (default: the one the tracker was trained on)")
    parser.add_argument("--settle_s", type=float, default=0.2, help="seconds left out at each clip's start")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    with exit_on_error():
        from awd.motion.dataset import dataset_files, load_dataset
        from awd.robot import load_robot_spec
        from awd.style.judge import load_policy_under_test

        policy = load_policy_under_test(args.tracker, args.motion_file)
        if args.settle_s < 0:
            raise AwdError(None, "--settle_s", f"expected a non-negative number of seconds, got {args.settle_s}")
        spec = load_robot_spec(policy.env_config["env"].get("robot", "mini_bdx"))
        clips = load_dataset(policy.motion_file, spec.joint_names)
        names = [file.stem for file in dataset_files(policy.motion_file)]
        results = perform(policy, names, clips, args.settle_s, args.threads)
        print(format_results(results))
        write_dataset(results, Path(args.output), Path(args.tracker).name)
        kept = sum(r["clip"] is not None for r in results)
        print(f"awd perform: {kept} of {len(results)} clips written to {args.output}")
        return results


if __name__ == "__main__":
    main()
