"""Early termination on a sustained low style reward, in training only: an env whose style reward stays below
`style_termination_threshold` for `style_termination_steps` consecutive policy steps is asked to end its episode
(the env's `request_termination`), which it does on its next step as a true termination (no bootstrap), so the
policy learns that drifting far from the clips ends the episode as a fall does.
"""

from __future__ import annotations

import torch

from awd.errors import AwdError


class StyleTermination:
    """Per-env count of consecutive low-style steps; off (a no-op) when the threshold is 0."""

    def __init__(self, threshold: float, steps: int, style_rewards, vec_env, num_envs: int, device):
        self.on = threshold > 0.0
        if self.on and not hasattr(getattr(vec_env, "env", vec_env), "request_termination"):
            raise AwdError("train config", "style_termination_threshold",
                           "the env has no request_termination(mask); set it to 0")
        self.threshold, self.steps = float(threshold), int(steps)
        self.style_rewards, self.vec_env = style_rewards, vec_env
        self.low_steps = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.requested = torch.zeros(num_envs, dtype=torch.bool, device=device)
        self.ended = torch.zeros((), device=device)

    def observe(self, amp_obs: torch.Tensor, dones: torch.Tensor) -> None:
        """After an env step: `amp_obs` (N, amp size) its AMP windows, `dones` (N,) the episodes that just ended."""
        if not self.on:
            return
        style, ended = self.style_rewards(amp_obs).squeeze(-1), dones.bool()
        self.ended += (self.requested & ended).sum()
        low = (style < self.threshold) & ~ended
        self.low_steps = torch.where(low, self.low_steps + 1, torch.zeros_like(self.low_steps))
        self.requested = self.low_steps >= self.steps
        self.vec_env.request_termination(self.requested)

    def rollout_stats(self, episodes_ended: torch.Tensor) -> dict[str, float]:
        """The share of the rollout's ended episodes that this ended (then reset to 0)."""
        if not self.on:
            return {}
        share = float(self.ended / episodes_ended.clamp(min=1))
        self.ended.zero_()
        return {"info/style_termination_rate": share}
