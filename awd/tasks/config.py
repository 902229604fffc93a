"""Typed env configs for the Duckling tasks, built from the `env:` mapping of an env YAML
(`awd/data/cfg/<robot>/duckling_*.yaml`). Every section is a frozen dataclass; an unknown key, a wrong type or
an out-of-range value raises a one-line AwdError naming the file and the dotted key (awd.utils.typed_config, the
one typed-config mechanism; ranges are checked in `_validate`).

Reward terms are a mapping `rewards: {term: {weight: w, <param>: value}}` validated against the term
registry in `awd.tasks.rewards` (unknown term or parameter -> AwdError).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from awd.errors import AwdError
from awd.utils.typed_config import build, convert



@dataclass(frozen=True)
class ObservationConfig:
    joint_vel_scale: float = 0.05  # joint velocities are multiplied by this in the policy observation
    foot_contacts: bool = False  # append the two foot-contact flags (2)


@dataclass(frozen=True)
class AmpConfig:
    num_steps: int = 5  # K: frames in the discriminator window (newest first)
    foot_contacts: bool = False  # append the foot-contact flags to each AMP frame
    root_height: bool = True  # include the root height (else the slot is kept and zeroed)
    root_rotation: bool = True  # include the trunk's pitch and roll (tangent/normal, 6; else zeroed)
    root_angular_velocity: bool = True  # include the trunk's angular velocity (3; else zeroed)
    exclude_joints: tuple[str, ...] = ()  # joints left out of the AMP features (e.g. a head the clips never move);
    # names or shell-style patterns (`*_wrist_*`), each matching at least one joint
    demo_weights: Literal["clips", "commands"] = "clips"  # demo windows by the clips' weights, or in proportion to
    # the commands a command task samples (awd.tasks.demo_weights)


@dataclass(frozen=True)
class InitConfig:
    mode: Literal["Default", "Start", "Random", "Hybrid"] = "Hybrid"
    hybrid_prob: float = 0.5  # Hybrid: probability of a reference (Random) init per reset env
    root_height_offset: float = 0.0  # added to the root height on reference init (m)


@dataclass(frozen=True)
class TerminationConfig:
    enabled: bool = True
    trunk_height: float = 0.12  # fall when the root (trunk) is below this (m); <= 0 disables
    head_height: float = 0.18  # fall when the head body is below this (m); <= 0 disables
    non_foot_contact: bool = True  # fall when any non-foot body touches the ground
    max_tilt: float = 0.0  # fall when the trunk's z axis leans more than this from vertical (rad); <= 0 disables
    grace_steps: int = 2  # no fall termination during the first steps of an episode


COMMAND_AXES = ("lin_vel_x", "lin_vel_y", "ang_vel_z")  # a command's parts in order, each a CommandConfig range


def sampled_ranges(commands) -> list[tuple[float, float]]:
    """Each axis's (low, high) as training draws commands (`commands`: a CommandConfig): the range, both ends times
    `sample_beyond`, so that a policy that falls a little short of a command still reaches the range's ends."""
    return [(commands.sample_beyond * low, commands.sample_beyond * high)
            for low, high in (getattr(commands, axis) for axis in COMMAND_AXES)]


@dataclass(frozen=True)
class CommandConfig:
    lin_vel_x: tuple[float, float] = (-0.15, 0.25)  # m/s
    lin_vel_y: tuple[float, float] = (-0.15, 0.15)  # m/s
    ang_vel_z: tuple[float, float] = (-0.8, 0.8)  # rad/s
    resample_s: float = 10.0  # also resampled on a timer (s); 0 = only at reset
    zero_prob: float = 0.1  # probability that a sampled command is exactly zero (stand)
    clip_command_prob: float = 0.0  # a reset from a clip frame commanded that clip's velocity (awd.tasks.clip_commands)
    sample_beyond: float = 1.0  # training draws commands from each range end times this; a policy is run on the ranges
    single_axis_prob: float = 0.0  # share of training draws along one axis only, as a joystick pushed one way
    clip_draw_prob: float = 0.0  # share of training draws that are a walking clip's velocity (awd.tasks.clip_commands)
    small_lin_vel: float = 0.05  # |v_xy| below this -> planar command zeroed
    small_ang_vel: float = 0.1  # |wz| below this -> yaw command zeroed
    obs_scale: tuple[float, float, float] = (2.0, 2.0, 0.25)  # task obs = scaled commands
    velocity_window_s: float = 0.0  # track the mean velocity over this window (0 = instantaneous)
    gait_period_s: float = 0.0  # a gait clock of this period in the observation (0 = none; awd.tasks.gait_clock)
    gait_off_at_zero: bool = False  # the clock observed as (0, 0) at the zero command (awd.tasks.gait_clock)


