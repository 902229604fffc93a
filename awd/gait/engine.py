"""The walk engine: Placo's walk-pattern generator (LIPM/ZMP CoM planning over repetitive footsteps) tracked
by whole-body IK, sampled at an exact frame rate into a `Clip`.

Timeline of one clip (t = 0 is when the robot, standing in its initial pose, starts walking):
- warm-up (default): the engine runs the start of the walk (the starting double support and two full gait
  periods) without recording, then keeps going to the start of the next left-foot single-support phase,
  t0. Frame i of the clip is the state at t0 + i / fps: the clip starts in a steady walk at a fixed phase.
- `skip_warmup=True`: no warm-up; frame 0 is the standing initial pose at t = 0 and the clip contains the
  walk starting from rest (the acceleration over the first steps included).
- `stand=True`: the initial standing pose held for the whole clip (both feet in contact, zero velocities).
The recorded motion is moved on the floor (rotation about z and translation) so that frame 0 has its root
at x = y = 0 and a heading (yaw) of 0.
"""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import placo
from scipy.spatial.transform import Rotation

from awd.gait.measure import measure_velocities
from awd.gait.params import PLACO_KEYS, WalkParams
from awd.motion.clip import Clip, clip_from_positions
from awd.robot.spec import RobotSpec
from awd.robot.urdf import PLACO_FRAMES

GENERATOR_VERSION = "1.0"
MAX_IK_DT = 0.01  # seconds between IK solves (the frame interval is split into equal substeps)
PLANNED_STEPS = 5  # footsteps planned ahead by the repetitive planner
WARMUP_PERIODS = 2


@dataclass
class WalkCommand:
    """Per-step displacement requested from the footstep planner (metres, metres, radians)."""

    dx: float = 0.0
    dy: float = 0.0
    dtheta: float = 0.0


@dataclass
class Recording:
    """A generated clip and what the engine knows about it beyond the clip itself."""

    clip: Clip
    com_pos: np.ndarray  # (T, 3) centre of mass, same world frame as the clip
    foot_tracking_error: float  # max distance between planned and IK foot positions (m)
    ik_solves: int
    replans: int
    seconds: float
    stats: dict = field(default_factory=dict)


