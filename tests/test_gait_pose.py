"""The gait_pose reward: the moved joints follow the command's nearest clip at the gait clock's phase."""

import shutil
from types import SimpleNamespace

import pytest
import torch

from awd import DATA_DIR
from awd.tasks.gait_pose import gait_pose
from awd.utils.io import read_yaml

CLIPS = ("forward_medium", "in_place", "right_fast", "standing")  # loaded in this (file name) order
STRIDES = {0: 0, 2: 1}  # clip -> its stride in the table (in_place and standing walk no stride)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from awd.tasks import build_env

    folder = tmp_path_factory.mktemp("clips")
    for name in CLIPS:
        shutil.copy(DATA_DIR / "motions" / "g1" / f"{name}.json", folder)
    mapping = read_yaml(DATA_DIR / "cfg" / "g1" / "g1_command.yaml")["env"]
    mapping = {**mapping, "motion_file": str(folder), "init": {"mode": "Default"},
               "rewards": {"gait_pose": {"weight": 1.0, "std": 0.1}}}
    return build_env(mapping, 2, seed=0)


def clip_pose(env, clip: int, times):
    """The clip's joints at `times`, the clock's phase there and the clip's own mean velocity."""
    lib, clock = env.motion_lib, env.gait_clock
    ids = torch.full((len(times),), clip)
    times = torch.as_tensor(times, dtype=torch.float64)
    phase = clock.clip_offsets(ids, times).to(env.dtype)
    velocity = env.gait_poses.velocities[STRIDES[clip]] / env.gait_poses.scale
    return lib.get_state(ids, times).joint_pos.to(env.dtype), phase, velocity.expand(len(times), 3)


def reward(env, joint_pos, commands, phase, per_joint=0.0):
    env.gait_clock.offset[:] = phase
    env.progress[:] = 0
    inputs = SimpleNamespace(task=env, joint_pos=joint_pos, commands=commands)
    return gait_pose(inputs, {"std": 0.1, "radius": 0.5, "per_joint": per_joint})


def test_walking_clips_are_followed_and_the_others_left_out(env):
    assert env.gait_poses.poses.shape[:2] == (2, 53)  # forward_medium and right_fast, 1.05 s / 0.02 s samples
    pose, phase, velocity = clip_pose(env, 2, [2.2, 2.9])  # right_fast, in its middle stride
    torch.testing.assert_close(env.gait_poses.reference(velocity, phase)[0], pose, atol=0.01, rtol=0)
    earlier, phase, _ = clip_pose(env, 2, [1.15, 1.85])  # a stride before: the clock's phase repeats its pose
    torch.testing.assert_close(env.gait_poses.reference(velocity, phase)[0], earlier, atol=0.03, rtol=0)


def test_the_nearest_clip_leads_and_the_zero_command_stands(env):
    poses = env.gait_poses
    phase = torch.tensor([0.3, 0.3])
    beyond, distance = poses.reference(torch.tensor([[0.0, -0.6, 0.0], [0.25, 0.0, 0.0]]), phase)
    torch.testing.assert_close(beyond[0], poses.reference(poses.velocities[1:2] / poses.scale, phase[:1])[0][0])
    torch.testing.assert_close(beyond[1], poses.reference(poses.velocities[0:1] / poses.scale, phase[:1])[0][0])
    assert bool((distance > 0).all())
    standing, distance = poses.reference(torch.zeros(2, 3), phase)
    assert distance.tolist() == [0.0, 0.0]
    still = env.motion_lib.get_state(torch.tensor([3]), torch.tensor([1.0], dtype=torch.float64)).joint_pos
    torch.testing.assert_close(standing, still.to(env.dtype).expand(2, -1), atol=1e-4, rtol=0)


