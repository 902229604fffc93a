"""Which gait does a task's reward pay most? At the command of every clip the style judge would judge (or, with
`extremes`, at each command extreme with the clip that walks nearest it), the task's reward terms (weighted, per
policy step) for up to three motions:
- the clip's own gait, played kinematically through the task (`ClipPlayback`: each step puts the robot at the
  clip's next frame, with the clip's foot contacts; no physics, so it never falls and needs no torque; a gait
  clock, if the task has one, set so that the clip's left foot touches down at phase 0);
- the dataset's standing clip, played the same way at the same command: what standing still earns;
- a policy, when one is given, in physics (CPU MuJoCo).
A term that pays standing or the policy more than the clip's gait pulls training away from the clips (the G1's
`feet_air_time` did: it stood still, thirteenth round in docs/style_rounds.md); the report names such terms (the
G1's `gait_swing_height` paid its policy's flat-topped swing 0.60 per step more than the clips', nineteenth round).
The discriminator's style reward has no fixed value and is not in it; `motion_match` is. Played clips exert no
torque, so the torque terms favour them. CLI: benchmarks/reward_audit.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from awd.errors import AwdError

MOTIONS = ("clip", "standing", "policy")
LABELS = {"clip": "clip's gait", "standing": "standing clip", "policy": "policy"}


@dataclass(frozen=True)
class AuditSettings:
    settle_s: float = 1.5  # before the measurement: the tracking rewards' velocity window fills
    measure_s: float = 2.5  # at most; never past the end of the shortest judged clip
    threads: int | None = None
    seed: int = 0


class ClipPlayback:
    """Stands in for an env's engine: each step puts env i at clip `clip_ids[i]`'s next frame (its own gait,
    kinematically) with the clip's foot contacts; a reset starts the clip over. Everything else is the engine's."""

    def __init__(self, engine, motion_lib, clip_ids: torch.Tensor, dt: float):
        self._engine, self._lib, self._ids, self._dt = engine, motion_lib, clip_ids, dt
        self._time = torch.zeros(len(clip_ids), dtype=torch.float64)
        self.foot_contacts = engine.foot_contacts.clone()

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def reset_where(self, mask: torch.Tensor, *state) -> None:
        self._time[mask.cpu()] = 0.0
        self._show(mask.cpu().nonzero().flatten())

    def step(self, joint_targets: torch.Tensor) -> None:
        self._time += self._dt
        self._show(torch.arange(len(self._ids)))

    def align_clock(self, clock) -> None:
        """Set a gait clock's offsets so that each clip's left foot touches down at phase 0 (played from time 0)."""
        ids = self._ids.to(clock.touchdown.device)
        clock.offset[:] = clock.clip_offsets(ids, torch.zeros(len(ids), dtype=torch.float64, device=ids.device))

    def _show(self, rows: torch.Tensor) -> None:
        state = self._lib.get_state(self._ids[rows], self._time[rows])
        self._engine.reset(rows, *(t.float() for t in state[:6]))
        self.foot_contacts[rows] = state.foot_contacts.to(self.foot_contacts.device) > 0.5


def build_audit_env(env_config: dict, num_envs: int, duration_s: float, settings: AuditSettings):
    """The task's env on CPU MuJoCo with its clips (motion_match reads them), default-pose starts, fixed commands,
    no domain randomisation."""
    from awd.loader import policy_env

    return policy_env(env_config["task"], {**env_config["env"], "domain_rand": {}}, env_config.get("source"),
                      num_envs, "mujoco", None, settings.threads, settings.seed, episode_length_s=duration_s + 1.0,
                      command_timer=False, clips=True)


@torch.no_grad()
def audit_rewards(env_config: dict, act=None, settings: AuditSettings = AuditSettings(),
                  extremes: bool = False) -> dict:
    """Per judged clip (`extremes`: per command extreme) and motion, the mean weighted value of every reward term per
    policy step (None where the motion ended its episode: a policy's fall, a pose the task's termination refuses),
    and each motion's means over the clips that step."""
    judged, played, measure_s = _clips_to_play(env_config, settings, extremes)
    commands = np.array([command for _, command in judged])
    env = build_audit_env(env_config, len(played), settings.settle_s + measure_s, settings)
    env.engine = ClipPlayback(env.engine, env.motion_lib, torch.as_tensor(played), env.dt)
    sums, fell = _measure(env, np.tile(commands, (len(played) // len(judged), 1)), None, settings, measure_s)
    motions = list(MOTIONS[:len(played) // len(judged)])
    if act is not None:
        env = build_audit_env(env_config, len(judged), settings.settle_s + measure_s, settings)
        policy_sums, policy_fell = _measure(env, commands, act, settings, measure_s)
        sums, fell = np.concatenate([sums, policy_sums]), np.concatenate([fell, policy_fell])
        motions.append("policy")
    rows = []
    for i, (name, command) in enumerate(judged):
        row = {"name": name, "command": command.tolist(), "stepping": bool(command.any())}
        for m, motion in enumerate(motions):
            index = m * len(judged) + i
            row[motion] = None if fell[index] else dict(zip(env.reward_names, sums[index].tolist()))
        rows.append(row)
    return {"task": env_config["task"], "reward_terms": list(env.reward_names), "motions": motions,
            "measure_s": measure_s, "clips": rows, "means": _means(rows, motions, env.reward_names)}


def _clips_to_play(env_config: dict, settings: AuditSettings, extremes: bool = False):
    """The rows [(name, command)]: the judged clips, or with `extremes` each command extreme named with the clip
    nearest it; the motion-library ids to play (each row's clip, then the standing clip once per row when the
    dataset has one) and the seconds to measure."""
    from awd.robot import load_robot_spec
    from awd.style.judge import commanded, judged_dataset, select_clips
    from awd.style.recording import clip_gaits
    from awd.tasks.config import env_config_from_mapping

    source = env_config.get("source")
    if not commanded(env_config):
        raise AwdError(source, "task", f"{env_config['task']} takes no commands: nothing to audit")
    cfg = env_config_from_mapping(env_config["env"], source or "env config")
    names, gaits = clip_gaits(load_robot_spec(cfg.robot), judged_dataset(source, env_config, None))
    judged, _ = select_clips(names, gaits, cfg.commands)
    if not judged:
        raise AwdError(source, "env.commands", "no clip's velocity lies inside the command ranges")
    standing = [names.index(name) for name, command in judged if not command.any()]
    if extremes:
        rows, played = nearest_clips_to_extremes(names, gaits, cfg.commands)
    else:
        rows, played = judged, [names.index(name) for name, _ in judged]
    shortest = min(len(gaits[clip].joint_pos) for clip in played) * gaits[0].dt
    measure_s = min(settings.measure_s, shortest - settings.settle_s)
    if measure_s <= 0:
        raise AwdError(source, "env.motion_file",
                       f"clips of {shortest:.2f} s leave nothing to measure after {settings.settle_s} s of settling")
    return rows, played + standing * len(rows), measure_s


def nearest_clips_to_extremes(names: list[str], gaits, commands) -> tuple[list[tuple[str, np.ndarray]], list[int]]:
    """Each command extreme as ("lin_vel_x min (clip)", command) and the index of the clip whose mean velocity
    is nearest it, in units of each range's span (`commands`: the task's CommandConfig)."""
    from awd.style.gait import gait_stats
    from awd.style.judge import extreme_commands
    from awd.tasks.config import COMMAND_AXES

    velocities = np.stack([gait_stats(gait).velocity for gait in gaits])
    span = np.array([high - low for low, high in (getattr(commands, axis) for axis in COMMAND_AXES)])
    rows, played = [], []
    for label, command in extreme_commands(commands):
        nearest = int(np.argmin(np.linalg.norm((velocities - command) / np.maximum(span, 1e-6), axis=1)))
        rows.append((f"{label} ({names[nearest]})", command))
        played.append(nearest)
    return rows, played


def _measure(env, commands: np.ndarray, act, settings: AuditSettings, measure_s: float):
    """Per env, the weighted reward sums per policy step over the measurement (after the settling), and which envs
    fell; `act` None: the actions that target the engine's joint positions (a played clip's)."""
    env.set_commands(torch.as_tensor(commands, dtype=torch.float32))
    obs = env.reset()
    if act is None and getattr(env, "gait_clock", None) is not None:
        env.engine.align_clock(env.gait_clock)
    settle, measure = round(settings.settle_s / env.dt), round(measure_s / env.dt)
    fell = torch.zeros(env.num_envs, dtype=torch.bool)
    before = None
    for step in range(1, settle + measure + 1):
        if act is None:
            actions = (env.engine.joint_pos - env.default_joint_pos) / env.action_scale
        else:
            actions = act(obs).to(env.device)
        obs, _, _, infos = env.step(actions)
        fell |= infos["terminate"].to(torch.bool).cpu()
        if step == settle:
            before = env.reward_sums.clone()
    return ((env.reward_sums - before) / measure).cpu().numpy(), fell.numpy()


def _means(rows: list[dict], motions: list[str], terms) -> dict:
    """Per motion, each term's mean over the stepping clips where no motion ended its episode."""
    kept = [r for r in rows if r["stepping"] and all(r[m] is not None for m in motions)]
    return {m: {t: float(np.mean([r[m][t] for r in kept])) for t in terms} if kept else None for m in motions}


def overpaid_terms(means: dict, tolerance: float = 0.01) -> dict[str, dict[str, float]]:
    """Per motion other than the clip's gait, the terms whose mean pays it more than the clip's gait by over
    `tolerance` per step, and by how much, most first."""
    if means["clip"] is None:
        return {}
    return {motion: dict(sorted(((term, value - means["clip"][term]) for term, value in terms.items()
                                 if value - means["clip"][term] > tolerance), key=lambda item: -item[1]))
            for motion, terms in means.items() if motion != "clip" and terms is not None}


def format_audit(result: dict) -> str:
    motions, terms, means = result["motions"], result["reward_terms"], result["means"]
    head = " | ".join(LABELS[m] for m in motions)
    lines = [f"reward audit of {result['task']}: weighted reward per policy step over {result['measure_s']:.2f} s, "
             "means over the rows that step", "", f"| term | {head} |", "|---" * (len(motions) + 1) + "|"]
    for term in terms + ["total"]:
        values = [None if means[m] is None else sum(means[m].values()) if term == "total" else means[m][term]
                  for m in motions]
        lines.append(f"| {term} | " + " | ".join("n/a" if v is None else f"{v:+.4f}" for v in values) + " |")
    for motion, excess in overpaid_terms(means).items():
        named = ", ".join(f"{term} +{value:.3f}" for term, value in excess.items()) or "none"
        lines.append(f"terms that pay the {LABELS[motion]} more than the clip's gait: {named}")
    lines += ["", f"| clip | command vx vy wz | {head} | paid more than the clip's gait |",
              "|---" * (len(motions) + 3) + "|"]
    for row in result["clips"]:
        totals = [None if row[m] is None else sum(row[m].values()) for m in motions]
        cells = " | ".join("fell" if t is None else f"{t:+.3f}" for t in totals)
        beaten = [LABELS[m] for m, t in zip(motions[1:], totals[1:]) if t is not None and t >= totals[0]]
        command = " ".join(f"{v:.2f}" for v in row["command"])
        lines.append(f"| {row['name']} | {command} | {cells} | {', '.join(beaten) or '-'} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    import argparse

    from awd.config import apply_override, load_run_config
    from awd.errors import exit_on_error
    from awd.utils.io import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="DucklingCommand", help="the task whose shipped config is audited")
    parser.add_argument("--policy", help="also audit this checkpoint or export folder (its own config is audited)")
    parser.add_argument("--extremes", action="store_true",
                        help="at each command extreme with the clip nearest it, instead of at the judged clips")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("overrides", nargs="*", help="dotted env overrides, e.g. env.rewards.feet_air_time.weight=1")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with exit_on_error():
        act = None
        if args.policy:
            from awd.style.judge import load_policy_under_test

            policy = load_policy_under_test(args.policy)
            env_config, act = copy.deepcopy(policy.env_config), policy.act
            for override in args.overrides:
                apply_override(env_config, override)
        else:
            config = load_run_config(args.task, overrides=args.overrides)
            env_config = {"task": args.task, "env": config["env"], "source": config["sources"]["env"]}
        result = audit_rewards(env_config, act, AuditSettings(threads=args.threads), args.extremes)
        print(format_audit(result), flush=True)
        if args.json:
            write_json_atomic(args.json, result, indent=2)
        return result


if __name__ == "__main__":
    main()
