"""The torque a clip needs (awd.gait.feasibility): a held pose is light, a fast swing exceeds the effort limit
through the rotor inertia, and the gait generator says so; and whether a clip keeps its centre of pressure on the
stance sole (awd.gait.balance)."""

import dataclasses

from pathlib import Path

import numpy as np
import pytest

from awd import DATA_DIR
from awd.gait.feasibility import TorqueModel
from awd.motion.clip import clip_from_positions, load_clip
from awd.robot import load_robot_spec


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.fixture(scope="module")
def standing(spec):
    return load_clip(DATA_DIR / "motions" / "mini_bdx" / "standing.json", spec.joint_names)


def knees_swinging(spec, clip, amplitude: float, hertz: float):
    """The standing clip with both knees oscillating (the trunk and feet positions kept: only torques matter)."""
    t = np.arange(clip.num_frames)[:, None] / clip.fps
    knees = [spec.joint_index(name) for name in ("left_knee", "right_knee")]
    joint_pos = clip.joint_pos.copy()
    joint_pos[:, knees] += amplitude * np.sin(2 * np.pi * hertz * t)
    return clip_from_positions(clip.fps, clip.joint_names, clip.root_pos, clip.root_quat, joint_pos, clip.foot_pos,
                               clip.foot_contacts)


def test_a_held_pose_needs_a_fraction_of_the_effort_limit(spec, standing):
    demand = TorqueModel(spec).demand(standing)
    assert demand.feasible and 0.05 < demand.worst[1] < 0.5 and demand.worst[0].endswith("knee")


def test_a_fast_swing_exceeds_the_limit_through_the_rotor_inertia(spec, standing):
    swing = knees_swinging(spec, standing, 0.3, 4.0)  # armature 0.027 x 0.3 x (8 pi)^2 = 5 N m > 3.6
    demand = TorqueModel(spec).demand(swing)
    assert not demand.feasible and demand.worst[0].endswith("knee") and demand.worst[1] > 1.2
    no_rotor = dataclasses.replace(spec, armature=np.zeros(spec.num_joints))
    assert TorqueModel(no_rotor).demand(swing).share.max() < 0.5 * demand.worst[1]
    assert TorqueModel(spec).demand(knees_swinging(spec, standing, 0.3, 1.0)).feasible


def test_the_gait_generator_reports_each_clips_torque_and_warns(tmp_path, capsys):
    from awd.gait.cli import main

    assert main(["--names", "standing,forward_medium", "-l", "1", "-o", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "torque / limit" in out and "_knee" in out and "CoP out mm" in out
    assert "warning: 1 of 2 clips need more than a joint's effort limit" in err and "forward_medium.json" in err


def test_a_sole_under_the_floor_is_refused_and_a_joint_at_its_limit_reported(spec, standing, tmp_path):
    from awd.errors import AwdError
    from awd.gait.clip_checks import check_soles, joints_at_limits

    check_soles(standing, tmp_path / "standing.json")
    sunk = dataclasses.replace(standing, foot_pos=standing.foot_pos - [0.0, 0.0, 0.004])
    with pytest.raises(AwdError, match=r"sunk.json: foot_pos: the left sole goes 4\.\d mm under the floor at frame 0"):
        check_soles(sunk, tmp_path / "sunk.json")
    assert joints_at_limits(standing, spec.joint_lower, spec.joint_upper) == []
    knee = spec.joint_index("left_knee")
    pinned = standing.joint_pos.copy()
    pinned[: len(pinned) // 4, knee] = spec.joint_upper[knee]
    assert joints_at_limits(dataclasses.replace(standing, joint_pos=pinned), spec.joint_lower,
                            spec.joint_upper) == [("left_knee", pytest.approx(0.25, abs=0.01))]


def test_the_centre_of_pressure_is_where_the_wrench_has_no_horizontal_moment():
    from awd.gait.balance import centre_of_pressure, outside_sole

    weight = np.array([0.0, 0.0, 100.0, 0.0, -5.0, 0.0])  # 100 N up, pitching the foot nose up by 5 N m
    assert centre_of_pressure(weight, np.array([1.0, 2.0, 0.0])) == pytest.approx([1.05, 2.0])
    pushed = np.array([10.0, 0.0, 100.0, 0.0, 0.0, 0.0])  # a forward push at 0.1 m above the floor
    assert centre_of_pressure(pushed, np.array([0.0, 0.0, 0.1])) == pytest.approx([-0.01, 0.0])
    sole = np.array([[-0.09, -0.035], [0.09, 0.035]])
    turned = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # the foot's x along the world's y
    assert outside_sole(np.array([0.0, 0.08]), np.zeros(3), turned, sole) == 0.0
    assert outside_sole(np.array([0.05, 0.0]), np.zeros(3), turned, sole) == pytest.approx(0.015)


def test_g1_steps_of_the_robot_defaults_tip_over_their_sole_the_balanced_presets_and_the_ducks_do_not():
    g1 = load_robot_spec("g1")
    g1_model = TorqueModel(g1)
    assert g1_model.footprints[0].ravel() == pytest.approx([-0.09, -0.035, 0.09, 0.035])
    # stepping in place with the G1's placo_defaults.json (the clips shipped before the twelfth round)
    fast = load_clip(Path(__file__).parent / "data" / "g1_in_place_robot_defaults.json", g1.joint_names)
    assert g1_model.demand(fast).cop_outside > 0.04  # the legs' swing, which a pendulum model leaves out
    balanced = load_clip(DATA_DIR / "motions" / "g1" / "in_place.json", g1.joint_names)
    assert balanced.metadata["Placo"]["preset_name"] == "g1_balanced"
    assert g1_model.demand(balanced).cop_outside < 0.02
    duck = load_robot_spec("mini_bdx")
    duck_stepping = load_clip(DATA_DIR / "motions" / "mini_bdx" / "in_place.json", duck.joint_names)
    assert TorqueModel(duck).demand(duck_stepping).cop_outside < 0.005


def test_the_generator_warns_of_clips_off_balance_once():
    from pathlib import Path

    from awd.gait.batch import ClipResult, balance_warning

    def result(name, outside):
        return ClipResult(Path(name), None, {}, 0.0, 0, ("knee", 0.5), outside, [])

    assert balance_warning([result("a.json", 0.01)]) is None
    line = balance_warning([result("a.json", 0.01), result("b.json", 0.05), result("c.json", 0.03)])
    assert line.startswith("2 of 3 clips put the centre of pressure more than 20 mm outside the stance sole (worst: "
                           "b.json, 50 mm")
