"""Policy observation terms. A task's observation is the concatenation of its terms, in order; each term reads
one quantity from the task (its engine state, commands, targets) and the policy sees
(quantity - offset) * scale, with the domain randomisation's noise (if any, for that term's name) added before
the scale. The same table describes the observation to deployment code (awd.export: `observation_description`).

Every Duckling task observes `base_terms` (trunk gravity, joints, last action), then its own `task_obs_terms`,
then optionally the foot contacts. A new observation is one `ObsTerm` in a task's list.

Each term says how it looks on the robot reflected left to right (`mirror`, read by the symmetry loss,
awd.learning.symmetry): "same", "joints" (one value per joint: awd.robot.mirror), "swap" (a left, right pair),
or one sign per element (a vector in the trunk or yaw frame: y flips, and so do rates about x and z).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class ObsTerm:
    name: str
    size: int
    read: Callable[[Any, torch.Tensor], torch.Tensor]  # (task, trunk rotation matrices (N, 3, 3)) -> (N, size)
    elements: Sequence[str]
    meaning: str
    scale: float | Sequence[float] = 1.0
    offset: float | Sequence[float] = 0.0
    mirror: str | Sequence[float] = "same"


def projected_gravity(task):
    """Gravity in the trunk frame from the root's rotation matrix: -R[2] in the root frame, turned into the trunk's
    fixed frame when the spec's trunk is rotated against the root body."""
    turn = task.spec.trunk_in_root
    if np.allclose(turn, np.eye(3)):
        return lambda t, matrix: -matrix[:, 2]
    turn = torch.as_tensor(turn, dtype=task.dtype, device=task.device)
    return lambda t, matrix: -matrix[:, 2] @ turn


def base_terms(task) -> list[ObsTerm]:
    joints = tuple(task.spec.joint_names)
    return [
        ObsTerm("projected_gravity", 3, projected_gravity(task), ("x", "y", "z"),
                "gravity direction (0, 0, -1) expressed in the trunk frame (the root body's frame turned by "
                "robot.trunk_in_root_quat_xyzw)", mirror=(1.0, -1.0, 1.0)),
        ObsTerm("joint_pos", len(joints), lambda t, matrix: t.engine.joint_pos, joints,
                "joint position (rad) minus the default pose", offset=task.spec.default_joint_pos,
                mirror="joints"),
        ObsTerm("joint_vel", len(joints), lambda t, matrix: t.engine.joint_vel, joints, "joint velocity (rad/s)",
                scale=task.cfg.observations.joint_vel_scale, mirror="joints"),
        ObsTerm("last_action", len(joints), lambda t, matrix: t.actions, joints,
                "the policy's previous action after clipping to [-1, 1] (zeros at an episode start)", mirror="joints"),
    ]


def foot_contacts_term(task) -> ObsTerm:
    return ObsTerm("foot_contacts", 2, lambda t, matrix: t.engine.foot_contacts.to(t.dtype), ("left", "right"),
                   "1 when the foot touches the floor, else 0", mirror="swap")


def per_element(value, size: int) -> list[float]:
    """A scalar or a sequence as a list of `size` floats."""
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,))
    return [float(v) for v in values]


class Observations:
    """The terms of one task, with their offsets and scales as device tensors (skipped where they are 0 / 1)."""

    def __init__(self, terms: list[ObsTerm], device: torch.device, dtype: torch.dtype):
        self.terms = terms
        self.size = sum(term.size for term in terms)

        def constant(value, identity):
            if np.all(np.asarray(value, dtype=np.float64) == identity):
                return None
            return float(value) if np.ndim(value) == 0 else torch.tensor(np.asarray(value), device=device, dtype=dtype)

        self._applied = [(term, constant(term.offset, 0.0), constant(term.scale, 1.0)) for term in terms]

    @property
    def parts(self) -> list[tuple[str, int]]:
        return [(term.name, term.size) for term in self.terms]

    def compute(self, task, root_matrix: torch.Tensor) -> torch.Tensor:
        """(N, size) observations of `task` now; non-finite values read as 0."""
        parts = []
        for term, offset, scale in self._applied:
            value = term.read(task, root_matrix)
            if offset is not None:
                value = value - offset
            value = task.randomization.noisy(term.name, value)
            parts.append(value if scale is None else value * scale)
        return torch.nan_to_num(torch.cat(parts, dim=-1), nan=0.0, posinf=0.0, neginf=0.0)

    def mirror(self, joints) -> tuple[np.ndarray, np.ndarray]:
        """(perm, signs) over the whole observation: mirrored[i] = signs[i] * obs[perm[i]]; `joints` is the
        robot's JointMirror."""
        perm, signs, start = [], [], 0
        for term in self.terms:
            index = np.arange(term.size)
            if term.mirror == "joints":
                index, sign = joints.perm, joints.signs
            elif term.mirror == "swap":
                index, sign = index[::-1], np.ones(term.size)
            elif term.mirror == "same":
                sign = np.ones(term.size)
            else:
                sign = np.asarray(term.mirror, dtype=np.float64)
            if len(index) != term.size or len(sign) != term.size:
                raise ValueError(f"observation term {term.name!r}: mirror {term.mirror!r} does not fit its size "
                                 f"{term.size}")
            perm.append(start + np.asarray(index))
            signs.append(sign)
            start += term.size
        return np.concatenate(perm), np.concatenate(signs)

    def describe(self) -> list[dict]:
        """Each part, in order, as deployment code rebuilds it: obs[start:start + size] = (quantity - offset) *
        scale, element by element."""
        parts, start = [], 0
        for term in self.terms:
            parts.append({"name": term.name, "start": start, "size": term.size, "elements": list(term.elements),
                          "scale": per_element(term.scale, term.size), "offset": per_element(term.offset, term.size),
                          "meaning": term.meaning})
            start += term.size
        return parts
