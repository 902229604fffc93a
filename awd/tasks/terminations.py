"""Fall terms: each maps the task's current state to a (N,) bool "fell" and is on where the `termination` section
of the env config sets its threshold; a task falls where any term that is on says so (the grace period and the
invalid-physics test are the task's). `check_standing` proves on the robot's model, before any env is built, that
the robot standing at its default pose is not fallen by any term that is on (a head body set to a torso link, a
height above the trunk's), and `describe` says which terms are on.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any, Callable

import torch

from awd.tasks.config import TerminationConfig


def tilted(task, root_matrix: torch.Tensor, cfg: TerminationConfig) -> torch.Tensor:
    """The trunk's z axis leans more than `max_tilt` from vertical."""
    return root_matrix[:, 2, 2] < math.cos(cfg.max_tilt)


def trunk_low(task, root_matrix: torch.Tensor, cfg: TerminationConfig) -> torch.Tensor:
    return task.engine.root_pos[:, 2] < cfg.trunk_height


def head_low(task, root_matrix: torch.Tensor, cfg: TerminationConfig) -> torch.Tensor:
    return task.engine.body_pos[:, task.head_index, 2] < cfg.head_height


def non_foot_contact(task, root_matrix: torch.Tensor, cfg: TerminationConfig) -> torch.Tensor:
    """A body other than the feet touches the ground."""
    return task.engine.non_foot_ground_contact


TERMS: dict[str, tuple[Callable[..., torch.Tensor], Callable[[TerminationConfig, Any], bool]]] = {
    "max_tilt": (tilted, lambda cfg, task: cfg.max_tilt > 0),
    "trunk_height": (trunk_low, lambda cfg, task: cfg.trunk_height > 0),
    "head_height": (head_low, lambda cfg, task: cfg.head_height > 0 and task.head_index is not None),
    "non_foot_contact": (non_foot_contact, lambda cfg, task: cfg.non_foot_contact),
}


def describe(cfg: TerminationConfig, spec) -> str:
    """The fall terms that are on, in words, and why the others are off."""
    if not cfg.enabled:
        return "falls: off (termination.enabled false)"
    rules = [f"trunk below {cfg.trunk_height:g} m" if cfg.trunk_height > 0 else None,
             (f"head ({spec.head_body}) below {cfg.head_height:g} m" if spec.head_body else
              "head_height off: the robot spec names no head body") if cfg.head_height > 0 else None,
             f"trunk tilted more than {cfg.max_tilt:g} rad" if cfg.max_tilt > 0 else None,
             "a body other than the feet touching the floor" if cfg.non_foot_contact else None]
    return "falls: " + ("; ".join(rule for rule in rules if rule) or "none") + f" (after {cfg.grace_steps} steps)"


def check_standing(cfg: TerminationConfig, spec, source) -> None:
    """Refuse a fall term that is on and fires with the robot standing at its default pose (CPU MuJoCo)."""
    import mujoco
    import numpy as np

    from awd.errors import AwdError
    from awd.robot.model import build_model, default_qpos

    if not cfg.enabled:
        return
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    mujoco.mj_forward(model, data)
    trunk = model.body(spec.trunk_body).id
    if cfg.trunk_height > 0 and data.xpos[trunk, 2] < cfg.trunk_height:
        raise AwdError(source, "termination.trunk_height", f"{cfg.trunk_height:g} m is above the trunk standing at "
                       f"its default pose ({data.xpos[trunk, 2]:.3f} m): every episode would end at once")
    if cfg.head_height > 0 and spec.head_body:
        head = data.xpos[model.body(spec.head_body).id, 2]
        if head < cfg.head_height:
            raise AwdError(source, "termination.head_height", f"{cfg.head_height:g} m is above the head body "
                           f"{spec.head_body!r} standing at its default pose ({head:.3f} m): is it the head?")
    if cfg.max_tilt > 0 and data.xmat[trunk, 8] < np.cos(cfg.max_tilt):
        raise AwdError(source, "termination.max_tilt", f"{cfg.max_tilt:g} rad is less than the default pose's trunk "
                       "tilt (init.root_quat)")
    if cfg.non_foot_contact:
        touching = _non_foot_floor_contacts(model, data, spec)
        if touching:
            raise AwdError(source, "termination.non_foot_contact", f"body {touching[0]!r} touches the floor with the "
                           "robot standing at its default pose (bodies.foot_contact_bodies, or the init root height?)")


def _non_foot_floor_contacts(model, data, spec) -> list[str]:
    import mujoco

    from awd.robot.bodies import is_in_subtree

    feet = [model.body(name).id for name in spec.foot_contact_bodies]
    touching = []
    for contact in data.contact[:data.ncon]:
        bodies = [model.geom_bodyid[g] for g in contact.geom]
        if 0 in bodies and model.geom_type[contact.geom[bodies.index(0)]] == mujoco.mjtGeom.mjGEOM_PLANE:
            other = bodies[1 - bodies.index(0)]
            if other > 0 and not any(is_in_subtree(model, other, foot) for foot in feet):
                touching.append(model.body(other).name)
    return touching


def fallen(task, root_matrix: torch.Tensor) -> torch.Tensor:
    """(N,) bool: any fall term that is on fires on the current state."""
    cfg = task.cfg.termination
    falls = [term(task, root_matrix, cfg) for term, on in TERMS.values() if on(cfg, task)]
    return functools.reduce(operator.or_, falls, torch.zeros(task.num_envs, dtype=torch.bool, device=task.device))
