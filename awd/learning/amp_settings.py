"""Settings of the AMP agent: the AMP keys of an rl_games `params.config` (AMPSettings, with types checked), PPO
defaults, and a minibatch size that divides the batch (`resolve_config`, `resolve_minibatch_size`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from awd.errors import AwdError, is_number
from awd.utils.typed_config import build

CONFIG_SOURCE = "train config"


def log(message: str) -> None:
    """One line on stdout, flushed (reads well in a nohup log)."""
    print(f"[awd] {message}", flush=True)


@dataclass
class AMPSettings:
    """AMP-specific keys of `params.config` (defaults = the AWD duck values)."""

    task_reward_w: float = 0.4
    disc_reward_w: float = 0.6
    disc_reward_scale: float = 2.0
    disc_coef: float = 5.0
    disc_logit_reg: float = 0.01
    disc_grad_penalty: float = 5.0
    disc_weight_decay: float = 1e-4
    disc_input_noise: float = 0.0        # std of noise on D's normalised inputs in training (instance noise)
    disc_noise_target_acc: float = 0.0   # > 0: the noise std adapts to this accuracy (awd.learning.disc_noise)
    disc_loss: Literal["bce", "lsgan"] = "bce"  # awd.learning.discriminator
    disc_reward_norm: bool = False       # style reward divided by its std over the rollout before mixing
    style_termination_threshold: float = 0.0  # episodes end after a sustained style reward below this (0: off)
    style_termination_steps: int = 30    # consecutive policy steps below the threshold (awd.learning.style_termination)
    symmetry_coef: float = 0.0           # actor mirror-symmetry loss weight (awd.learning.symmetry; 0: off)
    symmetry_batch_share: float = 1.0    # share of each minibatch's rows the symmetry loss reads
    normalize_amp_input: bool = True
    amp_replay_buffer_size: int = 200_000
    amp_replay_keep_prob: float = 0.01
    amp_obs_demo_buffer_size: int = 200_000
    amp_batch_size: int = 512            # fresh demo windows fetched from the env per epoch
    amp_minibatch_size: int = 4096       # rows of agent / replay / demo each fed to D per PPO minibatch
    critic_learning_rate: float | None = None   # default: learning_rate
    disc_learning_rate: float | None = None     # default: learning_rate
    save_latest_frequency: int = 10      # epochs between rewrites of <nn_dir>/<name>.pth (0: by time only)
    save_latest_interval_s: float = 60.0  # and at the first epoch end this long after the last rewrite (0: off)
    disc_saturation_acc: float = 0.95
    disc_saturation_epochs: int = 50
    # on CUDA: replay env steps, policy inference and minibatch steps (constant lr only) as CUDA graphs
    cuda_graphs: bool = False
    tf32: bool = False                   # float32 matmuls on CUDA run on TF32 tensor cores (10-bit mantissa)
    # epochs between style judgements in the background (awd.learning.style_monitor)
    style_eval_every: int = 0
    style_eval_threads: int = 2

    @classmethod
    def from_config(cls, config: dict) -> "AMPSettings":
        """The AMP keys of `params.config` (awd.utils.typed_config; a null value keeps the default)."""
        names = {field.name for field in fields(cls)}
        values = {key: value for key, value in config.items() if key in names and value is not None}
        return build(cls, values, CONFIG_SOURCE, "config")


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def resolve_minibatch_size(batch_size: int, requested: int | None, num_minibatches: int = 4,
                           max_minibatches: int = 64) -> tuple[int, str | None]:
    """A minibatch size that divides `batch_size` and gives at most `max_minibatches` steps per mini-epoch.

    `requested` is kept when valid; otherwise the size is batch_size // n for the divisor n of batch_size
    closest to `num_minibatches`. Returns (size, note) where note explains a change (None when kept).
    """
    if requested is not None and 0 < requested <= batch_size and batch_size % requested == 0 \
            and batch_size // requested <= max_minibatches:
        return int(requested), None
    count = min(_divisors(batch_size), key=lambda d: (abs(d - num_minibatches), d))
    size = batch_size // count
    if requested is None:
        return size, f"minibatch_size {size} ({count} minibatches of the batch {batch_size})"
    reason = ("does not divide" if requested <= 0 or batch_size % requested else "gives too many minibatches of")
    return size, (f"minibatch_size {requested} {reason} the batch {batch_size}; using {size} "
                  f"({count} minibatches, num_minibatches={num_minibatches}, max_minibatches={max_minibatches})")


# PPO keys of params.config: (type, lowest allowed, lowest is allowed itself, highest allowed)
PPO_KEYS = {"num_actors": (int, 1, True, None), "horizon_length": (int, 1, True, None),
            "mini_epochs": (int, 1, True, None), "num_minibatches": (int, 1, True, None),
            "max_minibatches": (int, 1, True, None), "learning_rate": (float, 0.0, False, None),
            "critic_learning_rate": (float, 0.0, False, None), "disc_learning_rate": (float, 0.0, False, None),
            "gamma": (float, 0.0, True, 1.0), "tau": (float, 0.0, True, 1.0), "e_clip": (float, 0.0, False, None),
            "critic_coef": (float, 0.0, True, None), "entropy_coef": (float, 0.0, True, None),
            "bounds_loss_coef": (float, 0.0, True, None), "grad_norm": (float, 0.0, False, None),
            "max_epochs": (int, -1, True, None),
            # AMP keys (types also checked by AMPSettings)
            "task_reward_w": (float, 0.0, True, None), "disc_reward_w": (float, 0.0, True, None),
            "disc_reward_scale": (float, 0.0, False, None), "disc_coef": (float, 0.0, True, None),
            "disc_logit_reg": (float, 0.0, True, None), "disc_grad_penalty": (float, 0.0, True, None),
            "disc_weight_decay": (float, 0.0, True, None), "disc_input_noise": (float, 0.0, True, None),
            "disc_noise_target_acc": (float, 0.0, True, 1.0),
            "amp_replay_buffer_size": (int, 1, True, None), "amp_replay_keep_prob": (float, 0.0, True, 1.0),
            "amp_obs_demo_buffer_size": (int, 1, True, None), "amp_batch_size": (int, 1, True, None),
            "amp_minibatch_size": (int, 1, True, None), "save_latest_frequency": (int, 0, True, None),
            "save_latest_interval_s": (float, 0.0, True, None), "disc_saturation_acc": (float, 0.0, True, 1.0),
            "disc_saturation_epochs": (int, 1, True, None), "style_eval_every": (int, 0, True, None),
            "style_eval_threads": (int, 1, True, None), "style_termination_threshold": (float, 0.0, True, None),
            "style_termination_steps": (int, 1, True, None), "symmetry_coef": (float, 0.0, True, None),
            "symmetry_batch_share": (float, 0.0, False, 1.0)}


def check_ppo_keys(config: dict) -> None:
    """Each PPO or AMP key present has its type and range, or an AwdError naming it."""
    for key, (kind, low, low_allowed, high) in PPO_KEYS.items():
        value = config.get(key)
        if value is None:
            continue
        expected = f"{'an integer' if kind is int else 'a number'} {'>=' if low_allowed else '>'} {low:g}" + (
            f" and <= {high:g}" if high is not None else "")
        number = is_number(value) and (kind is not int or float(value).is_integer())
        if not number or value < low or (value == low and not low_allowed) or (high is not None and value > high):
            raise AwdError(CONFIG_SOURCE, f"config.{key}", f"expected {expected}, found {value!r}")


def resolve_config(config: dict) -> None:
    """Check the PPO keys, fill PPO defaults, reject unsupported modes, and make the minibatch size valid for this
    env count."""
    check_ppo_keys(config)
    for unsupported in ("multi_gpu", "central_value_config", "mixed_precision"):
        if config.get(unsupported):
            raise AwdError(CONFIG_SOURCE, f"config.{unsupported}", "not supported by the amp algo")
    defaults = {"clip_value": False, "entropy_coef": 0.0, "grad_norm": 1.0, "truncate_grads": False,
                "normalize_advantage": True, "normalize_value": True, "lr_schedule": "constant",
                "seq_length": 1, "critic_coef": 5.0, "e_clip": 0.2}
    for key, value in defaults.items():
        config.setdefault(key, value)
    batch_size = int(config["horizon_length"]) * int(config["num_actors"])
    requested = config.get("minibatch_size")
    if requested is None and config.get("minibatch_size_per_env"):
        requested = int(config["minibatch_size_per_env"]) * int(config["num_actors"])
    size, note = resolve_minibatch_size(batch_size, None if requested is None else int(requested),
                                        int(config.get("num_minibatches", 4)), int(config.get("max_minibatches", 64)))
    if note:
        log(note)
    config["minibatch_size"] = size
    config.pop("minibatch_size_per_env", None)
