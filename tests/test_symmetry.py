"""Left/right mirror derived from the MJCF (awd.robot.mirror), the observation mirror of the task's terms, and the
actor's symmetry loss (awd.learning.symmetry)."""

from __future__ import annotations

from types import SimpleNamespace

import mujoco
import numpy as np
import pytest
import torch
from test_learning_train import scalars
from test_run import _train
from test_tasks import make_env, motion_lib, spec  # noqa: F401 (fixtures)

from awd.errors import AwdError
from awd.learning.network import AMPActorCritic, DeployedActor, InPlaceRunningMeanStd
from awd.export import export_checkpoint
from awd.learning.symmetry import SymmetryLoss, actor_mirror, mirror_maps
from awd.loader import load_policy
from awd.robot.mirror import counterpart_name, joint_mirror
from awd.robot.spec import load_robot_spec

REFLECT = np.array([1.0, -1.0, 1.0])


def test_counterpart_names():
    assert counterpart_name("left_hip_yaw") == "right_hip_yaw"
    assert counterpart_name("right_shoulder_roll_joint") == "left_shoulder_roll_joint"
    assert counterpart_name("L_knee") == "R_knee" and counterpart_name("FR_calf") == "FR_calf"
    assert counterpart_name("neck_pitch") == "neck_pitch"


def _feet_in_trunk_frame(robot, joint_pos):
    model = mujoco.MjModel.from_xml_path(str(robot.mjcf_path))
    data = mujoco.MjData(model)
    for name, angle in zip(robot.joint_names, joint_pos):
        data.qpos[model.joint(name).qposadr[0]] = angle
    mujoco.mj_kinematics(model, data)
    trunk = model.body(robot.trunk_body).id
    return [data.xmat[trunk].reshape(3, 3).T @ (data.xpos[model.body(b).id] - data.xpos[trunk])
            for b in robot.foot_bodies]


@pytest.mark.parametrize("robot_name", ["mini_bdx", "g1"])
def test_the_mirrored_pose_puts_each_foot_where_the_reflected_other_foot_was(robot_name):
    robot = load_robot_spec(robot_name)
    mirror = joint_mirror(robot)
    rng = np.random.default_rng(0)
    pose = robot.default_joint_pos + rng.uniform(-0.3, 0.3, robot.num_joints)
    mirrored = robot.default_joint_pos + mirror.apply(pose - robot.default_joint_pos)
    left, right = _feet_in_trunk_frame(robot, pose)
    mirrored_left, mirrored_right = _feet_in_trunk_frame(robot, mirrored)
    assert np.abs(left - right).max() > 0.01   # an asymmetric pose, so the check means something
    np.testing.assert_allclose(mirrored_left, REFLECT * right, atol=1e-6)
    np.testing.assert_allclose(mirrored_right, REFLECT * left, atol=1e-6)


TWO_LEGS = """<mujoco><worldbody><body name="trunk"><freejoint/><geom size="0.1"/>
  <body name="left_leg" pos="0 0.1 0"><joint name="left_hip" axis="{left}"/><geom size="0.05"/></body>
  <body name="right_leg" pos="0 -0.1 0"><joint name="right_hip" axis="{right}"/><geom size="0.05"/></body>
  <body name="tail" pos="-0.1 0 0"><joint name="tail_yaw" axis="0 0 1"/><geom size="0.05"/></body>
</body></worldbody></mujoco>"""


def _two_legs(tmp_path, left, right, names=("left_hip", "right_hip", "tail_yaw")):
    path = tmp_path / "robot.xml"
    path.write_text(TWO_LEGS.format(left=left, right=right))
    return SimpleNamespace(spec_path=tmp_path / "robot.yaml", mjcf_path=path, joint_names=names,
                           default_joint_pos=np.zeros(len(names)), trunk_body="trunk", init_root_height=0.3,
                           init_root_quat=np.array([0.0, 0.0, 0.0, 1.0]), locked_joints=(),
                           trunk_site=None)