@dataclass(frozen=True)
class StandConfig:
    height_offset_range: tuple[float, float] = (0.0, 0.0)  # per-episode trunk-height target offset (m)
    target_obs: bool = False  # add the height-target offset to the policy observation (1)


@dataclass(frozen=True)
class PushConfig:
    enabled: bool = False
    interval_s: float = 3.0  # per env, every interval (s)
    max_vel_xy: float = 0.2  # m/s, uniform in [-max, max] per axis, added to the root velocity


@dataclass(frozen=True)
class TrunkMassConfig:
    enabled: bool = False
    mass_delta: tuple[float, float] = (-0.05, 0.05)  # kg added to the trunk, resampled at reset
    com_offset: tuple[float, float] = (-0.01, 0.01)  # m per axis added to the trunk COM


@dataclass(frozen=True)
class RangeConfig:
    enabled: bool = False
    range: tuple[float, float] = (0.9, 1.1)


@dataclass(frozen=True)
class DelayConfig:
    enabled: bool = False
    max_steps: int = 1  # delay per env drawn uniformly in [0, max_steps] policy steps at reset


@dataclass(frozen=True)
class ObsNoiseConfig:
    enabled: bool = False
    projected_gravity: float = 0.02  # std of additive Gaussian noise per observation part
    joint_pos: float = 0.01
    joint_vel: float = 0.5  # rad/s (before joint_vel_scale)


@dataclass(frozen=True)
class DomainRandConfig:
    push: PushConfig = field(default_factory=PushConfig)
    trunk_mass: TrunkMassConfig = field(default_factory=TrunkMassConfig)
    friction: RangeConfig = field(default_factory=lambda: RangeConfig(range=(0.6, 1.2)))
    torque_scale: RangeConfig = field(default_factory=lambda: RangeConfig(range=(0.9, 1.1)))
    action_delay: DelayConfig = field(default_factory=DelayConfig)
    obs_delay: DelayConfig = field(default_factory=DelayConfig)
    obs_noise: ObsNoiseConfig = field(default_factory=ObsNoiseConfig)


@dataclass(frozen=True)
class VerdictConfig:
    """What "walks with style" means for this task (awd.style.verdict); each robot's task config sets its own."""
    survival: float = 0.95  # evaluator: share of 20-s episodes without a fall, at least
    planar_error: float = 0.05  # evaluator: mean planar velocity error (m/s), at most
    yaw_error: float = 0.15  # evaluator: mean yaw-rate error (rad/s), at most
    extreme_tolerance: float = 0.10  # command extremes: commanded axis within this share of the command
    stride_period_tolerance: float = 0.15  # per clip: stride period within this share of the clip's
    min_clearance_ratio: float = 0.7  # per clip: each foot's swing clearance at least this share of the clip's
    double_support_tolerance: float = 0.10  # per clip: double-support share within this of the clip's
    max_joint_error_ratio: float = 0.5  # per clip: moved joints' stride error at most this share of the baseline
    held_joint_rms: float = 0.05  # per clip: joints the clip holds, RMS from the clip's value (rad), at most
    max_classifier_accuracy: float = 0.75  # style classifier's held-out accuracy, at most


@dataclass(frozen=True)
class RewardTermConfig:
    weight: float
    params: dict[str, float]
    ramp: tuple[float, float] = (0.0, 0.0)  # training frames over which the weight rises from 0 (awd.tasks.reward_ramp)


@dataclass(frozen=True)
class EnvConfig:
    task: str = "DucklingCommand"
    robot: str = "mini_bdx"
    motion_file: str | None = None  # relative to awd/data (e.g. motions/mini_bdx), to the YAML, or absolute;
    # `{robot}` is replaced by the robot's name (motions/{robot} follows env.robot)
    episode_length_s: float = 20.0
    seed: int | None = None
    observations: ObservationConfig = field(default_factory=ObservationConfig)
    amp: AmpConfig = field(default_factory=AmpConfig)
    init: InitConfig = field(default_factory=InitConfig)
    termination: TerminationConfig = field(default_factory=TerminationConfig)
    commands: CommandConfig = field(default_factory=CommandConfig)
    stand: StandConfig = field(default_factory=StandConfig)
    domain_rand: DomainRandConfig = field(default_factory=DomainRandConfig)
    rewards: dict[str, RewardTermConfig] = field(default_factory=dict)
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    source: str = "env config"  # where the mapping came from (for error messages)


