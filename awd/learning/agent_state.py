"""The AMP agent's complete training state: what its latest checkpoint holds (weights, normalisers, optimiser,
counters, replay buffer, config, layout and the env's state) and how a resume puts it back. File format and
atomic writing: awd.learning.checkpoint.
"""

from __future__ import annotations

from awd.errors import AwdError
from awd.learning.amp_settings import log
from awd.learning.checkpoint import check_layout, load_checkpoint, to_plain
from awd.learning.optimizer import fit_optimizer_to_device, set_learning_rates
from awd.learning.resume_state import rng_states, rollout_state


RESUME_ONLY = ("amp_replay_buffer", "optimizer", "demo_keys", "rollout", "env_state", "rng")


def policy_state(state: dict) -> dict:
    """`state` without what only a resume needs: a checkpoint that plays, judges and exports, a few MB."""
    return {**state, **dict.fromkeys(RESUME_ONLY)}


def full_state(agent) -> dict:
    model = agent._module()
    state = {"model": model.state_dict(), "optimizer": agent.optimizer.state_dict(),
             "epoch": int(agent.epoch_num), "frame": int(agent.frame),
             "last_mean_rewards": float(agent.last_mean_rewards),
             "amp_input_mean_std": model.amp_input_mean_std.state_dict(),
             "amp_replay_buffer": agent.replay_buffer.state_dict(),
             "config": agent.plain_params, "layout": agent.layout,
             "env_state": to_plain(agent.vec_env.get_env_state()) if agent.vec_env is not None else None,
             "demo_keys": agent.demo_buffer.state_dict(), "rng": rng_states(),
             "disc_noise": agent.disc_noise.state_dict(),
             "rollout": to_plain(rollout_state(agent)) if getattr(agent, "obs", None) is not None else None}
    if agent.normalize_input:
        state["running_mean_std"] = model.running_mean_std.state_dict()
    if agent.normalize_value:
        state["reward_mean_std"] = model.value_mean_std.state_dict()
    return state


def restore_agent(agent, fn, set_epoch: bool = True) -> None:
    """Weights, normalisers, optimiser, counters, replay buffer and env state from checkpoint `fn`; the config's
    learning rates win over the saved ones."""
    state = load_checkpoint(fn, agent.ppo_device)
    check_layout(fn, state.get("layout"), agent.layout)
    try:
        agent._module().load_state_dict(state["model"])
        if state.get("optimizer") is not None:
            agent.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise AwdError(fn, "model", f"checkpoint does not fit the configured network ({first_line})") from None
    rates = agent._learning_rates()
    set_learning_rates(agent.optimizer, rates)
    fit_optimizer_to_device(agent.optimizer, agent.ppo_device)
    agent.last_lr = rates["actor"]
    if set_epoch:
        agent.epoch_num, agent.frame = int(state["epoch"]), int(state["frame"])
    agent.last_mean_rewards = float(state.get("last_mean_rewards", -1e9))
    if state.get("amp_replay_buffer") is not None:
        agent.replay_buffer.load_state_dict(state["amp_replay_buffer"])
    else:
        log(f"{fn} holds no replay buffer nor optimiser state (a numbered checkpoint): both start empty")
    reason = agent.vec_env.set_env_state(state.get("env_state")) if agent.vec_env is not None else "no env"
    if reason is not None:
        log(f"{fn}: every env starts afresh ({reason})")
    agent.disc_noise.load_state_dict(state.get("disc_noise"))
    if not agent.demo_buffer.load_state_dict(state.get("demo_keys")):
        log(f"{fn} holds no demo keys: the demo buffer is filled afresh")
    agent.resume = {"env_restored": reason is None, "rollout": state.get("rollout"), "rng": state.get("rng")}
    log(f"restored {fn} (epoch {agent.epoch_num}, frame {agent.frame}, replay {len(agent.replay_buffer)} rows)")
