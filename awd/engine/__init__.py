"""Physics engines behind one interface (awd.engine.base.Engine): CPU MuJoCo (`mujoco`) and MuJoCo Warp
(`mujoco_warp`, GPU). `ENGINES` is the one engine registry: an engine is a module with an Engine class and one
entry here, which every entry point reads (choices, defaults, the package it needs)."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Sequence

from awd.engine.base import Engine, default_tracked_bodies
from awd.errors import AwdError
from awd.robot.spec import RobotSpec



@dataclass(frozen=True)
class EngineEntry:
    engine_class: str  # "module:Class", imported when the engine is built
    package: str  # the Python package it needs
    install_hint: str  # how to get that package
    default_num_envs: int
    accelerator: bool  # simulates on a GPU ("cuda:0" by default)

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None


ENGINES: dict[str, EngineEntry] = {
    "mujoco": EngineEntry("awd.engine.mujoco_cpu:MujocoCpuEngine", "mujoco", "pip install mujoco", 64, False),
    "mujoco_warp": EngineEntry("awd.engine.mujoco_warp:MujocoWarpEngine", "mujoco_warp", 'pip install -e ".[gpu]"',
                               8192, True),
}


def engine_entry(name: str) -> EngineEntry:
    if name not in ENGINES:
        raise AwdError(None, "engine", f"unknown engine {name!r}: expected one of {list(ENGINES)}")
    return ENGINES[name]


def make_engine(name: str, spec: RobotSpec, num_envs: int, device: str = "cpu",
                tracked_bodies: Sequence[str] | None = None, **options) -> Engine:
    """Build the engine called `name` (a key of ENGINES)."""
    module, cls = engine_entry(name).engine_class.split(":")
    return getattr(importlib.import_module(module), cls)(spec, num_envs, device, tracked_bodies, **options)


__all__ = ["ENGINES", "Engine", "EngineEntry", "default_tracked_bodies", "engine_entry", "make_engine"]
