"""Compare two engines on one policy step from the same states: the check that a MuJoCo Warp engine
reproduces the CPU MuJoCo reference (tools/check_warp_engine.py, tests/test_engine_warp.py).

Engines agree to float32 precision except where a contact sits exactly on the floor (clip frames put the
soles at zero height): float32 and float64 may then disagree on whether it touches, which changes that env's
forces and next state. So the check is on the share of envs beyond tolerance (at most 1 %), and the largest
difference is reported alongside."""

from __future__ import annotations

import torch

from awd.engine.base import Engine

STATE_FIELDS = ("root_pos", "root_quat", "root_lin_vel", "root_ang_vel", "joint_pos", "joint_vel", "body_pos",
                "foot_contact_forces", "joint_torques")
FLAG_FIELDS = ("foot_contacts", "non_foot_ground_contact", "invalid")
# float32 one-step tolerances (the Warp notes measured 1e-5 on velocities); contact forces come out of an
# iterative solver and differ more.
TOLERANCES = {"root_pos": 1e-5, "root_quat": 1e-5, "root_lin_vel": 1e-3, "root_ang_vel": 1e-3, "joint_pos": 1e-4,
              "joint_vel": 1e-2, "body_pos": 1e-5, "foot_contact_forces": 0.05, "joint_torques": 1e-2}


def differences(a: Engine, b: Engine) -> dict[str, dict[str, float]]:
    """Per field: the largest |a - b| ("max") and the share of envs beyond tolerance or with a differing flag
    ("share")."""
    result = {}
    for field in STATE_FIELDS + FLAG_FIELDS:
        diff = (getattr(a, field).float().cpu() - getattr(b, field).float().cpu()).abs()
        per_env = diff.reshape(diff.shape[0], -1).max(dim=1).values
        tolerance = TOLERANCES.get(field, 0.0)
        result[field] = {"max": float(per_env.max()), "share": float((per_env > tolerance).float().mean())}
    return result


def compare_one_step(a: Engine, b: Engine, state: dict[str, torch.Tensor], targets: torch.Tensor) -> dict:
    """Reset both engines' envs to `state` (Engine.reset keyword tensors for every env), step both with
    `targets`; returns {"reset": differences, "step": differences}."""
    ids = torch.arange(a.num_envs)
    for engine in (a, b):
        engine.reset(ids.to(engine.device), **{k: v.to(engine.device) for k, v in state.items()})
    after_reset = differences(a, b)
    for engine in (a, b):
        engine.step(targets.to(engine.device))
    return {"reset": after_reset, "step": differences(a, b)}


def failures(diffs: dict[str, dict[str, float]], max_share: float = 0.01) -> list[str]:
    """Fields where more than `max_share` of the envs are beyond tolerance."""
    return [f"{field}: {d['share']:.1%} of envs beyond tolerance (max {d['max']:.2e})"
            for field, d in diffs.items() if not d["share"] <= max_share]
