"""The AMP agent's one Adam: separate parameter groups (and learning rates) for the actor, the critic and the
discriminator; fused and CUDA-graph capturable on CUDA. Schedules act on the actor's rate and scale the others
with it (`scale_learning_rates`).
"""

from __future__ import annotations

import torch


def learning_rates(actor: float, critic: float | None, disc: float | None) -> dict[str, float]:
    """Per group; a group without its own rate uses the actor's."""
    actor = float(actor)
    return {"actor": actor, "critic": actor if critic is None else float(critic),
            "disc": actor if disc is None else float(disc)}


def build_optimizer(net, rates: dict[str, float], weight_decay: float, device) -> torch.optim.Optimizer:
    """`net` offers actor_parameters(), critic_parameters() and disc_parameters() (awd.learning.network)."""
    parameters = {"actor": net.actor_parameters(), "critic": net.critic_parameters(), "disc": net.disc_parameters()}
    groups = [{"params": parameters[name], "lr": rates[name], "awd_base_lr": rates[name], "name": name,
               "weight_decay": 0.0 if name == "disc" else weight_decay} for name in ("actor", "critic", "disc")]
    cuda = torch.device(device).type == "cuda"
    return torch.optim.Adam(groups, eps=1e-8, fused=cuda, capturable=cuda)


def set_learning_rates(optimizer: torch.optim.Optimizer, rates: dict[str, float]) -> None:
    """New base rates per group (a resume: the config's rates win over the saved ones)."""
    for group in optimizer.param_groups:
        group["lr"] = group["awd_base_lr"] = rates[group["name"]]


def scale_learning_rates(optimizer: torch.optim.Optimizer, scale: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group["awd_base_lr"] * scale


def fit_optimizer_to_device(optimizer: torch.optim.Optimizer, device) -> None:
    """A loaded optimizer state keeps the saving run's fused/capturable flags: use this device's (fused and
    capturable on CUDA), with Adam's step counters where those modes need them."""
    cuda = torch.device(device).type == "cuda"
    for group in optimizer.param_groups:
        group["fused"] = group["capturable"] = cuda
    for state in optimizer.state.values():
        if "step" in state:
            state["step"] = torch.as_tensor(state["step"], dtype=torch.float32, device=device if cuda else "cpu")
