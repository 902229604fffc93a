"""Coverage (awd.style.coverage): the command range ends that no clip reaches and the clip joint angles beyond the
policy's reach are named, the others not."""

from pathlib import Path

import numpy as np

from awd.motion.clip import load_clip
from awd.style.coverage import clip_velocities, coverage_lines, joints_out_of_reach, uncovered_ends
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


def test_joints_the_clips_take_further_than_the_action_scale_are_named_furthest_first():
    from types import SimpleNamespace

    spec = SimpleNamespace(joint_names=("hip", "knee", "ankle"), default_joint_pos=np.array([0.0, 0.5, 0.0]),
                           joint_action_scale=np.array([0.25, 0.25, 0.5]))
    frames = np.zeros((200, 3))
    frames[:, 0] = np.linspace(-0.2, 0.2, 200)  # within reach
    frames[:, 1] = 0.5 + np.linspace(0.0, 0.6, 200)  # the knee bends 0.6 past its default
    frames[:, 2] = np.linspace(-0.45, 0.3, 200)
    assert joints_out_of_reach([SimpleNamespace(joint_pos=frames)], spec) == ["knee 0.59 rad (scale 0.25)"]


def test_a_run_of_the_g1_names_its_shoulders_and_the_ducks_nothing_out_of_reach():
    from awd.run import build_run_config, parse_args

    for robot in ("g1", "g1_23dof"):
        g1 = coverage_lines(build_run_config(*parse_args(["--task", "G1AMP", "--headless", f"env.robot={robot}"])))
        assert len(g1) == 1 and "right_shoulder_pitch_joint 0.56 rad (scale 0.50)" in g1[0] and "knee" not in g1[0]
    duck = coverage_lines(build_run_config(*parse_args(["--task", "DucklingCommand", "--headless"])))
    assert len(duck) == 1 and duck[0].startswith("commands beyond every clip")


def test_a_gait_clock_off_the_clips_stride_is_named():
    from awd.run import build_run_config, parse_args

    def lines(period):
        overrides = [f"env.commands.gait_period_s={period}", "env.rewards.gait_contact.weight=1"] if period else []
        return coverage_lines(build_run_config(*parse_args(["--task", "DucklingCommand", "--headless", *overrides])))

    assert lines(0.43) == lines(None)  # the duck's clips step every 0.43 s
    (clock,) = [line for line in lines(1.05) if "gait clock" in line]
    assert "period 1.05 s is off the clips' stride 0.43 s" in clock and "env.commands.gait_period_s" in clock
