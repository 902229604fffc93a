"""Command coverage (awd.style.coverage): the command range ends that no clip reaches are named, the others not."""

from pathlib import Path

import numpy as np

from awd.motion.clip import load_clip
from awd.style.coverage import clip_velocities, uncovered_ends
from awd.robot import load_robot_spec

ROOT = Path(__file__).resolve().parent.parent
RANGES = {"lin_vel_x": [-0.15, 0.25], "lin_vel_y": [-0.12, 0.12], "ang_vel_z": [-0.8, 0.8]}


def test_only_the_ends_past_the_fastest_clip_are_named():
    velocities = np.array([[0.26, 0.0, 0.0], [-0.15, 0.0, 0.0], [0.0, 0.115, 0.0], [0.0, -0.125, 0.0],
                           [0.0, 0.0, 1.08], [0.0, 0.0, -0.5]])
    names = ["fwd", "back", "left", "right", "turn_left", "turn_right"]
    ends = uncovered_ends(RANGES, velocities, names)
    assert ends == ["lin_vel_y +0.120 m/s (fastest clip +0.115, left)",
                    "ang_vel_z -0.800 rad/s (fastest clip -0.500, turn_right)"]


def test_a_zero_end_and_a_range_inside_the_clips_are_covered():
    velocities = np.array([[0.3, 0.2, 1.0], [-0.2, -0.2, -1.0]])
    assert uncovered_ends({**RANGES, "lin_vel_x": [0.0, 0.25]}, velocities, ["a", "b"]) == []


def test_clip_velocity_is_its_mean_in_the_heading_frame():
    spec = load_robot_spec("mini_bdx")
    clip = load_clip(ROOT / "awd/data/motions/mini_bdx/forward_medium.json", spec.joint_names)
    vx, vy, wz = clip_velocities([clip])[0]
    assert abs(vx - 0.185) < 0.005 and abs(vy) < 0.005 and abs(wz) < 0.01