@contextmanager
def _quiet_stdio():
    """Silence C++ prints on file descriptors 1 and 2 (Placo warns about missing camera frames)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def placo_parameters(params: WalkParams) -> placo.HumanoidParameters:
    """HumanoidParameters from our validated parameters (trunk pitch degrees -> radians)."""
    parameters = placo.HumanoidParameters()
    for key in PLACO_KEYS:
        setattr(parameters, key, params[key])
    parameters.walk_trunk_pitch = math.radians(params["walk_trunk_pitch"])
    parameters.foot_width = params["foot_width"]
    return parameters


def gait_period(params: WalkParams) -> float:
    """Duration of one gait cycle (two steps): 2 single supports + 2 double supports, as Placo discretises them."""
    parameters = placo_parameters(params)
    return 2.0 * parameters.single_support_duration + 2.0 * parameters.double_support_duration()


class WalkEngine:
    """One robot loaded in Placo; `generate` produces a clip per command. Reusable across clips."""

    def __init__(self, spec: RobotSpec, params: WalkParams):
        if spec.urdf_path is None:
            raise ValueError(f"{spec.spec_path}: the gait generator needs a URDF (key 'urdf' of the robot spec)")
        self.spec = spec
        self.params = params
        self.parameters = placo_parameters(params)
        self.robot = self._load_robot()
        self.trunk_frame, *self.foot_frames = PLACO_FRAMES
        self.period = gait_period(params)

    # ------------------------------------------------------------------------------------------ setup

    def _load_robot(self) -> placo.HumanoidRobot:
        with _quiet_stdio():
            return placo.HumanoidRobot(str(self.spec.urdf_path))

    def _reset(self, ik_dt: float) -> None:
        """Default joint pose, fresh solver and tasks, then Placo's initial standing pose."""
        robot = self.robot = self._load_robot()  # fresh (a few ms): no state carried over between clips
        robot.set_T_world_fbase(np.eye(4))
        for name, value in zip(self.spec.joint_names, self.spec.default_joint_pos):
            robot.set_joint(name, float(value))
        for name, value in self.params.joint_angles.items():
            robot.set_joint(name, value)
        robot.update_kinematics()
        solver = placo.KinematicsSolver(robot)
        solver.enable_velocity_limits(True)
        solver.enable_joint_limits(True)
        solver.dt = ik_dt
        tasks = placo.WalkTasks()
        tasks.trunk_mode = bool(self.params["trunk_mode"])
        tasks.initialize_tasks(solver, robot)
        if self.params["foot_roll_free"]:
            # A leg without ankle roll (the duck): let the sole roll so lateral foot placement stays reachable.
            tasks.left_foot_task.orientation().mask.set_axises("yz", "local")
            tasks.right_foot_task.orientation().mask.set_axises("yz", "local")
        self.joints_task = None
        if self.params.joint_angles:
            self.joints_task = solver.add_joints_task()
            self.joints_task.set_joints(dict(self.params.joint_angles))
            self.joints_task.configure("joints", "soft", 1.0)
        p = self.parameters
        tasks.reach_initial_pose(np.eye(4), p.feet_spacing, p.walk_com_height, p.walk_trunk_pitch)
        self.solver, self.tasks = solver, tasks
        self.ik_solves = 0
        self.replans = 0

    def _start_walk(self, command: WalkCommand) -> None:
        p = self.parameters
        self.walk = placo.WalkPatternGenerator(self.robot, p)
        self.planner = placo.FootstepsPlannerRepetitive(p)
        self.planner.configure(command.dx, command.dy, command.dtheta, PLANNED_STEPS)
        footsteps = self.planner.plan(placo.HumanoidRobot_Side.left,
                                      placo.flatten_on_floor(self.robot.get_T_world_left()),
                                      placo.flatten_on_floor(self.robot.get_T_world_right()))
        supports = placo.FootstepsPlanner.make_supports(footsteps, 0.0, True, p.has_double_support(), True)
        self.trajectory = self.walk.plan(supports, self.robot.com_world(), 0.0)
        self.t = 0.0
        self.last_replan = 0.0
        self.foot_error = 0.0

    # ------------------------------------------------------------------------------------------- time

    def _advance(self, target: float, max_dt: float) -> None:
        """IK steps of at most `max_dt` until the engine time reaches `target` exactly."""
        replan_interval = self.params["replan_timesteps"] * self.parameters.dt()
        while self.t < target - 1e-12:
            steps = max(1, math.ceil((target - self.t) / max_dt - 1e-9))
            step = (target - self.t) / steps
            self.t = self.t + step if steps > 1 else target
            self.solver.dt = step
            self.tasks.update_tasks_from_trajectory(self.trajectory, self.t)
            if self.params.arm_swing_joints:
                self._swing_arms(self.t)
            self.robot.update_kinematics()
            self.solver.solve(True)
            self.ik_solves += 1
            if self.t - self.last_replan > replan_interval and self.walk.can_replan_supports(self.trajectory, self.t):
                supports = self.walk.replan_supports(self.planner, self.trajectory, self.t, self.last_replan)
                self.trajectory = self.walk.replan(supports, self.trajectory, self.t)
                self.last_replan = self.t
                self.replans += 1
        self.robot.update_kinematics()

    def _swing_arms(self, t: float) -> None:
        """Shoulder targets against the legs: an arm swings forward (negative pitch) as the opposite foot moves
        ahead, by `arm_swing_gain` rad per metre of fore-aft foot separation along the trunk's x axis."""
        left, right = self.params.arm_swing_joints
        separation = self.trajectory.get_T_world_left(t)[:3, 3] - self.trajectory.get_T_world_right(t)[:3, 3]
        left_ahead = float(self.robot.get_T_world_frame(self.trunk_frame)[:3, 0] @ separation)
        swing = self.params["arm_swing_gain"] * left_ahead
        angles = self.params.joint_angles
        self.joints_task.set_joints({**angles, left: angles[left] + swing, right: angles[right] - swing})

    def _next_left_support_start(self, after: float) -> float:
        """Start time of the first single-support phase on the left foot beginning at or after `after`."""
        for support in self.trajectory.get_supports():
            if (support.t_start >= after - 1e-9 and not support.is_both()
                    and support.side() == placo.HumanoidRobot_Side.left):
                return float(support.t_start)
        raise RuntimeError(f"no left single-support phase planned after t = {after:.3f} s")

    def _contacts(self, t: float) -> tuple[float, float]:
        if self.trajectory.support_is_both(t):
            return 1.0, 1.0
        left = self.trajectory.support_side(t) == placo.HumanoidRobot_Side.left
        return (1.0, 0.0) if left else (0.0, 1.0)

    # -------------------------------------------------------------------------------------- recording

    def _sample(self, t: float | None) -> dict:
        robot = self.robot
        root = robot.get_T_world_frame(self.spec.root_body)
        feet = [robot.get_T_world_frame(frame)[:3, 3] for frame in self.foot_frames]
        if t is not None:
            planned = (self.trajectory.get_T_world_left(t)[:3, 3], self.trajectory.get_T_world_right(t)[:3, 3])
            error = max(np.linalg.norm(feet[0] - planned[0]), np.linalg.norm(feet[1] - planned[1]))
            self.foot_error = max(self.foot_error, float(error))
        return {
            "root_pos": root[:3, 3].copy(),
            "root_rot": root[:3, :3].copy(),
            "joint_pos": [robot.get_joint(name) for name in self.spec.joint_names],
            "foot_pos": np.array(feet),
            "com": np.array(robot.com_world()),
            "contacts": self._contacts(t) if t is not None else (1.0, 1.0),
        }

    def generate(self, command: WalkCommand, length: float, fps: float, stand: bool = False,
                 skip_warmup: bool = False) -> Recording:
        """Generate one clip of `length` seconds (frames at exactly i / fps, i = 0 .. round(length * fps))."""
        started = time.perf_counter()
        frame_dt = 1.0 / fps
        substeps = max(1, math.ceil(frame_dt / MAX_IK_DT - 1e-9))
        num_frames = int(round(length * fps)) + 1
        self._reset(frame_dt / substeps)
        t0 = 0.0
        if stand:
            sample = self._sample(None)
            samples = [sample] * num_frames
        else:
            self._start_walk(command)
            if not skip_warmup:
                warmup = self.parameters.startend_double_support_duration() + WARMUP_PERIODS * self.period
                self._advance(warmup, frame_dt / substeps)
                t0 = self._next_left_support_start(warmup)
                self._advance(t0, frame_dt / substeps)
            samples = []
            for index in range(num_frames):
                t = t0 + index * frame_dt
                self._advance(t, frame_dt / substeps)
                samples.append(self._sample(t))
        clip, com = self._to_clip(samples, fps, command, stand, skip_warmup, t0, substeps)
        seconds = time.perf_counter() - started
        return Recording(clip=clip, com_pos=com, foot_tracking_error=self.foot_error if not stand else 0.0,
                         ik_solves=self.ik_solves, replans=self.replans, seconds=seconds,
                         stats={"substeps_per_frame": substeps, "t0": t0})

    def _to_clip(self, samples, fps, command, stand, skip_warmup, t0, substeps):
        root_pos = np.array([s["root_pos"] for s in samples])
        rotations = np.array([s["root_rot"] for s in samples])
        foot_pos = np.array([s["foot_pos"] for s in samples])
        com = np.array([s["com"] for s in samples])
        # Move the motion on the floor: frame 0 at x = y = 0 with zero heading.
        heading = math.atan2(rotations[0][1, 0], rotations[0][0, 0])
        cos, sin = math.cos(-heading), math.sin(-heading)
        yaw_inverse = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        offset = np.array([root_pos[0, 0], root_pos[0, 1], 0.0])
        root_pos = (root_pos - offset) @ yaw_inverse.T
        foot_pos = (foot_pos - offset) @ yaw_inverse.T
        com = (com - offset) @ yaw_inverse.T
        root_quat = Rotation.from_matrix(yaw_inverse @ rotations).as_quat()  # x, y, z, w
        root_quat *= np.where(root_quat[:, 3:4] < 0, -1.0, 1.0)
        joint_pos = np.array([s["joint_pos"] for s in samples])
        contacts = np.array([s["contacts"] for s in samples])

        clip = clip_from_positions(fps, self.spec.joint_names, root_pos, root_quat, joint_pos, foot_pos, contacts,
                                   robot=self.spec.name, loop_mode="Wrap")
        measured = measure_velocities(clip, self.period)
        placo_block = self.params.to_metadata()
        placo_block.update(
            dx=command.dx, dy=command.dy, dtheta=command.dtheta, period=self.period,
            duration=clip.duration, preset_name=self.params.preset_name,
            avg_x_lin_vel=measured["vx"], avg_y_lin_vel=measured["vy"], avg_yaw_vel=measured["wz"],
        )
        clip.metadata = {
            "Placo": placo_block,
            "Generator": {
                "name": "awd.gait", "version": GENERATOR_VERSION, "placo_version": _placo_version(),
                "stand": stand, "skip_warmup": skip_warmup, "t0": round(t0, 9), "fps": fps,
                "ik_substeps_per_frame": substeps, "requested": {"dx": command.dx, "dy": command.dy,
                                                                 "dtheta": command.dtheta},
                "expected_velocity": expected_velocity(command, self.period, stand),
                "measured_velocity": measured,
                "velocity_frame": "heading frame (world rotated by the root yaw), mean over whole gait periods",
            },
        }
        return clip, com


def expected_velocity(command: WalkCommand, period: float, stand: bool = False) -> dict:
    """Nominal velocities of a steady walk: two steps per period, v = 2 d / period (heading frame)."""
    if stand:
        return {"vx": 0.0, "vy": 0.0, "wz": 0.0}
    return {"vx": 2 * command.dx / period, "vy": 2 * command.dy / period, "wz": 2 * command.dtheta / period}


def _placo_version() -> str:
    try:
        from importlib.metadata import version
        return version("placo")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "unknown"
