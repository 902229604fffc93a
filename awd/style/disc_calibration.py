"""How far can the training's own discriminator tell two motion sources apart? The style issue asks that, in a
default run, both of its accuracies stay below 0.9; this measures what that asks of a policy (CLI:
benchmarks/disc_calibration.py).

A discriminator built and regularised as the task's train config builds it (network units, LSGAN or BCE, input
noise, gradient penalty, logit and weight regularisers, its Adam learning rate, the agent side half fresh rows and
half "replay") learns demo windows of the task's dataset (drawn as training draws them,
`fetch_amp_obs_demo`) against the windows of an agent source, which stays fixed: another dataset of the same clips
(e.g. a second tracker's performances), or a policy's rollouts under the task's command sampling. Its accuracies
on clean held-out windows, after as many discriminator steps as a training run takes by a given epoch, say how far
apart the two sources are to this discriminator; the dataset against other windows of itself is the floor (0.5).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from awd.learning.amp_settings import AMPSettings
from awd.learning.discriminator import Discriminator, DiscLossWeights, discriminator_loss
from awd.learning.optimizer import learning_rates


@dataclass(frozen=True)
class DiscSetup:
    units: list[int]
    activation: str
    logit_init_scale: float
    weights: DiscLossWeights
    learning_rate: float
    steps_per_epoch: int  # discriminator steps per training epoch: mini_epochs x minibatches


def disc_setup(train: dict) -> DiscSetup:
    """The discriminator of a run's rl_games mapping (`load_run_config(task)["train"]`), its keys read and defaulted
    as the agent reads them (AMPSettings, learning_rates)."""
    params = train["params"]
    net, config = params["network"]["disc"], params["config"]
    amp = AMPSettings.from_config(config)
    weights = DiscLossWeights(amp.disc_logit_reg, amp.disc_grad_penalty, amp.disc_weight_decay, amp.disc_input_noise,
                              amp.disc_loss)
    rate = learning_rates(config["learning_rate"], amp.critic_learning_rate, amp.disc_learning_rate)["disc"]
    return DiscSetup(list(net["units"]), net.get("activation", "relu"), net.get("logit_init_scale", 0.01), weights,
                     rate, config["mini_epochs"] * config["num_minibatches"])


def dataset_env(env_config: dict, motion_file: str):
    """A one-env DucklingAMP over the task's robot and `motion_file`, for its demo windows."""
    from awd.style.physics_check import build_replay_env

    return build_replay_env({**env_config, "env": {**env_config["env"], "motion_file": str(motion_file)}}, 1)


@torch.no_grad()
def policy_windows(policy, count: int, num_envs: int = 64, settle_s: float = 1.0, threads: int = 2) -> torch.Tensor:
    """(count, window) AMP windows of `policy` (a PolicyUnderTest) under its task's command sampling, each env
    from the default pose, the first `settle_s` of every env left out."""
    from awd.loader import policy_env

    env_config = policy.env_config
    env = policy_env(env_config["task"], copy.deepcopy(env_config["env"]), env_config.get("source"), num_envs,
                     threads=threads)
    obs, windows, settle = env.reset(), [], int(round(settle_s / env.dt))
    for step in range(settle + -(-count // num_envs)):
        obs, _, _, infos = env.step(policy.act(obs).to(env.device))
        if step >= settle:
            windows.append(infos["amp_obs"].float().cpu())
    return torch.cat(windows)[:count]


def _held_out(windows: torch.Tensor, share: float, generator) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(len(windows), generator=generator)
    cut = int(len(windows) * (1.0 - share))
    return windows[order[:cut]], windows[order[cut:]]


def calibrate(agent: torch.Tensor, demo: torch.Tensor, setup: DiscSetup, steps: int, minibatch: int = 1024,
              report_every: int = 250, seed: int = 0) -> list[dict]:
    """Train the discriminator of `setup` on `agent` against `demo` windows (raw; normalised by their pooled
    statistics); every `report_every` steps its clean accuracies on 20 % held-out windows of each side."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    agent_fit, agent_test = _held_out(agent, 0.2, generator)
    demo_fit, demo_test = _held_out(demo, 0.2, generator)
    pooled = torch.cat([agent_fit, demo_fit])
    mean, std = pooled.mean(dim=0), pooled.std(dim=0).clamp(min=1e-5)
    agent_fit, agent_test, demo_fit, demo_test = ((x - mean) / std for x in (agent_fit, agent_test, demo_fit,
                                                                            demo_test))
    disc = Discriminator(agent.shape[-1], setup.units, setup.activation, setup.logit_init_scale)
    optimizer = torch.optim.Adam(disc.parameters(), lr=setup.learning_rate, eps=1e-8)
    rows = []
    for step in range(1, steps + 1):
        fresh = agent_fit[torch.randint(len(agent_fit), (minibatch,), generator=generator)]
        replay = agent_fit[torch.randint(len(agent_fit), (minibatch,), generator=generator)]
        demos = demo_fit[torch.randint(len(demo_fit), (minibatch,), generator=generator)]
        loss, _ = discriminator_loss(disc, torch.cat([fresh, replay]), demos, setup.weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % report_every == 0 or step == steps:
            with torch.no_grad():
                rows.append({"step": step, "epoch": step / setup.steps_per_epoch,
                             "agent_acc": float((disc(agent_test) < 0).float().mean()),
                             "demo_acc": float((disc(demo_test) > 0).float().mean())})
    return rows


def format_rows(name: str, rows: list[dict]) -> list[str]:
    return [f"| {name} | {r['step']} | {r['epoch']:.0f} | {r['agent_acc']:.3f} | {r['demo_acc']:.3f} |" for r in rows]