# ------------------------------------------------------------------------------------------------ loading


def load_env_config(path: str | Path) -> EnvConfig:
    """Read an env YAML (with a top-level `env:` mapping) into an EnvConfig."""
    from awd.utils.io import read_yaml

    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise AwdError(path, None, "expected a mapping with an 'env' section at the top level")
    unknown = sorted(set(raw) - {"env"})
    if unknown:
        raise AwdError(path, unknown[0], "unknown top-level key (expected only 'env')")
    return env_config_from_mapping(raw.get("env"), source=str(path))


def env_config_from_mapping(mapping: Any, source: str | Path = "env config") -> EnvConfig:
    """Build and validate an EnvConfig from the `env:` mapping; `source` names the file in errors."""
    source = str(source)
    if not isinstance(mapping, dict):
        raise AwdError(source, "env", f"expected a mapping, got {mapping!r}")
    mapping = dict(mapping)
    rewards_raw = mapping.pop("rewards", {}) or {}
    fields = {key: value for key, value in mapping.items() if key != "source"}
    cfg = build(EnvConfig, fields, source, "env", skip=("rewards", "source"))
    rewards = _build_rewards(rewards_raw, source)
    cfg = dataclasses.replace(cfg, rewards=rewards, source=source)
    _validate(cfg)
    return cfg


def _build_rewards(raw: Any, source: str) -> dict[str, RewardTermConfig]:
    from awd.tasks.rewards import TERMS

    if not isinstance(raw, dict):
        raise AwdError(source, "env.rewards", f"expected a mapping of reward terms, got {raw!r}")
    terms = {}
    for name, entry in raw.items():
        key = f"env.rewards.{name}"
        if name not in TERMS:
            raise AwdError(source, key, f"unknown reward term; expected one of {sorted(TERMS)}")
        if isinstance(entry, (int, float)) and not isinstance(entry, bool):
            entry = {"weight": entry}
        if not isinstance(entry, dict) or "weight" not in entry:
            raise AwdError(source, key, f"expected a mapping with a 'weight' (and term parameters), got {entry!r}")
        defaults = TERMS[name].params
        unknown = sorted(set(entry) - {"weight", "ramp", *defaults})
        if unknown:
            raise AwdError(source, f"{key}.{unknown[0]}", f"unknown parameter; expected weight, ramp or "
                           f"{sorted(defaults)}")
        weight = convert(float, entry["weight"], source, f"{key}.weight")
        params = {p: convert(float, entry.get(p, d), source, f"{key}.{p}") for p, d in defaults.items()}
        for p in TERMS[name].positive:
            if params[p] <= 0:
                raise AwdError(source, f"{key}.{p}", f"expected a positive number, got {params[p]!r}")
        ramp = _ramp(entry.get("ramp", [0, 0]), source, f"{key}.ramp")
        terms[name] = RewardTermConfig(weight=weight, params=params, ramp=ramp)
    return terms


def _ramp(raw: Any, source: str, key: str) -> tuple[float, float]:
    """[start, end] training frames, 0 <= start <= end."""
    start, end = convert(tuple[float, float], raw, source, key)
    if not 0 <= start <= end:
        raise AwdError(source, key, f"expected [start, end] training frames with 0 <= start <= end, got {raw!r}")
    return start, end


