"""What a resume needs beyond weights and counters to continue a run exactly (on CPU, 5 + 5 epochs equal 10 bit for
bit): the random generators (python, numpy, torch CPU and CUDA), the rollout's current observations, dones and
episode counters, with the env's own state (awd.tasks.env_state) put back by the agent's restore. The generators are
set last, when training starts, after the agent's set-up has drawn its own random numbers.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from awd.learning.amp_settings import log

ROLLOUT_TENSORS = ("dones", "current_rewards", "current_lengths")


def rng_states() -> dict:
    version, words, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    states = {"python": [version, list(words), gauss], "torch": torch.get_rng_state(),
              "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Put the generators back; their states may have been loaded onto the training device (the setters want them on
    the CPU)."""
    version, words, gauss = states["python"]
    random.setstate((version, tuple(words), gauss))
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(states["torch"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])


def rollout_state(agent) -> dict:
    return {"obs": agent.obs["obs"], **{name: getattr(agent, name) for name in ROLLOUT_TENSORS}}


def start_rollout(agent, resume: dict | None) -> dict:
    """The first observations of training: the saved rollout where the env's state was restored, else a reset of
    every env; then the saved generators."""
    if resume is None:
        return agent.env_reset()
    rollout = resume.get("rollout")
    if resume.get("env_restored") and rollout is not None:
        for name in ROLLOUT_TENSORS:
            getattr(agent, name).copy_(rollout[name])
        obs = agent.obs_to_tensors(rollout["obs"])
        log("resume: env state, observations and random generators restored (the run continues exactly)")
    else:
        obs = agent.env_reset()
    if resume.get("rng") is not None:
        set_rng_states(resume["rng"])
    return obs
