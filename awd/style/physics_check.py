"""Can the physics reproduce the clips, and does any AMP feature separate demos from physics whatever the policy
does? Two measurements behind the style issue's "find the cause before tuning" (CLI: benchmarks/clip_replay.py).

`replay_clips`: every clip starts in the engine at its first frame and is driven by PD targets equal to the
clip's joint angles (a `Drive`): open loop, clamped to default +- `reach` (a policy reaches default +- action_scale;
None: unclamped), or by a lag-free tracking controller with stiffer gains and limits. Its gait is compared with
the clip's (awd.style.gait): forward speed, swing clearance, double support, pitch, trunk rocking, falls; beside
it the torque the clip needs (awd.gait.feasibility).

`feature_gaps`: the AMP frames of those replays next to the demo frames at the same clip times. Per feature, the
mean absolute difference in units of the feature's spread over all demo frames of the dataset. A feature that the
clips hold constant (spread near 0: a kinematic clip's rigid trunk) while the physics cannot is one a
discriminator separates exactly, whatever the policy does.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch

from awd.style.gait import gait_stats, pitch_roll_deg
from awd.style.recording import GaitRecorder
from awd.tasks.amp_features import frame_from_engine, frame_from_motion


def build_replay_env(env_config: dict, num_envs: int):
    """The task's robot and clips as a DucklingAMP env (no commands, no reward terms: a G1Command's clock terms
    need a command task), default-pose starts."""
    from awd.tasks import build_env

    env = copy.deepcopy(env_config["env"])
    env.setdefault("init", {})["mode"] = "Default"
    env["rewards"] = {}
    return build_env(env, num_envs, task="DucklingAMP", source=env_config.get("source"), seed=0)


@dataclass(frozen=True)
class Drive:
    """How a replay drives the joints: PD targets clamped to default +- `reach` (None: unclamped), kp, kd and effort
    limits times `gain_scale`, and with `lead` the targets led by (kd / kp) x the clip's joint velocity, which
    turns the PD into a tracking controller without lag (q* - q and q'* - q' both fed back)."""

    reach: float | None = None
    gain_scale: float = 1.0
    lead: bool = False

    @property
    def label(self) -> str:
        reach = "clip" if self.reach is None else f"+-{self.reach:g}"
        return reach + (f", tracked ({self.gain_scale:g}x gains and limits)" if self.lead else "")


@torch.no_grad()
def replay_clips(env_config: dict, clip_names: list[str], drives: list[Drive]) -> dict:
    """Replays of the named clips of the env's dataset under each drive; rows, the torque each clip needs (awd.gait.
    feasibility) and the AMP feature gaps of the plain unclamped replays."""
    from awd.gait.feasibility import TorqueModel
    from awd.motion.dataset import load_dataset
    from awd.robot import load_robot_spec
    from awd.style.judge import judged_dataset
    from awd.style.recording import clip_gaits

    spec = load_robot_spec(env_config["env"].get("robot", "mini_bdx"))
    path = judged_dataset(env_config.get("source"), env_config, None)
    names, clips = clip_gaits(spec, path)
    missing = [name for name in clip_names if name not in names]
    if missing:
        from awd.errors import AwdError
        raise AwdError(path, "clips", f"no clip named {missing}; the dataset has {names}")
    torques, demands = TorqueModel(spec), {}
    for name, clip in zip(names, load_dataset(path, spec.joint_names)):
        if name in clip_names:
            demands[name] = torques.demand(clip).worst
    pairs = [(names.index(name), drive) for name in clip_names for drive in drives]
    env = build_replay_env(env_config, len(pairs))
    lib, engine = env.motion_lib, env.engine
    ids = torch.tensor([clip for clip, _ in pairs])
    default = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32)
    reach = torch.tensor([np.inf if d.reach is None else d.reach for _, d in pairs], dtype=torch.float32)[:, None]
    lead = torch.as_tensor(spec.kd / spec.kp, dtype=torch.float32) * torch.tensor([[d.lead] for _, d in pairs])
    engine.set_torque_scale(torch.arange(len(ids)), torch.tensor([[d.gain_scale] * spec.num_joints for _, d in pairs]))
    steps = int(float(lib.lengths[ids].min()) / env.dt)
    start = lib.get_state(ids, torch.zeros(len(ids), dtype=torch.float64))
    engine.reset(torch.arange(len(ids)), *(t.float() for t in (start.root_pos, start.root_quat, start.root_lin_vel,
                                                               start.root_ang_vel, start.joint_pos, start.joint_vel)))
    recorder = GaitRecorder(engine, spec.foot_bodies, env.dt)
    engine_frames, demo_frames = [], []
    fell = torch.zeros(len(ids), dtype=torch.bool)
    for k in range(1, steps + 1):
        state = lib.get_state(ids, torch.full((len(ids),), k * env.dt, dtype=torch.float64))
        target = torch.maximum(torch.minimum(state.joint_pos.float(), default + reach), default - reach)
        engine.step(target + lead * state.joint_vel.float())
        fell |= env.fallen()
        recorder.record()
        engine_frames.append(frame_from_engine(env.amp_layout, engine, env.key_body_indices))
        demo_frames.append(frame_from_motion(env.amp_layout, state).float())
    rows = []
    for index, ((clip, drive), gait) in enumerate(zip(pairs, recorder.gaits())):
        rows.append({"clip": names[clip], "drive": drive.label, **asdict(drive), "fell": bool(fell[index]),
                     "torque_demand": demands[names[clip]], "replay": asdict(gait_stats(gait)),
                     "clip_stats": asdict(gait_stats(clips[clip])),
                     "roll_swing_deg": [roll_swing(g) for g in (gait, clips[clip])]})
    plain = [i for i, (_, d) in enumerate(pairs) if d == Drive()]
    gaps = feature_gaps(env, torch.stack(engine_frames, 1), torch.stack(demo_frames, 1), plain)
    return {"dataset": str(path), "action_scale": float(spec.action_scale), "rows": rows, "feature_gaps": gaps}


def roll_swing(gait) -> float:
    """Peak-to-peak trunk roll (deg): how far the trunk rocks side to side."""
    return float(np.ptp(pitch_roll_deg(gait.root_quat)[1]))


def feature_names(layout) -> list[str]:
    return [f"{name}[{i}]" for name, size in layout.parts for i in range(size)]


def feature_gaps(env, engine_frames: torch.Tensor, demo_frames: torch.Tensor, rows: list[int],
                 top: int = 12) -> list[dict]:
    """The `top` features with the largest mean |engine - demo| in units of the dataset's demo spread."""
    if not rows:
        return []
    lib = env.motion_lib
    ids, times = lib.sample_windows(4096, 1, env.dt, generator=torch.Generator().manual_seed(0))
    spread = frame_from_motion(env.amp_layout, lib.get_state(ids, times)).float().std(dim=0)
    gap = (engine_frames[rows] - demo_frames[rows]).abs().flatten(0, 1).mean(dim=0)
    engine_spread = engine_frames[rows].flatten(0, 1).std(dim=0)
    ratio = gap / spread.clamp_min(1e-6)
    order = ratio.argsort(descending=True)[:top]
    names = feature_names(env.amp_layout)
    return [{"feature": names[i], "gap_in_demo_spreads": float(ratio[i]), "mean_abs_gap": float(gap[i]),
             "demo_spread": float(spread[i]), "engine_spread": float(engine_spread[i])} for i in order.tolist()]


