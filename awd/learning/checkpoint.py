"""Checkpoint files of the AMP agent: plain dicts of tensors/primitives, written atomically, read weights-only.

A checkpoint is a dict with (at least) these keys:
    model, running_mean_std, reward_mean_std, amp_input_mean_std   state dicts (normalisers also live in model)
    optimizer                                                       optimiser state dict (None in numbered ones)
    epoch, frame, last_mean_rewards                                 counters
    amp_replay_buffer                                               ReplayBuffer.state_dict() (None in numbered ones)
    config                                                          the resolved rl_games params, plain values only
    layout                                                          obs/action/amp sizes and names (see env_layout)
    env_state                                                       whatever the env's get_env_state returned (plain)
    demo_keys, rng, rollout                                         demo buffer keys, random generators, the
                                                                    rollout's obs and dones (awd.learning.resume_state)
The only loader is `load_checkpoint` (torch.load with weights_only=True); `save_checkpoint` refuses NaN or
infinity in the model and normalisers.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rl_games.common.tr_helpers import DefaultRewardsShaper

from awd.errors import AwdError
from awd.utils.io import atomic_open

_PRIMITIVES = (str, int, float, bool, type(None))


def to_plain(value: Any) -> Any:
    """A copy holding only dicts (str keys), lists, primitives and tensors; other objects are dropped (None)."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, DefaultRewardsShaper):  # rl_games replaces the config's reward_shaper dict by this
        return {key: getattr(value, key) for key in ("scale_value", "shift_value", "min_val", "max_val", "log_val")}
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            converted = to_plain(item)
            if converted is not None or item is None:
                plain[str(key)] = converted
        return plain
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return None


def space_size(space) -> int:
    """Flat size of a gym/gymnasium Box (product of its shape)."""
    return int(np.prod(space.shape))


def env_layout(env, observation_space, action_space, amp_observation_space) -> dict:
    """The sizes from the spaces, merged with the env's optional get_layout() (names, joint order...)."""
    layout = {"obs_size": space_size(observation_space), "action_size": space_size(action_space),
              "amp_obs_size": space_size(amp_observation_space)}
    get_layout = getattr(env, "get_layout", None)
    if callable(get_layout):
        layout.update(to_plain(get_layout() or {}))
    return layout


def layout_differences(saved: dict, current: dict) -> list[str]:
    """'key: checkpoint=<a> env=<b>' for every key whose values differ (missing keys count as differing)."""
    missing = object()
    lines = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, missing), current.get(key, missing)
        if not _plain_equal(a, b):
            show = lambda v: "<absent>" if v is missing else repr(v)  # noqa: E731
            lines.append(f"{key}: checkpoint={show(a)} env={show(b)}")
    return lines


def _plain_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        both = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
        return both and a.shape == b.shape and bool((a == b).all())
    return a == b


def check_layout(path: str | Path, saved: dict | None, current: dict) -> None:
    """Raise AwdError naming every differing key when a checkpoint's layout differs from the env's."""
    if saved is None:
        raise AwdError(path, "layout", "checkpoint has no layout (not written by the awd AMP agent)")
    differences = layout_differences(saved, current)
    if differences:
        raise AwdError(path, "layout", "checkpoint does not match the environment: " + "; ".join(differences))


def _floating_tensors(value: Any, name: str = "") -> list[tuple[str, torch.Tensor]]:
    if isinstance(value, torch.Tensor):
        return [(name, value)] if value.is_floating_point() else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    return [pair for key, item in items for pair in _floating_tensors(item, f"{name}.{key}" if name else str(key))]


def non_finite_entries(value: Any) -> list[str]:
    """Dotted names of the floating tensors in a nested state that hold NaN or infinity (one read from the
    device for all of them)."""
    tensors = _floating_tensors(value)
    if not tensors:
        return []
    device = tensors[0][1].device
    finite = torch.stack([torch.isfinite(tensor).all().to(device) for _, tensor in tensors]).tolist()
    return [name for (name, _), ok in zip(tensors, finite) if not ok]


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """torch.save `state` to `path` (suffix .pth added if missing) through a temporary file and a rename; a state
    whose model or normalisers hold NaN or infinity is refused (AwdError) and nothing is written."""
    path = Path(path)
    if path.suffix != ".pth":
        path = path.with_name(path.name + ".pth")
    weights = {key: state.get(key) for key in ("model", "running_mean_std", "reward_mean_std", "amp_input_mean_std")}
    poisoned = non_finite_entries(weights)
    if poisoned:
        shown = ", ".join(poisoned[:3])
        raise AwdError(path, "model", f"not written: non-finite values in {shown}"
                       f"{f' and {len(poisoned) - 3} more' if len(poisoned) > 3 else ''} (training diverged)")
    with atomic_open(path, "wb") as stream:
        torch.save(state, stream)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Load a checkpoint with weights_only=True; a missing or unreadable file raises AwdError."""
    path = Path(path)
    if not path.is_file():
        raise AwdError(path, None, "checkpoint file not found")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:  # objects a weights-only load refuses: nothing of them ran
        raise AwdError(path, None, "refused: the file holds Python objects other than tensors and plain values "
                       "(awd checkpoints never do; it was not written by awd, or was tampered with)") from None
    except Exception as error:  # truncated files, not a torch file
        first = (str(error).strip().splitlines() or [""])[0]
        raise AwdError(path, None, f"cannot read checkpoint ({type(error).__name__}: {first})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise AwdError(path, None, "not an awd checkpoint (expected a dict with a 'model' entry)")
    return state
