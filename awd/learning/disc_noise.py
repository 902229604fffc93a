"""The discriminator's instance noise (`disc_input_noise`: the std of Gaussian noise on its normalised inputs in
training), fixed or adapted to a target accuracy (`disc_noise_target_acc`; 0: fixed), as StyleGAN2-ADA adapts
its augmentation strength: after each epoch the std is multiplied by exp(ADAPT_GAIN * (accuracy - target)),
where accuracy is the mean of the agent and demo accuracies on the noised training batches, and kept within
[MIN_STD, MAX_STD]. A sure discriminator is made to see through more noise, one that guesses through less.

The std lives in one device tensor that the captured minibatch step reads, changed in place once per epoch.
"""

from __future__ import annotations

import math

import torch

ADAPT_GAIN = 2.0
MIN_STD, MAX_STD = 0.05, 20.0


class DiscNoise:
    def __init__(self, initial_std: float, target_acc: float, device):
        self.target_acc = float(target_acc)
        start = min(max(initial_std, MIN_STD), MAX_STD) if self.target_acc > 0 else initial_std
        self.std = torch.tensor(float(start), device=device)
        self._value = float(start)

    def weight(self) -> float | torch.Tensor:
        """What the discriminator loss multiplies its noise by: the tensor when adapted, else the fixed std."""
        return self.std if self.target_acc > 0 else self._value

    def after_epoch(self, stats: dict) -> None:
        """Adapt to the epoch's accuracies (read from `stats`, already on the host) and record the std used."""
        stats["info/disc_input_noise"] = self._value
        if self.target_acc <= 0 or "info/disc_agent_acc" not in stats:
            return
        accuracy = 0.5 * (stats["info/disc_agent_acc"] + stats["info/disc_demo_acc"])
        self.set(self._value * math.exp(ADAPT_GAIN * (accuracy - self.target_acc)))

    def set(self, value: float) -> None:
        self._value = min(max(float(value), MIN_STD), MAX_STD)
        self.std.fill_(self._value)

    def state_dict(self) -> dict:
        return {"std": self._value}

    def load_state_dict(self, state: dict | None) -> None:
        if state and self.target_acc > 0:
            self.set(state["std"])