def format_replay(result: dict) -> str:
    lines = [f"PD replay of {result['dataset']} (policy reach: default +- {result['action_scale']} rad; torque: the "
             "most loaded joint's 95th-percentile |torque| / effort limit to perform the clip exactly)", "",
             "| clip | torque / limit | drive (rad) | fell | vx m/s (clip) | clearance mm L/R (clip) "
             "| double support (clip) | pitch deg (clip) | roll swing deg (clip) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        r, c = row["replay"], row["clip_stats"]
        joint, share = row["torque_demand"]
        lines.append(f"| {row['clip']} | {share:.2f} {joint} | {row['drive']} | {row['fell']} "
                     f"| {r['velocity'][0]:.3f} ({c['velocity'][0]:.3f}) "
                     f"| {r['clearance'][0] * 1e3:.0f}/{r['clearance'][1] * 1e3:.0f} "
                     f"({c['clearance'][0] * 1e3:.0f}/{c['clearance'][1] * 1e3:.0f}) "
                     f"| {r['double_support']:.2f} ({c['double_support']:.2f}) "
                     f"| {r['pitch_deg']:.1f} ({c['pitch_deg']:.1f}) "
                     f"| {row['roll_swing_deg'][0]:.1f} ({row['roll_swing_deg'][1]:.1f}) |")
    if result["feature_gaps"]:
        lines += ["", "AMP features furthest from the demos (unclamped replays at the robot's gains):", "",
                  "| feature | gap / demo spread | mean abs gap | demo spread | engine spread |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {g['feature']} | {g['gap_in_demo_spreads']:.1f} | {g['mean_abs_gap']:.4f} "
                  f"| {g['demo_spread']:.4f} "
                  f"| {g['engine_spread']:.4f} |" for g in result["feature_gaps"]]
    return "\n".join(lines)
