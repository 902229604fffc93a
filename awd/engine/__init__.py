"""Physics engines behind one interface (awd.engine.base.Engine): CPU MuJoCo (`mujoco`) and MuJoCo Warp
(`mujoco_warp`, GPU)."""

from __future__ import annotations

from typing import Sequence

from awd.engine.base import Engine, default_tracked_bodies
from awd.errors import AwdError
from awd.robot.spec import RobotSpec

ENGINES = ("mujoco", "mujoco_warp")


def make_engine(name: str, spec: RobotSpec, num_envs: int, device: str = "cpu",
                tracked_bodies: Sequence[str] | None = None, **options) -> Engine:
    """Build the engine called `name` (one of ENGINES)."""
    if name == "mujoco":
        from awd.engine.mujoco_cpu import MujocoCpuEngine
        return MujocoCpuEngine(spec, num_envs, device, tracked_bodies, **options)
    if name == "mujoco_warp":
        from awd.engine.mujoco_warp import MujocoWarpEngine
        return MujocoWarpEngine(spec, num_envs, device, tracked_bodies, **options)
    raise AwdError(None, "engine", f"unknown engine {name!r}: expected one of {list(ENGINES)}")


__all__ = ["ENGINES", "Engine", "default_tracked_bodies", "make_engine"]
