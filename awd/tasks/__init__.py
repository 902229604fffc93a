"""Duckling tasks (and the G1 humanoid's, the same classes under G1 names): typed env configs (config.py), AMP features
(amp_features.py), reward terms (rewards.py), foot bookkeeping (feet.py), the base env (duckling.py), the
concrete tasks (tasks.py) and the motion tracker (tracking.py). Tasks talk to an `Engine` and a `MotionLib`, never
to a simulator; `build_env` (factory.py) wires a config file to a spec, a motion library and an engine."""

from awd.tasks.config import EnvConfig, env_config_from_mapping, load_env_config
from awd.tasks.duckling import DucklingTask
from awd.tasks.factory import build_env, make_task, resolve_motion_path
from awd.tasks.registry import TASKS
from awd.tasks.tasks import G1AMP, DucklingAMP, DucklingCommand, DucklingStand, DucklingViewMotion, G1Command
from awd.tasks.tracking import DucklingTrack, G1Track
from awd.tasks import gait_pose, motion_match  # noqa: F401  (register the gait_pose and motion_match reward terms)

__all__ = [
    "EnvConfig", "env_config_from_mapping", "load_env_config", "DucklingTask", "build_env",
    "make_task", "resolve_motion_path", "TASKS", "DucklingAMP", "DucklingCommand", "DucklingStand",
    "DucklingViewMotion", "DucklingTrack", "G1AMP", "G1Command", "G1Track",
]
