"""rl_games vecenv type `AWD`: a thin adapter from an awd task (the contract in register.py) to IVecEnv.

It checks the env once (spaces, num_envs), passes tensors through on the env's device, turns `dones` into
uint8, and forwards the AMP extras (`fetch_amp_obs_demo`, `get_layout`, env state) that the AMP agent uses.
On request (`use_cuda_graphs`) an env whose step is capturable (`step_capturable`) is stepped through an
awd.utils.cuda_graphs.SegmentedGraph.
"""

from __future__ import annotations

import torch
from rl_games.common import env_configurations
from rl_games.common.ivecenv import IVecEnv

from awd.errors import AwdError
from awd.learning.checkpoint import env_layout
from awd.utils.cuda_graphs import SegmentedGraph

REQUIRED = ("num_envs", "observation_space", "action_space", "amp_observation_space", "reset", "step",
            "fetch_amp_obs_demo")


def read_amp_infos(infos: dict, dones: torch.Tensor, amp_shape, device, env_name: str) -> tuple[torch.Tensor,
                                                                                              torch.Tensor]:
    """(amp_obs (N, *amp_shape) on `device`, falls (N,) bool) from a step's infos: the AMP observation and which
    dones were terminations rather than timeouts."""
    try:
        amp_obs, terminate = infos["amp_obs"], infos["terminate"]
    except (KeyError, TypeError):
        raise AwdError(env_name, "infos", "env.step() must return infos with 'amp_obs' and 'terminate'") from None
    amp_obs = torch.as_tensor(amp_obs, device=device, dtype=torch.float32)
    if tuple(amp_obs.shape) != (len(dones), *amp_shape):
        raise AwdError(env_name, "infos.amp_obs",
                       f"expected shape {(len(dones), *amp_shape)}, found {tuple(amp_obs.shape)}")
    terminate = torch.as_tensor(terminate, device=device).reshape(-1).bool()
    return amp_obs, terminate & dones.bool()


def check_env_contract(env, source: str = "env") -> None:
    """Raise AwdError naming the missing attributes/methods of an env that breaks the contract."""
    missing = [name for name in REQUIRED if not hasattr(env, name)]
    if missing:
        raise AwdError(source, None, f"{type(env).__name__} lacks {missing} (see awd.learning.register)")
    for name in ("observation_space", "action_space", "amp_observation_space"):
        space = getattr(env, name)
        if type(space).__name__ != "Box" or len(space.shape) != 1:
            raise AwdError(source, name, f"expected a flat gym/gymnasium Box, found {space!r}")


class AwdVecEnv(IVecEnv):
    """Wraps one batched awd env (num_envs parallel robots) as an rl_games vec env."""

    def __init__(self, config_name: str, num_actors: int, **kwargs):
        self.env = env_configurations.configurations[config_name]["env_creator"](**kwargs)
        check_env_contract(self.env, source=config_name)
        if int(self.env.num_envs) != int(num_actors):
            raise AwdError(config_name, "num_actors",
                           f"the train config asks for {num_actors} actors but the env has {self.env.num_envs} envs")
        self._step = self.env.step

    def use_cuda_graphs(self) -> bool:
        """Replay the env step as CUDA graphs from now on if the env allows it; returns whether it does."""
        if getattr(self.env, "step_capturable", False):
            self._step = SegmentedGraph(self.env.step, self.env.graph_holders)
        return self._step is not self.env.step

    @property
    def num_envs(self) -> int:
        return int(self.env.num_envs)

    def reset(self):
        return self.env.reset()

    def step(self, actions):
        obs, rewards, dones, infos = self._step(actions)
        dones = torch.as_tensor(dones)
        return obs, torch.as_tensor(rewards, dtype=torch.float32), dones.to(torch.uint8), infos

    def fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        return self.env.fetch_amp_obs_demo(num_samples)

    def get_layout(self) -> dict:
        return env_layout(self.env, self.env.observation_space, self.env.action_space,
                          self.env.amp_observation_space)

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict:
        return {"observation_space": self.env.observation_space, "action_space": self.env.action_space,
                "amp_observation_space": self.env.amp_observation_space, "agents": 1, "value_size": 1}

    def set_train_info(self, env_frames, *args, **kwargs):
        if hasattr(self.env, "set_train_info"):
            self.env.set_train_info(env_frames, *args, **kwargs)

    def request_termination(self, mask: torch.Tensor) -> None:
        self.env.request_termination(mask)

    def get_env_state(self):
        return self.env.get_env_state() if hasattr(self.env, "get_env_state") else None

    def set_env_state(self, env_state) -> str | None:
        """Put back the env's state; returns why it could not, None when it did."""
        if not hasattr(self.env, "set_env_state"):
            return "the env keeps no state"
        return self.env.set_env_state(env_state)
