"""What tells a policy from its clips, as the style classifier (awd.style.classifier) sees it? The policy is
recorded as the style report records it (CPU MuJoCo, one env at every judged clip's command; an imitation policy
runs free for the rest of its episode) and the classifier is scored with every feature group, with each group
alone, with all groups but one, and with the joints the clips hold (the task's `env.amp.exclude_joints`) set to the
clips' value in the policy's motion. A group near 0.5 alone does not tell; one whose removal leaves the rest far
above the verdict's bound is not alone to blame. Against a second policy of the same robot and commands, the
classifier scores the two performances against each other instead: what it makes of two policies that both pass
(the bound's floor for physical performances). CLI: benchmarks/classifier_probe.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from awd.errors import AwdError
from awd.style.classifier import SENSOR_NOISE, held_out_accuracy
from awd.style.gait import Gait
from awd.style.judge import PolicyUnderTest, StyleSettings, held_joints, judged_commands
from awd.style.recording import build_style_env, rollout


def recorded_motions(policy: PolicyUnderTest, settings: StyleSettings = StyleSettings()):
    """(the policy's gaits, the clips they are told from, the held joints' mask or None)."""
    from awd.robot import load_robot_spec

    cfg = policy.task_config()
    commands, clips, settings = judged_commands(policy, settings)
    env = build_style_env(policy.env_config, len(commands) if commands is not None else 1, settings,
                          settings.settle_s + settings.measure_s)
    motions, _ = rollout(env, policy.act, commands, settings)
    return motions, clips, held_joints(load_robot_spec(cfg.robot), cfg)


def recorded_against(policy: PolicyUnderTest, other: PolicyUnderTest, settings: StyleSettings = StyleSettings()):
    """(the policy's gaits, `other`'s at the same judged commands, None: neither holds joints still as clips do)."""
    mine, theirs = (judged_commands(p, settings)[0] for p in (policy, other))
    robot = policy.task_config().robot
    same_commands = (mine is None) == (theirs is None) and (mine is None or (mine.shape == theirs.shape
                                                                            and np.allclose(mine, theirs)))
    if not same_commands or other.task_config().robot != robot:
        raise AwdError(other.name, "env", f"expected a policy of the same robot judged at the same commands as "
                       f"{policy.name} ({robot}, {policy.env_config.get('task')})")
    return recorded_motions(policy, settings)[0], recorded_motions(other, settings)[0], None


def with_held_joints_of(motions: list[Gait], clips: list[Gait], held: np.ndarray) -> list[Gait]:
    """`motions` with the `held` joints set to their mean value over `clips` (which hold them still)."""
    value = np.concatenate([clip.joint_pos[:, held] for clip in clips]).mean(axis=0)
    result = []
    for motion in motions:
        joints = motion.joint_pos.copy()
        joints[:, held] = value
        result.append(replace(motion, joint_pos=joints))
    return result


def probe_rows(motions: list[Gait], clips: list[Gait], held: np.ndarray | None, seeds: tuple[int, ...] = (0, 1),
               steps: int = 300) -> list[tuple[str, list[float]]]:
    """(label, held-out accuracy per classifier seed) for every group, each alone, all but each, and the held joints
    made the clips'; `steps` of the classifier's training."""
    def scores(motion_set, parts=None):
        return [held_out_accuracy(motion_set, clips, seed=s, steps=steps, parts=parts) for s in seeds]

    rows = [("all groups", scores(motions))]
    rows += [(f"{part} alone", scores(motions, (part,))) for part in SENSOR_NOISE]
    rows += [(f"all but {part}", scores(motions, tuple(p for p in SENSOR_NOISE if p != part)))
             for part in SENSOR_NOISE]
    if held is not None:
        still = with_held_joints_of(motions, clips, held)
        rows += [("all groups, held joints as the clips'", scores(still)),
                 ("joints alone, held joints as the clips'", scores(still, ("joints",)))]
    return rows


def format_rows(rows: list[tuple[str, list[float]]], bound: float, reference: str = "its clips") -> str:
    """A markdown table of `probe_rows`, with the verdict's bound; `reference`: what the policy is told from."""
    seeds = len(rows[0][1])
    lines = [f"| features | {' | '.join(f'seed {s}' for s in range(seeds))} | mean |",
             "| --- |" + " ---: |" * (seeds + 1)]
    lines += [f"| {label} | {' | '.join(f'{a:.3f}' for a in accs)} | {np.mean(accs):.3f} |" for label, accs in rows]
    note = f"held-out accuracy: 0.5 cannot tell the policy from {reference}; the verdict allows {bound}"
    return "\n".join(lines) + "\n\n" + note
