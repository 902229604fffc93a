"""Checkpoint -> actor: the AMP model of a training checkpoint (weights and normalisers) for an env, its
deterministic actions, and the check that the env's layout is the checkpoint's. Used by the evaluator, the
exporter, playback and the style benchmark."""

from __future__ import annotations

import contextlib
import io

import torch


def build_actor(state: dict, env, device: str):
    """The AMP model of the checkpoint (weights and normalisers), in eval mode on `device`."""
    from rl_games.algos_torch import model_builder

    from awd.learning.register import register_rl_games_components
    from awd.learning.symmetry import actor_mirror

    register_rl_games_components()
    params = state["config"]
    run = params["config"]
    with contextlib.redirect_stdout(io.StringIO()):  # rl_games prints each normaliser's shape
        model = model_builder.ModelBuilder().load(params).build({
            "actions_num": env.action_space.shape[0], "input_shape": env.observation_space.shape,
            "num_seqs": env.num_envs, "value_size": 1, "normalize_value": run.get("normalize_value", False),
            "normalize_input": run.get("normalize_input", False),
            "amp_input_shape": tuple(env.amp_observation_space.shape),
            "normalize_amp_input": run.get("normalize_amp_input", True), "mirror": actor_mirror(env)})
    model.load_state_dict(state["model"])
    return model.to(device).eval()


@torch.no_grad()
def deterministic_actions(model, obs: torch.Tensor) -> torch.Tensor:
    """The policy mean of normalised observations, clipped to the [-1, 1] action space."""
    mu = model.a2c_network({"obs": model.norm_obs(obs)})[0]
    return mu.clamp(-1.0, 1.0)


def check_checkpoint_layout(checkpoint, state: dict, env) -> None:
    from awd.learning.checkpoint import check_layout, env_layout

    check_layout(checkpoint, state.get("layout"),
                 env_layout(env, env.observation_space, env.action_space, env.amp_observation_space))
