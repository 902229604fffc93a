"""The AMP player (rl_games player `amp`): runs a trained policy, deterministic (mu) by default.

Restores checkpoints with weights_only=True only, checks the layout when the env reports one, and offers
`disc_reward(amp_obs)` so a viewer can show how "in style" the current motion is.
"""

from __future__ import annotations

import torch
from rl_games.algos_torch import players
from rl_games.common.player import BasePlayer

from awd.errors import AwdError
from awd.learning.checkpoint import check_layout, env_layout, load_checkpoint
from awd.learning.discriminator import style_reward
from awd.learning.symmetry import actor_mirror


class AMPPlayer(players.PpoPlayerContinuous):
    """PpoPlayerContinuous whose model is the `amp` model (needs the env's amp_observation_space)."""

    def __init__(self, params: dict):
        BasePlayer.__init__(self, params)
        self.network = self.config["network"]
        self.actions_num = self.action_space.shape[0]
        self.actions_low = torch.from_numpy(self.action_space.low.copy()).float().to(self.device)
        self.actions_high = torch.from_numpy(self.action_space.high.copy()).float().to(self.device)
        self.mask = [False]
        self.normalize_input = self.config["normalize_input"]
        self.normalize_value = self.config.get("normalize_value", False)
        self.is_deterministic = self.player_config.get("deterministic", True)
        self.disc_reward_scale = float(self.config.get("disc_reward_scale", 2.0))
        self.disc_loss = str(self.config.get("disc_loss", "bce"))
        self.amp_space = self._amp_observation_space()
        self.model = self.network.build({
            "actions_num": self.actions_num, "input_shape": self.obs_shape, "num_seqs": self.num_agents,
            "value_size": self.env_info.get("value_size", 1), "normalize_value": self.normalize_value,
            "normalize_input": self.normalize_input, "amp_input_shape": tuple(self.amp_space.shape),
            "normalize_amp_input": self.config.get("normalize_amp_input", True), "mirror": actor_mirror(self.env),
        })
        self.model.to(self.device)
        self.model.eval()
        self.is_rnn = self.model.is_rnn()

    def cast_obs(self, obs):
        """Observations on the player's device (the env may simulate on another)."""
        return super().cast_obs(obs).to(self.device) if isinstance(obs, torch.Tensor) else super().cast_obs(obs)

    def _amp_observation_space(self):
        space = self.env_info.get("amp_observation_space") or getattr(self.env, "amp_observation_space", None)
        if space is None:
            raise AwdError(self.env_name, "amp_observation_space", "the env does not define amp_observation_space")
        return space

    def _env_layout(self) -> dict | None:
        """Sizes from the spaces merged with the env's get_layout() (None without an env)."""
        if self.env is None:
            return None
        return env_layout(self.env, self.observation_space, self.action_space, self.amp_space)

    def restore(self, fn) -> None:
        state = load_checkpoint(fn, self.device)
        layout = self._env_layout()
        if layout is not None:
            check_layout(fn, state.get("layout"), layout)
        self.model.load_state_dict(state["model"])

    def disc_reward(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Style reward [batch, 1] of raw AMP obs under the loaded discriminator."""
        with torch.no_grad():
            logits = self.model.disc_logits(torch.as_tensor(amp_obs, dtype=torch.float32, device=self.device))
        return style_reward(logits, self.disc_reward_scale, self.disc_loss)
