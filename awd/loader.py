"""Checkpoint or export folder -> env config, env and actor: the one loader behind play, evaluate, export, the style
benchmark and the tools, which import it and never each other.

- `checkpoint_env_config` / `resolve_env_mapping`: the env config a training checkpoint stores (or a given env YAML),
  with dotted `env.` overrides.
- `policy_env`: an env of that config for judging a policy: default-pose starts (no clips needed), one seed, any
  engine and size, optional changes (episode length, command timer). One env on CPU MuJoCo is the contract env that
  defines the observation and action layout.
- `load_policy`: a checkpoint's (state, contract env, AMP model), refused if the layouts differ.
- `load_export`: an export folder's policy.json and an `act(obs)` running policy.onnx in ONNX Runtime.
"""

from __future__ import annotations

import copy
from functools import partial
from pathlib import Path

import numpy as np
import torch

from awd.errors import AwdError

METADATA_FILE = "policy.json"
INPUT_NAME, OUTPUT_NAME = "obs", "actions"


def checkpoint_env_config(path: str | Path, state: dict) -> dict:
    """The env config a training checkpoint stores (`config.config.env_config`), or an AwdError."""
    env_config = (state.get("config") or {}).get("config", {}).get("env_config")
    if not isinstance(env_config, dict) or not isinstance(env_config.get("env"), dict):
        raise AwdError(path, "config.env_config", "checkpoint has no env config (expected one written by awd/run.py)")
    return env_config


def resolve_env_mapping(checkpoint: str | Path, cfg_env: str | Path | None = None, overrides=()) -> dict:
    """The `env:` mapping to rebuild a checkpoint's env from: the env YAML `cfg_env` if given (packaged paths such
    as mini_bdx/duckling_command.yaml work), else the checkpoint's, with dotted `env.` overrides applied."""
    from awd.config import apply_override, resolve_cfg_path
    from awd.learning.checkpoint import load_checkpoint
    from awd.utils.io import read_yaml

    if cfg_env is None:
        mapping = copy.deepcopy(checkpoint_env_config(checkpoint, load_checkpoint(checkpoint))["env"])
    else:
        path = resolve_cfg_path(cfg_env)
        raw = read_yaml(path)
        if not isinstance(raw, dict) or not isinstance(raw.get("env"), dict):
            raise AwdError(path, "env", "expected a mapping with an 'env' section at the top level")
        mapping = raw["env"]
    config = {"env": mapping}
    for override in overrides:
        apply_override(config, override)
    return config["env"]


def policy_env(task: str, env_mapping: dict, source: str | None, num_envs: int = 1, engine: str = "mujoco",
               device: str | None = None, threads: int | None = 1, seed: int = 0,
               episode_length_s: float | None = None, command_timer: bool = True, clips: bool = False):
    """`num_envs` envs of `task` started from the default pose, commands drawn uniformly from the ranges (no clips
    needed, but by a task that `needs_clips` or with `clips`: the dataset and the reward terms that read it kept) on
    `engine` (CPU MuJoCo: on the CPU with `threads`; others: on `device`, default cuda:0); `command_timer` False keeps
    commands until set."""
    from awd.engine import make_engine
    from awd.tasks import TASKS, build_env

    env = copy.deepcopy(env_mapping)
    env.setdefault("init", {})["mode"] = "Default"
    env.setdefault("commands", {}).update(sample_beyond=1.0, single_axis_prob=0.0,  # training's draws only
                                             clip_draw_prob=0.0)
    if not (clips or getattr(TASKS.get(task), "needs_clips", False)):
        env["motion_file"] = None
        env["rewards"] = without_clip_rewards(env.get("rewards") or {})
    if episode_length_s is not None:
        env["episode_length_s"] = episode_length_s
    if not command_timer:
        env.setdefault("commands", {})["resample_s"] = 0.0
    cpu = engine == "mujoco"
    options = {"num_threads": threads} if cpu and threads else {}
    return build_env(env, num_envs, device=device or ("cpu" if cpu else "cuda:0"), task=task, source=source,
                     seed=seed, engine_factory=partial(make_engine, engine, **options))


def without_clip_rewards(rewards: dict) -> dict:
    """The reward terms with those that read the clips switched off (a policy is judged without its dataset, and
    judging reads no rewards)."""
    from awd.tasks.rewards import TERMS

    def off(entry):
        return {**entry, "weight": 0.0} if isinstance(entry, dict) else 0.0

    return {name: off(entry) if name in TERMS and TERMS[name].needs_clips else entry for name, entry in rewards.items()}


def build_contract_env(task: str, env_mapping: dict, source: str | None):
    """One env of `task` on CPU MuJoCo from the default pose: it defines the observation and action layout."""
    return policy_env(task, env_mapping, source)


def load_policy(checkpoint: str | Path, env_mapping: dict | None = None):
    """(state, env, model) of a checkpoint: its contract env (or one from `env_mapping`), whose layout must equal the
    checkpoint's, and the AMP model with the checkpoint's weights."""
    from awd.learning.checkpoint import load_checkpoint
    from awd.learning.policy import build_actor, check_checkpoint_layout
    from awd.tasks import TASKS

    state = load_checkpoint(checkpoint, "cpu")
    env_config = checkpoint_env_config(checkpoint, state)
    task = env_config.get("task")
    if task not in TASKS or task == "DucklingViewMotion":
        raise AwdError(checkpoint, "config.env_config.task", f"expected a trained Duckling task, found {task!r}")
    mapping = env_config["env"] if env_mapping is None else env_mapping
    env = build_contract_env(task, mapping, env_config.get("source"))
    check_checkpoint_layout(checkpoint, state, env)
    try:
        model = build_actor(state, env, "cpu")
    except RuntimeError as error:  # state dict shapes that differ from the config's network
        first = str(error).strip().splitlines()[-1].strip()
        raise AwdError(checkpoint, "model", f"weights do not fit the network of the config ({first})") from None
    return state, env, model


def onnx_session(model: str | Path | bytes, threads: int = 1):
    """An ONNX Runtime CPU session (a file or serialized model) with `threads` intra-op threads, run sequentially."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])


def load_export(folder: str | Path) -> tuple[dict, object]:
    """(policy.json, `act`) of an export folder that holds its env config: `act(obs)` runs policy.onnx and clips
    the actions to [-1, 1]."""
    from awd.utils.io import read_json

    folder = Path(folder)
    metadata = read_json(folder / METADATA_FILE)
    if not isinstance(metadata.get("env_config"), dict):
        raise AwdError(folder / METADATA_FILE, "env_config", "missing (exported before the style benchmark "
                       "existed: export the checkpoint again, or use the checkpoint)")
    session = onnx_session(folder / "policy.onnx")

    def act(obs: torch.Tensor) -> torch.Tensor:
        actions = session.run(None, {INPUT_NAME: obs.detach().cpu().numpy().astype(np.float32)})[0]
        return torch.as_tensor(actions).clamp(-1.0, 1.0)

    return metadata, act
