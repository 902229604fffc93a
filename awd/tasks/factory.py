"""Making envs: `make_task(name, cfg, engine, motion_lib)` picks the task class; `build_env` loads the robot
spec, the motion library (from `env.motion_file`) and an engine (from the engine registry, CPU MuJoCo unless an
`engine_factory` is given; tasks never import a simulator) and returns a ready env."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Callable

from awd import DATA_DIR
from awd.errors import AwdError
from awd.tasks.config import EnvConfig, env_config_from_mapping, load_env_config
from awd.tasks.registry import TASKS


def make_task(name: str, cfg: EnvConfig, engine, motion_lib=None, spec=None):
    """An env of task `name` (one of awd.tasks.tasks.TASKS)."""
    if name not in TASKS:
        raise AwdError(cfg.source, "task", f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name](cfg, engine, motion_lib, spec)


def resolve_motion_path(motion_file: str, source: str | None = None) -> Path:
    """An absolute path, else relative to the package data dir (awd/data), else to the config file."""
    given = Path(motion_file)
    candidates = [given] if given.is_absolute() else [DATA_DIR / given]
    if source and not given.is_absolute() and Path(source).exists():
        candidates.append(Path(source).resolve().parent / given)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise AwdError(source, "env.motion_file", f"motion file or folder not found: {motion_file} "
                   f"(looked in {[str(c) for c in candidates]})")


def resolve_dataset(motion_file: str, robot: str, source: str | None = None) -> Path:
    """`resolve_motion_path` of an `env.motion_file`, whose `{robot}` is replaced by the robot's name."""
    return resolve_motion_path(str(motion_file).replace("{robot}", robot), source)


def build_env(cfg: EnvConfig | dict | str | Path, num_envs: int, device="cpu", task: str | None = None,
              engine_factory: Callable | None = None, source: str | None = None, seed: int | None = None):
    """Env from a config (EnvConfig, `env:` mapping or YAML path; `source` names the file of a mapping).
    `engine_factory(spec, num_envs, device, tracked_bodies=...)` builds the engine (default: CPU MuJoCo from
    the engine registry, awd.engine.make_engine); `seed` overrides `env.seed`."""
    import torch

    from awd.engine.base import default_tracked_bodies
    from awd.tasks.terminations import check_standing
    from awd.motion.dataset import load_dataset
    from awd.robot import load_robot_spec
    from awd.motion.motion_lib import motion_lib_for_robot

    if isinstance(cfg, (str, Path)):
        cfg = load_env_config(cfg)
    elif isinstance(cfg, dict):
        cfg = env_config_from_mapping(cfg, source or "env config")
    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=int(seed))
    spec = load_robot_spec(cfg.robot)
    check_standing(cfg.termination, spec, cfg.source)
    motion_lib = None
    if cfg.motion_file is not None:
        clips = load_dataset(resolve_dataset(cfg.motion_file, spec.name, cfg.source), spec.joint_names)
        motion_lib = motion_lib_for_robot(spec, clips, device=torch.device(device))
    if engine_factory is None:
        from awd.engine import make_engine

        engine_factory = partial(make_engine, "mujoco")
    engine = engine_factory(spec, num_envs, device, tracked_bodies=default_tracked_bodies(spec))
    return make_task(task or cfg.task, cfg, engine, motion_lib, spec)
