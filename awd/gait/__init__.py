"""The Placo walk-pattern generator (library side): walk parameters, the walk engine that turns a per-step
displacement command into a motion clip, measurements on clips and batch generation. The command-line tool
is gait_gen/auto_gait_generator.py; docs/gait_generator.md describes both."""

from awd.gait.engine import GENERATOR_VERSION, Recording, WalkCommand, WalkEngine, expected_velocity, gait_period
from awd.gait.measure import heading_frame_velocity, measure_velocities, root_yaw
from awd.gait.params import WalkParams, load_walk_params

__all__ = [
    "GENERATOR_VERSION", "Recording", "WalkCommand", "WalkEngine", "WalkParams", "expected_velocity",
    "gait_period", "heading_frame_velocity", "load_walk_params", "measure_velocities", "root_yaw",
]
