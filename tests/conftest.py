"""Fixtures shared by the task tests: the mini_bdx spec and a two-clip motion library."""

import pytest

from awd.robot import load_robot_spec
from awd.robot.kinematics import motion_lib_for_robot


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.fixture(scope="module")
def motion_lib(spec):
    from test_tasks import make_clip

    return motion_lib_for_robot(spec, [make_clip(spec), make_clip(spec, speed=-0.1, yaw_rate=-0.3)])
