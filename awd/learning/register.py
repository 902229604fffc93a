"""Plug awd's AMP components and tasks into rl_games 1.6.5 (no fork: registries only).

Components (all registered under the name `amp`):
    algo    awd.learning.amp_agent.AMPAgent        (on a Runner: runner.algo_factory)
    player  awd.learning.amp_player.AMPPlayer      (on a Runner: runner.player_factory)
    model   awd.learning.network.ModelAMPContinuous (global rl_games model_builder registry)
    network awd.learning.network.AMPNetworkBuilder  (global rl_games model_builder registry)
    vecenv  `AWD` -> awd.learning.vecenv.AwdVecEnv  (global rl_games vecenv registry)

Env contract (what a task object must provide; one object simulates `num_envs` robots in a batch):
    num_envs: int
    observation_space, action_space, amp_observation_space: flat gym/gymnasium Box
        (actions arrive clipped to [-1, 1] and rescaled to action_space's low/high: use low=-1, high=1)
    reset() -> obs                          torch float tensor [num_envs, obs_size] (resets every env)
    step(actions) -> obs, rew, dones, infos
        actions: torch tensor [num_envs, action_size] on the agent's device
        obs [num_envs, obs_size] float; rew [num_envs] float; dones [num_envs] bool/uint8
        envs that are done are reset inside step(); obs is then the first obs of the new episode
        infos["amp_obs"]   [num_envs, amp_size] float: the AMP window ending at the new state (before reset)
        infos["terminate"] [num_envs] bool: true termination (fall); done & ~terminate = timeout, for which
                           the value is bootstrapped (reward += gamma * V(s_t))
        infos["episode"]   optional dict name -> scalar/tensor (e.g. per-reward-term means of finished
                           episodes); logged as TensorBoard `episode/<name>`: with an `episodes_finished` count
                           in the dict, the other values are means over the episodes that ended this step and
                           are weighted by it over the epoch; otherwise each is the mean over the epoch's steps
    fetch_amp_obs_demo(n) -> torch float tensor [n, amp_size]: n demo windows sampled from the motion data,
        built exactly like infos["amp_obs"]
    optional: get_layout() -> dict of plain values (names: obs terms, joint order, amp features...);
        stored in checkpoints, and a checkpoint whose layout differs from the env's is refused
    optional: get_env_state() / set_env_state(state) (plain values: what a resume puts back; set_env_state
        returns why it could not, or None), amp_demo_keys(n) -> (clip ids, times) with
        amp_demo_windows(ids, times) (a checkpoint then holds demo keys, not windows),
        request_termination(mask) (awd.learning.style_termination), set_train_info(frame, agent)
Tensors may live on any device; the agent moves them to `config.device`.

How an env reaches rl_games: `register_env(name, creator)` puts
`{'env_creator': creator, 'vecenv_type': 'AWD'}` into rl_games' env_configurations; the agent then calls
`creator(**config['env_config'])` (the Runner adds a `seed` key) and checks `num_envs == config['num_actors']`.
The player calls the same creator (without `seed`).

Usage:
    from rl_games.torch_runner import Runner
    from awd.learning.register import register_env, register_rl_games_components
    register_env("duckling_command", lambda **kw: make_duckling_command_env(**kw))
    runner = Runner()
    register_rl_games_components(runner)
    runner.load(train_yaml)            # dict with `params:` (algo/model/network name `amp`, env_name above)
    runner.run({"train": True, "play": False, "checkpoint": None})
"""

from __future__ import annotations

from typing import Callable

from rl_games.algos_torch import model_builder
from rl_games.common import env_configurations, vecenv

from awd.learning.amp_agent import AMPAgent
from awd.learning.amp_player import AMPPlayer
from awd.learning.network import AMPNetworkBuilder, ModelAMPContinuous
from awd.learning.vecenv import AwdVecEnv

NAME = "amp"
VECENV_TYPE = "AWD"


def _make_vecenv(config_name: str, num_actors: int, **kwargs) -> AwdVecEnv:
    return AwdVecEnv(config_name, num_actors, **kwargs)


def register_rl_games_components(runner=None) -> None:
    """Register network, model and vecenv globally, and algo + player on `runner` (idempotent)."""
    model_builder.register_network(NAME, AMPNetworkBuilder)
    model_builder.register_model(NAME, ModelAMPContinuous)
    vecenv.register(VECENV_TYPE, _make_vecenv)
    if runner is not None:
        runner.algo_factory.register_builder(NAME, lambda **kwargs: AMPAgent(**kwargs))
        runner.player_factory.register_builder(NAME, lambda **kwargs: AMPPlayer(**kwargs))


def register_env(name: str, creator: Callable[..., object]) -> None:
    """Make `creator(**env_config)` (returning an env that follows the contract above) known as `name`."""
    env_configurations.register(name, {"env_creator": creator, "vecenv_type": VECENV_TYPE})


def make_runner(algo_observer=None):
    """An rl_games Runner with the awd components registered."""
    from rl_games.torch_runner import Runner

    runner = Runner(algo_observer)
    register_rl_games_components(runner)
    return runner
