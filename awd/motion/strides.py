"""Whole strides of a walk: the frames from a foot's first touchdown to its last. A gait's mean velocity over them is
the stride's; over a window that ends part-way through a stride it leans toward that part (the G1's 4-s clips hold
3.8 strides of 1.05 s, and their sidesteps' whole-clip means were 0.01 m/s off, toward one side: docs/style_rounds.md,
twenty-fifth round)."""

from __future__ import annotations

import numpy as np


def touchdowns(contact: np.ndarray) -> np.ndarray:
    """Frames where the foot lands (contact after at least one frame in the air)."""
    return np.flatnonzero(contact[1:] & ~contact[:-1]) + 1


def whole_strides(contacts: np.ndarray) -> slice:
    """The frames of the longest span from one foot's first touchdown to its last ((T, F) boolean contacts); every
    frame when no foot lands twice (standing, or less than a stride)."""
    landings = (touchdowns(contacts[:, foot]) for foot in range(contacts.shape[1]))
    spans = [slice(int(frames[0]), int(frames[-1])) for frames in landings if len(frames) > 1]
    return max(spans, key=lambda span: span.stop - span.start, default=slice(None))
