"""Run configuration: the env YAML (`awd/data/cfg/<robot>/`) and the rl_games train YAML (`.../train/`) for a
task, merged with dotted command-line overrides (`env.reward.lin_vel=0.5`, `train.params.config.gamma=0.99`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from awd import DATA_DIR
from awd.errors import AwdError
from awd.utils.io import load_yaml_text, read_yaml

CFG_DIR = DATA_DIR / "cfg"


def resolve_cfg_path(path: str | Path) -> Path:
    """A config path as given (relative to the working directory), else relative to the package's cfg dir."""
    given = Path(path)
    if given.is_file():
        return given.resolve()
    packaged = CFG_DIR / given
    if packaged.is_file():
        return packaged
    raise AwdError(path, None, f"config file not found (looked in the working directory and in {CFG_DIR})")


def load_run_config(task: str, cfg_env: str | None = None, cfg_train: str | None = None,
                    overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Return {"task", "env", "train", "sources"}: the env mapping, the rl_games mapping with the task's
    `train_overrides` set, and the files they came from; then the dotted `overrides`."""
    from awd.tasks.registry import TASKS

    defaults = TASKS.get(task)
    if defaults is None and (cfg_env is None or cfg_train is None):
        raise AwdError(None, "--task",
                       f"unknown task {task!r}: expected one of {sorted(TASKS)} or give --cfg_env and --cfg_train")
    env_path = resolve_cfg_path(cfg_env or defaults.env_cfg)
    env_raw = _mapping(env_path, read_yaml(env_path))
    train_file = cfg_train or defaults.train_cfg
    train_path = resolve_cfg_path(train_file) if train_file else None
    train_raw = _mapping(train_path, read_yaml(train_path)) if train_path else {}
    config = {"task": task, "env": env_raw.get("env", env_raw), "train": train_raw,
              "sources": {"env": str(env_path), "train": str(train_path) if train_path else None}}
    if train_raw and defaults is not None:  # the task's own train settings (registry), dotted under `params`
        for dotted, value in defaults.train_overrides:
            _set_dotted(train_raw.setdefault("params", {}), dotted, value)
    for override in overrides:
        apply_override(config, override)
    return config


def _set_dotted(node: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    for section in sections:
        node = node.setdefault(section, {})
    node[key] = value


def apply_override(config: dict[str, Any], override: str) -> None:
    """Set `section.key.sub=value` (value parsed as YAML) on an existing key; a typo is an error, not a new key."""
    if "=" not in override:
        raise AwdError("command line", override, "expected a dotted override like env.reward.lin_vel=0.5")
    dotted, text = override.split("=", 1)
    keys = dotted.strip().split(".")
    if keys[0] not in ("env", "train"):
        raise AwdError("command line", dotted, "expected an override starting with 'env.' or 'train.'")
    _add_known_reward_key(config, keys)
    node = config
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            raise AwdError("command line", dotted, f"no section {'.'.join(keys[:depth + 1])!r} in the config")
        node = child
    if keys[-1] not in node:
        raise AwdError("command line", dotted, f"no key {keys[-1]!r} here; known keys: {sorted(node)}")
    try:
        node[keys[-1]] = load_yaml_text(text)
    except yaml.YAMLError:
        raise AwdError("command line", dotted, f"could not parse value {text!r}") from None


def _add_known_reward_key(config: dict[str, Any], keys: list[str]) -> None:
    """A config written before a reward term or parameter existed (a checkpoint's, an export's) lacks its key; an
    override of it adds the term (off) with its parameters' defaults, so that the override can set it."""
    if keys[:2] != ["env", "rewards"] or len(keys) != 4 or not isinstance(config.get("env", {}).get("rewards"), dict):
        return
    from awd.tasks.rewards import TERMS

    term = TERMS.get(keys[2])
    defaults = {"weight": 0.0, "ramp": [0, 0], **(term.params if term else {})}
    if term is None or keys[3] not in defaults:
        return
    entry = config["env"]["rewards"].setdefault(keys[2], {"weight": 0.0})
    if isinstance(entry, dict):
        entry.setdefault(keys[3], defaults[keys[3]])


def copy_config(config: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(config)


def _mapping(path: Path, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise AwdError(path, None, "expected a mapping at the top level")
    return raw