def _validate(cfg: EnvConfig) -> None:
    source = cfg.source

    def fail(key: str, message: str):
        raise AwdError(source, f"env.{key}", message)

    from awd.tasks.registry import TASKS

    if cfg.task not in TASKS:
        fail("task", f"expected one of {list(TASKS)}, got {cfg.task!r}")
    if cfg.episode_length_s <= 0:
        fail("episode_length_s", f"expected a positive number of seconds, got {cfg.episode_length_s}")
    if cfg.amp.num_steps < 1:
        fail("amp.num_steps", f"expected a positive integer, got {cfg.amp.num_steps}")
    if cfg.observations.joint_vel_scale <= 0:
        fail("observations.joint_vel_scale", f"expected a positive number, got {cfg.observations.joint_vel_scale}")
    if not 0.0 <= cfg.init.hybrid_prob <= 1.0:
        fail("init.hybrid_prob", f"expected a probability in [0, 1], got {cfg.init.hybrid_prob}")
    if cfg.amp.demo_weights == "commands" and not hasattr(TASKS[cfg.task], "sample_commands"):
        fail("amp.demo_weights", f"'commands' weighs the clips by a command task's commands; {cfg.task} has none")
    if cfg.init.mode != "Default" and cfg.motion_file is None and cfg.task != "DucklingStand":
        fail("motion_file", f"init.mode {cfg.init.mode} needs a motion_file (or use init.mode: Default)")
    if cfg.task == "DucklingViewMotion" and cfg.motion_file is None:
        fail("motion_file", "DucklingViewMotion needs a motion_file")
    from awd.tasks.rewards import TERMS

    for name, term in cfg.rewards.items():
        if term.weight and TERMS[name].needs_clips and cfg.motion_file is None:
            fail(f"rewards.{name}", "this term reads the clips: it needs a motion_file (or weight 0)")
    if cfg.termination.max_tilt > math.pi:
        fail("termination.max_tilt", f"expected an angle <= pi rad (<= 0 disables), got {cfg.termination.max_tilt}")
    if cfg.termination.grace_steps < 0:
        fail("termination.grace_steps", f"expected a non-negative integer, got {cfg.termination.grace_steps}")
    commands = cfg.commands
    for name in COMMAND_AXES:
        low, high = getattr(commands, name)
        if low > high:
            fail(f"commands.{name}", f"expected [low, high] with low <= high, got [{low}, {high}]")
    if commands.resample_s < 0:
        fail("commands.resample_s", f"expected a non-negative number of seconds, got {commands.resample_s}")
    for name in ("zero_prob", "clip_command_prob", "single_axis_prob", "clip_draw_prob"):
        if not 0.0 <= getattr(commands, name) <= 1.0:
            fail(f"commands.{name}", f"expected a probability in [0, 1], got {getattr(commands, name)}")
    if commands.sample_beyond < 1:
        fail("commands.sample_beyond", f"expected a factor >= 1 on the range ends, got {commands.sample_beyond}")
    if commands.velocity_window_s < 0:
        fail("commands.velocity_window_s", f"expected a non-negative number, got {commands.velocity_window_s}")
    if commands.gait_period_s < 0:
        fail("commands.gait_period_s", f"expected a non-negative number of seconds, got {commands.gait_period_s}")
    check_clock_terms(cfg.rewards, commands.gait_period_s, fail)
    low, high = cfg.stand.height_offset_range
    if low > high:
        fail("stand.height_offset_range", f"expected [low, high] with low <= high, got [{low}, {high}]")
    for name, value in dataclasses.asdict(cfg.verdict).items():
        if value < 0:
            fail(f"verdict.{name}", f"expected a non-negative number, got {value}")
    rand = cfg.domain_rand
    if rand.push.interval_s <= 0:
        fail("domain_rand.push.interval_s", f"expected a positive number, got {rand.push.interval_s}")
    for name in ("friction", "torque_scale"):
        low, high = getattr(rand, name).range
        if not 0 < low <= high:
            fail(f"domain_rand.{name}.range", f"expected [low, high] with 0 < low <= high, got [{low}, {high}]")
    for name in ("action_delay", "obs_delay"):
        if getattr(rand, name).max_steps < 0:
            fail(f"domain_rand.{name}.max_steps",
                 f"expected a non-negative integer, got {getattr(rand, name).max_steps}")


def check_clock_terms(rewards: dict, period_s: float, fail) -> None:
    """The terms that read the gait clock need a period, a stance share in (0, 1), and, when both are on, one
    stance share."""
    for name in ("gait_contact", "gait_swing_height", "gait_pose"):
        term = rewards.get(name)
        if term is not None and term.weight and period_s <= 0:
            fail(f"rewards.{name}", "reads the gait clock: expected env.commands.gait_period_s > 0")
    active = {}
    for name in ("gait_contact", "gait_swing_height"):
        term = rewards.get(name)
        if term is None:
            continue
        if not 0.0 < term.params["stance"] < 1.0:
            fail(f"rewards.{name}.stance", f"expected a share of the stride in (0, 1), got {term.params['stance']}")
        if term.params.get("arc", 0.0) not in (0.0, 1.0):
            fail(f"rewards.{name}.arc", f"expected 0 (a fixed target) or 1 (a sine arc), got {term.params['arc']}")
        if term.weight:
            active[name] = term.params["stance"]
    if len(set(active.values())) > 1:
        fail("rewards.gait_swing_height.stance",
             f"expected the stance share of rewards.gait_contact ({active['gait_contact']}), got "
             f"{active['gait_swing_height']}")
