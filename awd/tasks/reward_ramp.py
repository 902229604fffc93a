"""Reward weight ramps for training (`env.rewards.<term>.ramp: [start, end]`, in frames as the progress line counts
them: env steps summed over all envs and GPUs). A ramped term has no weight until `start`, gains it linearly up to
`end` and has its full weight after; [0, 0], the default, is the full weight throughout. Outside training (play,
evaluation, the reward audit) every term has its full weight.

A term that asks for the clips' pose before the robot can walk may hold the walk back: `gait_pose` at weight 3
from the first epoch left the G1 walking at 0.6-0.8 of its forward command after 500 epochs, although walking faster
was also nearer the clip (docs/style_rounds.md, twenty-second round). A ramp lets the walk come first, as the
field's curricula of reward weights do (legged_gym, mjlab).

The scales are device scalars that the trainer's once-per-epoch `set_train_info` fills in place, so the step,
captured in a CUDA graph or not, reads them without waiting for the host.
"""

from __future__ import annotations

import torch


def ramp_scale(frames: float, start: float, end: float) -> float:
    """The share of its weight a term ramped over [start, end] has after `frames`."""
    if frames >= end:
        return 1.0
    if frames <= start:
        return 0.0
    return (frames - start) / (end - start)


class RewardRamps:
    """The weight scale of every active ramped term of `terms` ({name: RewardTermConfig}), full until trained."""

    def __init__(self, terms: dict, device, dtype):
        self.spans = {name: term.ramp for name, term in terms.items() if term.weight and term.ramp[1] > 0}
        self.scales = {name: torch.ones((), device=device, dtype=dtype) for name in self.spans}

    def advance(self, frames: float) -> None:
        for name, (start, end) in self.spans.items():
            self.scales[name].fill_(ramp_scale(frames, start, end))