def test_the_clips_own_stride_earns_one_the_default_pose_less_and_held_joints_do_not_count(env):
    pose, phase, velocity = clip_pose(env, 0, [2.0, 2.4])  # forward_medium
    torch.testing.assert_close(reward(env, pose, velocity, phase), torch.ones(2), atol=0.02, rtol=0)
    still = env.default_joint_pos.expand(2, -1)
    assert bool((reward(env, still, velocity, phase) < 0.8).all())
    arms_out = pose + 0.5 * env.held_joints.to(pose.dtype)  # waist, arms but shoulder pitch, wrists
    torch.testing.assert_close(reward(env, arms_out, velocity, phase), reward(env, pose, velocity, phase))
    swung = pose.clone()
    swung[:, env.spec.joint_names.index("left_shoulder_pitch_joint")] += 0.3
    assert bool((reward(env, swung, velocity, phase) < 0.95).all())
    turning = velocity + torch.tensor([0.0, 0.0, 0.6])  # far from both clips: the pose hardly counts
    assert bool((reward(env, still, turning, phase) > 0.99).all())
    nearby = velocity + torch.tensor([0.02, 0.0, 0.0])  # near forward_medium: counts almost fully
    assert bool((reward(env, still, nearby, phase) < 0.85).all())


def test_per_joint_weighs_a_joint_the_clips_swing_little_more_than_a_wide_swinging_one(env):
    pose, phase, velocity = clip_pose(env, 0, [2.0, 2.4])  # forward_medium
    names = env.spec.joint_names
    moved = env.gait_poses.moved.tolist()
    weights = dict(zip((names[i] for i in moved), env.gait_poses.joint_weights.tolist()))
    assert weights["left_hip_roll_joint"] > 1.0 > weights["left_knee_joint"]
    rewards = {}
    for joint in ("left_hip_roll_joint", "left_knee_joint"):
        off = pose.clone()
        off[:, names.index(joint)] += 0.1
        rewards[joint] = [reward(env, off, velocity, phase, per_joint) for per_joint in (0.0, 1.0)]
    roll, knee = rewards["left_hip_roll_joint"], rewards["left_knee_joint"]
    torch.testing.assert_close(roll[0], knee[0], atol=0.01, rtol=0)  # in radians alike
    assert bool((roll[1] < knee[1]).all())  # per joint: off the hip roll by 0.1 costs more than off the knee
    torch.testing.assert_close(reward(env, pose, velocity, phase, 1.0), torch.ones(2), atol=0.02, rtol=0)


def test_a_clock_off_the_clips_stride_is_refused_by_name(tmp_path):
    from awd.errors import AwdError
    from awd.tasks import build_env

    shutil.copy(DATA_DIR / "motions" / "g1" / "forward_medium.json", tmp_path)
    mapping = read_yaml(DATA_DIR / "cfg" / "g1" / "g1_command.yaml")["env"]
    mapping = {**mapping, "motion_file": str(tmp_path), "init": {"mode": "Default"},
               "commands": {**mapping["commands"], "gait_period_s": 0.8}, "rewards": {"gait_pose": {"weight": 1.0}}}
    with pytest.raises(AwdError, match=r"env.commands.gait_period_s: .*\(0.8 s\), but clip 0 .* strides every 1.04"):
        build_env(mapping, 1, seed=0)


def test_a_task_without_a_clock_names_the_term():
    from awd.errors import AwdError
    from awd.tasks import build_env

    mapping = read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml")["env"]
    mapping = {**mapping, "init": {"mode": "Default"}, "rewards": {"gait_pose": {"weight": 1.0}}}
    with pytest.raises(AwdError, match="env.rewards.gait_pose: reads the gait clock"):
        build_env(mapping, 1, seed=0)


def test_judging_envs_build_without_clips_and_switch_it_off():
    from awd.loader import policy_env

    mapping = read_yaml(DATA_DIR / "cfg" / "g1" / "g1_command.yaml")["env"]
    mapping["rewards"] = {**mapping["rewards"], "gait_pose": {"weight": 3.0, "std": 0.1}}
    judged = policy_env("G1Command", mapping, "g1_command.yaml")
    assert judged.motion_lib is None and judged.cfg.rewards["gait_pose"].weight == 0.0
    assert not hasattr(judged, "gait_poses")
