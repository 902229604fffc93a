"""The AMP discriminator: network, style reward and loss (BCE or LSGAN + gradient penalty + regularisers).

D maps a (normalised) AMP observation window to one score d. Two forms (`disc_loss`):
- "bce" (AWD, MimicKit): demo windows labelled 1, agent windows (rollout and replay) 0 through a sigmoid;
  r = -log(max(1 - sigmoid(d), 1e-4)) * disc_reward_scale, so r = 2 ln 2 at p = 0.5 with scale 2.
- "lsgan" (the AMP paper, AMP_for_hardware): least squares towards +1 (demo) and -1 (agent);
  r = max(0, 1 - (d - 1)^2 / 4) * disc_reward_scale, bounded, and its gradient does not vanish when D is sure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh, "silu": nn.SiLU, "swish": nn.SiLU}


def make_activation(name: str) -> nn.Module:
    """An activation module by name (relu, elu, tanh, silu)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def make_mlp(input_size: int, units: list[int], activation: str) -> nn.Sequential:
    """Linear + activation for each hidden width in `units` (empty `units` gives an identity)."""
    layers: list[nn.Module] = []
    for width in units:
        layers += [nn.Linear(input_size, int(width)), make_activation(activation)]
        input_size = int(width)
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """MLP trunk (zero biases) then a linear logit with small uniform weights and zero bias."""

    def __init__(self, input_size: int, units: list[int], activation: str = "relu",
                 logit_init_scale: float = 0.01):
        super().__init__()
        self.trunk = make_mlp(input_size, units, activation)
        for layer in self.trunk:
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.bias)
        self.logit = nn.Linear(int(units[-1]) if units else input_size, 1)
        nn.init.uniform_(self.logit.weight, -logit_init_scale, logit_init_scale)
        nn.init.zeros_(self.logit.bias)

    def forward(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Logits of shape [batch, 1]."""
        return self.logit(self.trunk(amp_obs))

    def logit_weights(self) -> torch.Tensor:
        return self.logit.weight

    def all_weights(self) -> list[torch.Tensor]:
        """Weight matrices of every linear layer (trunk and logit), for weight decay."""
        return [m.weight for m in self.modules() if isinstance(m, nn.Linear)]


DISC_LOSSES = ("bce", "lsgan")


def style_reward(logits: torch.Tensor, scale: float, loss: str = "bce") -> torch.Tensor:
    """The style reward of D's scores (same shape) for the discriminator form `loss` (see the module doc)."""
    if loss == "lsgan":
        return torch.clamp(1.0 - 0.25 * (logits - 1.0) ** 2, min=0.0) * scale
    prob = torch.sigmoid(logits)
    return -torch.log(torch.clamp(1.0 - prob, min=1e-4)) * scale


def classification_loss(agent_logits: torch.Tensor, demo_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean of the agent-side and demo-side losses: BCE towards 0 / 1, or least squares towards -1 / +1."""
    if loss == "lsgan":
        return 0.5 * ((agent_logits + 1.0).pow(2).mean() + (demo_logits - 1.0).pow(2).mean())
    bce_agent = F.binary_cross_entropy_with_logits(agent_logits, torch.zeros_like(agent_logits))
    bce_demo = F.binary_cross_entropy_with_logits(demo_logits, torch.ones_like(demo_logits))
    return 0.5 * (bce_agent + bce_demo)


def gradient_penalty(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """E[||dD/dx||^2] over the batch; `inputs` must require grad and be part of the graph of `logits`."""
    grad = torch.autograd.grad(logits.sum(), inputs, create_graph=True, retain_graph=True, allow_unused=True)[0]
    if grad is None:  # D does not depend on its input (e.g. all weights zero): the penalty is zero
        return torch.zeros((), device=logits.device)
    return grad.pow(2).sum(dim=-1).mean()


@dataclass
class DiscLossWeights:
    """Coefficients of the discriminator loss (names match the rl_games YAML keys)."""

    logit_reg: float = 0.01       # disc_logit_reg: ||w_logit||^2
    grad_penalty: float = 5.0     # disc_grad_penalty: E||grad_demo D||^2
    weight_decay: float = 1e-4    # disc_weight_decay: sum ||W||^2 over all disc layers
    input_noise: float | torch.Tensor = 0.0   # std of Gaussian noise on D's normalised inputs in training (a tensor:
                                              # adapted between captured steps, awd.learning.disc_noise)
    loss: str = "bce"             # disc_loss: "bce" or "lsgan"


CLEAN_ROWS = 256  # rows per side for the clean accuracies (a logged estimate, averaged over the epoch's steps)


def discriminator_loss(disc: Discriminator, agent_obs: torch.Tensor, demo_obs: torch.Tensor,
                       weights: DiscLossWeights) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss on normalised AMP obs: agent (rollout + replay) against demo in the form `weights.loss`; plus
    regularisers. Accuracy counts agent scores below 0 and demo scores above 0 (both forms).

    Returns (loss, info) where info holds detached scalars: disc_loss, agent/demo accuracy and mean logit,
    grad penalty, logit loss (the logit-weight regulariser) and weight decay term; with input noise also the
    accuracies on the clean inputs (`*_acc_clean`).
    """
    clean = {}
    if isinstance(weights.input_noise, torch.Tensor) or weights.input_noise > 0:  # instance noise, both sides
        with torch.no_grad():  # on the first CLEAN_ROWS of each side: two full passes cost 17 % of a CPU epoch
            agent_rows = min(CLEAN_ROWS, len(agent_obs))
            scores = disc(torch.cat([agent_obs[:CLEAN_ROWS], demo_obs[:CLEAN_ROWS]]))
            clean = {"disc_agent_acc_clean": (scores[:agent_rows] < 0).float().mean(),
                     "disc_demo_acc_clean": (scores[agent_rows:] > 0).float().mean()}
        agent_obs = agent_obs + weights.input_noise * torch.randn_like(agent_obs)
        demo_obs = demo_obs + weights.input_noise * torch.randn_like(demo_obs)
    demo_obs = demo_obs.detach().requires_grad_(True)
    agent_logits = disc(agent_obs)
    demo_logits = disc(demo_obs)
    classify = classification_loss(agent_logits, demo_logits, weights.loss)
    logit_loss = disc.logit_weights().pow(2).sum()
    penalty = gradient_penalty(demo_logits, demo_obs)
    decay = sum(w.pow(2).sum() for w in disc.all_weights())
    loss = classify + weights.logit_reg * logit_loss + weights.grad_penalty * penalty + weights.weight_decay * decay
    with torch.no_grad():
        info = {
            "disc_loss": loss.detach(),
            "disc_classification_loss": classify.detach(),
            "disc_agent_acc": (agent_logits < 0).float().mean(),
            "disc_demo_acc": (demo_logits > 0).float().mean(),
            "disc_agent_logit": agent_logits.mean(),
            "disc_demo_logit": demo_logits.mean(),
            "disc_grad_penalty": penalty.detach(),
            "disc_logit_loss": logit_loss.detach(),
            "disc_weight_decay": decay.detach(),
            **clean,
        }
    return loss, info
