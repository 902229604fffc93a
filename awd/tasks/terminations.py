"""Fall terms: each maps the task's current state to a (N,) bool "fell" and is on where the `termination` section
of the env config sets its threshold; a task falls where any term that is on says so (the grace period and the
invalid-physics test are the task's).
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


def fallen(task, root_matrix: torch.Tensor) -> torch.Tensor:
    """(N,) bool: any fall term that is on fires on the current state."""
    cfg = task.cfg.termination
    falls = [term(task, root_matrix, cfg) for term, on in TERMS.values() if on(cfg, task)]
    return functools.reduce(operator.or_, falls, torch.zeros(task.num_envs, dtype=torch.bool, device=task.device))
