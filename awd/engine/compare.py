"""Compare two engines on one policy step from the same states: the check that a MuJoCo Warp engine
reproduces the CPU MuJoCo reference (tools/check_warp_engine.py, tests/test_engine_warp.py)."""

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


def differences(a: Engine, b: Engine) -> dict[str, float]:
    """Max |a - b| of each state field, and the share of envs whose flags differ."""
    result = {}
    for field in STATE_FIELDS:
        result[field] = float((getattr(a, field).float().cpu() - getattr(b, field).float().cpu()).abs().max())
    for field in FLAG_FIELDS:
        flags = getattr(a, field).cpu() != getattr(b, field).cpu()
        result[field] = float(flags.reshape(flags.shape[0], -1).any(dim=1).float().mean())
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


def failures(diffs: dict[str, float], flag_share: float = 0.01) -> list[str]:
    """Fields beyond tolerance ("field: value > tolerance")."""
    bad = [f"{k}: {diffs[k]:.2e} > {tol:.0e}" for k, tol in TOLERANCES.items() if not diffs[k] <= tol]
    bad += [f"{k}: {diffs[k]:.1%} of envs differ" for k in FLAG_FIELDS if not diffs[k] <= flag_share]
    return bad
