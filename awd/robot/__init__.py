"""Robot descriptions: the robot spec (joint order, gains, bodies) and the MuJoCo model built from it."""

from awd.robot.spec import RobotSpec, load_robot_spec

__all__ = ["RobotSpec", "load_robot_spec"]