def test_signs_follow_the_axes_and_a_robot_that_is_no_mirror_image_is_refused(tmp_path):
    roll = joint_mirror(_two_legs(tmp_path, "1 0 0", "1 0 0"))
    assert roll.perm.tolist() == [1, 0, 2] and roll.signs.tolist() == [-1.0, -1.0, -1.0]
    flipped_pitch = joint_mirror(_two_legs(tmp_path, "0 1 0", "0 -1 0"))
    assert flipped_pitch.signs.tolist() == [-1.0, -1.0, -1.0]
    with pytest.raises(AwdError, match="joint left_hip: axis is not the mirror image of 'right_hip'"):
        joint_mirror(_two_legs(tmp_path, "1 0 0", "0 1 0"))
    with pytest.raises(AwdError, match="joints.left_hip: no counterpart 'right_hip'"):
        joint_mirror(_two_legs(tmp_path, "1 0 0", "1 0 0", names=("left_hip", "tail_yaw")))


def _mirror_state(engine, task, source: int, target: int, joints) -> None:
    x, y, z, w = engine.root_quat[source]
    engine.root_quat[target] = torch.stack([-x, y, -z, w])
    perm, signs = torch.as_tensor(joints.perm), torch.as_tensor(joints.signs, dtype=torch.float32)
    default = task.default_joint_pos
    engine.joint_pos[target] = default + signs * (engine.joint_pos[source] - default)[perm]
    engine.joint_vel[target] = signs * engine.joint_vel[source][perm]
    task.actions[target] = signs * task.actions[source][perm]
    engine.foot_contacts[target] = engine.foot_contacts[source].flip(0)
    task.commands[target] = task.commands[source] * torch.tensor([1.0, -1.0, -1.0])


