"""The style check of an imitation policy (a task without commands: DucklingAMP, G1AMP), which cannot be steered to
a clip's velocity: it runs free from the default pose on CPU MuJoCo (or another engine) for `settle_s` and then the
rest of its episode (`episode_length_s`; `measure_s` if longer). With no command to call up its other motions, what
it drifts into over a whole episode is its style: a G1AMP policy stood still for its first 6 s, then stepped in
place. What it does after `settle_s` is told from every clip of its dataset by the style classifier
(awd.style.classifier). It passes when it stays up and the classifier's held-out accuracy is at most the task
config's `verdict.max_classifier_accuracy`. The style judge (awd.style.judge.judge_style) hands such policies here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace

from awd.style.classifier import held_out_accuracy
from awd.style.gait import gait_stats
from awd.style.recording import build_style_env, clip_gaits, rollout


def judge_imitation(policy, settings) -> dict:
    """The style report of an imitation policy (a PolicyUnderTest; `settings` a StyleSettings)."""
    from awd.robot import load_robot_spec

    start = time.perf_counter()
    cfg = policy.task_config()
    _, clips = clip_gaits(load_robot_spec(cfg.robot), policy.motion_file)
    settings = watch_the_episode(settings, cfg)
    env = build_style_env(policy.env_config, 1, settings, settings.settle_s + settings.measure_s)
    (motion,), (fell,) = rollout(env, policy.act, None, settings)
    accuracy = held_out_accuracy([motion], clips, seed=settings.seed) if settings.classifier else None
    passes = {"survived": not bool(fell)}
    if accuracy is not None:
        passes["classifier"] = accuracy <= cfg.verdict.max_classifier_accuracy
    return {"kind": "imitation", "policy": policy.name, "epoch": policy.epoch, "dataset": str(policy.motion_file),
            "settings": asdict(settings), "verdict_thresholds": asdict(cfg.verdict), "fell": bool(fell),
            "motion": asdict(gait_stats(motion)), "clips": [], "skipped": [], "extremes": [],
            "classifier_accuracy": accuracy, "pass": passes, "wall_s": time.perf_counter() - start}


def watch_the_episode(settings, cfg):
    """`settings` (a StyleSettings) measuring the rest of the episode of `cfg` (an env config) after settling."""
    return replace(settings, measure_s=max(settings.measure_s, cfg.episode_length_s - settings.settle_s))


def format_imitation(report: dict) -> str:
    motion = report["motion"]
    accuracy = report["classifier_accuracy"]
    return "\n".join([
        f"style of {report['policy']} (epoch {report['epoch']}, imitation: no commands) against {report['dataset']}",
        "",
        f"running free from the default pose: {'fell' if report['fell'] else 'stayed up'}; velocity "
        f"{' '.join(f'{v:.2f}' for v in motion['velocity'])}; stride {motion['stride_period'] or 0:.2f} s; "
        f"double support {motion['double_support']:.2f}",
        f"classifier held-out accuracy {'n/a' if accuracy is None else f'{accuracy:.3f}'} "
        f"(<= {report['verdict_thresholds']['max_classifier_accuracy']}); {report['wall_s']:.1f} s",
        f"style: {'PASS' if all(report['pass'].values()) else 'FAIL'} ({_marks(report['pass'])})"])


def _marks(checks: dict) -> str:
    return ", ".join(f"{name} {'yes' if ok else 'no'}" for name, ok in checks.items())