def test_the_observation_of_the_mirrored_robot_is_the_mirrored_observation(spec, motion_lib):  # noqa: F811
    task, engine = make_env(spec, motion_lib, num_envs=2, observations={"foot_contacts": True})
    task.reset()
    torch.manual_seed(0)
    engine.root_quat[0] = torch.nn.functional.normalize(torch.tensor([0.1, -0.2, 0.3, 0.9]), dim=0)
    engine.joint_pos[0] = task.default_joint_pos + 0.3 * torch.randn(task.num_actions)
    engine.joint_vel[0] = torch.randn(task.num_actions)
    task.actions[0] = torch.rand(task.num_actions) * 2 - 1
    engine.foot_contacts[0] = torch.tensor([True, False])
    task.commands[0] = torch.tensor([0.2, 0.1, -0.5])
    joints = joint_mirror(spec)
    _mirror_state(engine, task, 0, 1, joints)
    obs = task.compute_observations()
    loss = SymmetryLoss(1.0, task, "cpu")
    assert not torch.allclose(obs[1], obs[0], atol=1e-3)
    torch.testing.assert_close(obs[1], loss.mirror_obs(obs[0]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss.mirror_obs(loss.mirror_obs(obs)), obs)


def test_the_loss_alone_teaches_a_policy_to_act_symmetrically(spec, motion_lib):  # noqa: F811
    task, _ = make_env(spec, motion_lib, num_envs=1)
    torch.manual_seed(0)
    network = AMPActorCritic({"actor": {"units": [32]}}, task.num_obs, task.num_actions, 1, 4)
    torch.nn.init.normal_(network.mu.weight, std=0.3)   # an asymmetric policy to start from
    model = SimpleNamespace(normalize_input=False, a2c_network=network)
    loss_of = SymmetryLoss(1.0, task, "cpu")
    obs = torch.randn(256, task.num_obs)
    optimizer = torch.optim.Adam(network.actor_parameters(), lr=1e-3)
    losses = []
    for _ in range(150):
        loss = loss_of(model, obs, network.mu(network.actor_mlp(obs)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


def test_a_batch_share_reads_every_nth_row_only(spec, motion_lib):  # noqa: F811
    task, _ = make_env(spec, motion_lib, num_envs=1)
    torch.manual_seed(0)
    network = AMPActorCritic({"actor": {"units": [32]}}, task.num_obs, task.num_actions, 1, 4)
    model = SimpleNamespace(normalize_input=False, a2c_network=network)
    obs = torch.randn(64, task.num_obs)
    mu = torch.randn(64, task.num_actions)
    quarter = SymmetryLoss(1.0, task, "cpu", batch_share=0.25)(model, obs, mu)
    full = SymmetryLoss(1.0, task, "cpu")
    torch.testing.assert_close(quarter, full(model, obs[::4], mu[::4]))
    assert not torch.allclose(quarter, full(model, obs, mu))


def test_a_symmetric_actor_gives_the_mirrored_robot_the_mirrored_action(spec, motion_lib):  # noqa: F811
    task, _ = make_env(spec, motion_lib, num_envs=1)
    torch.manual_seed(0)
    params = {"actor": {"units": [32], "symmetric": True}, "log_std": {"learnable": True}}
    network = AMPActorCritic(params, task.num_obs, task.num_actions, 1, 4, actor_mirror(task))
    torch.nn.init.normal_(network.mu.weight, std=0.3)
    torch.nn.init.normal_(network.sigma, std=0.5)
    normalizer = InPlaceRunningMeanStd((task.num_obs,))
    normalizer.mirror_statistics(network.obs_perm, network.obs_signs)
    loss = SymmetryLoss(1.0, task, "cpu")
    normalizer(3.0 * torch.randn(512, task.num_obs) + torch.randn(task.num_obs))   # statistics of no symmetry
    normalizer.eval()
    obs = 3.0 * torch.randn(64, task.num_obs)
    normalized, normalized_mirror = normalizer(obs), normalizer(loss.mirror_obs(obs))
    torch.testing.assert_close(normalized_mirror, loss.mirror_obs(normalized), atol=1e-5, rtol=1e-5)
    mu, log_std, _, _ = network({"obs": normalized})
    mirrored_mu, mirrored_log_std, _, _ = network({"obs": normalized_mirror})
    assert not torch.allclose(mu, loss.mirror_actions(mu), atol=1e-3)   # the actions themselves are not symmetric
    torch.testing.assert_close(mirrored_mu, loss.mirror_actions(mu), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(log_std[..., network.act_perm], log_std)
    deployed = DeployedActor(network, normalizer)
    torch.testing.assert_close(deployed(obs), mu.clamp(-1.0, 1.0), atol=1e-5, rtol=1e-5)
    assert "obs_perm" not in network.state_dict() and "mirror_perm" not in normalizer.state_dict()
    model = SimpleNamespace(normalize_input=True, running_mean_std=normalizer, a2c_network=network)
    assert loss(model, obs, mu).item() == 0.0


def test_a_symmetric_actor_needs_an_env_to_mirror():
    with pytest.raises(AwdError, match="network.actor.symmetric: expected true"):
        AMPActorCritic({"actor": {"symmetric": True}}, 8, 2, 1, 4)
    with pytest.raises(AwdError, match="network.actor.symmetric: .* found 'yes'"):
        AMPActorCritic({"actor": {"symmetric": "yes"}}, 8, 2, 1, 4)


def test_training_with_the_symmetry_loss_logs_it(tmp_path):
    run_dir = _train(tmp_path, 1, "train.params.config.symmetry_coef=1.0")
    (events,) = (run_dir / "summaries").glob("events.*")
    values = scalars(run_dir / "summaries")["losses/symmetry_loss"]
    assert events and values and all(0.0 < v < 1e3 for v in values)


def test_a_trained_symmetric_actor_is_exported_symmetric(tmp_path):
    run_dir = _train(tmp_path / "runs", 1, "train.params.network.actor.symmetric=true")
    checkpoint = run_dir / "nn" / "DucklingCommand.pth"
    _, env, model = load_policy(checkpoint)
    assert model.a2c_network.symmetric and model.running_mean_std.mirrored
    obs_perm, obs_signs, act_perm, act_signs = (torch.as_tensor(m) for m in mirror_maps(env, "test"))
    scripted = torch.jit.load(str(export_checkpoint(checkpoint, tmp_path / "export") / "policy.pt"))
    torch.manual_seed(0)
    obs = torch.randn(32, env.num_obs)
    actions, mirrored = scripted(obs), scripted(obs[:, obs_perm] * obs_signs)
    assert not torch.allclose(actions, actions[:, act_perm] * act_signs, atol=1e-4)
    torch.testing.assert_close(mirrored, actions[:, act_perm] * act_signs, atol=1e-5, rtol=1e-5)
