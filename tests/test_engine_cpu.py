"""CPU MuJoCo engine: standing, reset round trip (xyzw, spec joint order), bitwise agreement with a
hand-stepped MjData, contacts, torque limits, invalid flags and domain-randomisation hooks."""

import copy

import mujoco
import numpy as np
import pytest
import torch
import yaml

from awd.engine import make_engine
from awd.engine.mujoco_cpu import MujocoCpuEngine
from awd.errors import AwdError
from awd.robot import load_robot_spec


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


def default_targets(spec, num_envs):
    return torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).expand(num_envs, -1).clone()


def random_state(spec, num_envs, seed=0, height=0.30):
    rng = np.random.default_rng(seed)
    quat = rng.standard_normal((num_envs, 4)) * [0.1, 0.1, 0.3, 1.0]
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    joints = spec.default_joint_pos + rng.uniform(-0.3, 0.3, (num_envs, spec.num_joints))
    joints = np.clip(joints, spec.joint_lower, spec.joint_upper)
    values = dict(root_pos=rng.uniform(-1, 1, (num_envs, 3)) * [1, 1, 0] + [0, 0, height], root_quat=quat,
                  root_lin_vel=rng.uniform(-1, 1, (num_envs, 3)), root_ang_vel=rng.uniform(-2, 2, (num_envs, 3)),
                  joint_pos=joints, joint_vel=rng.uniform(-1, 1, (num_envs, spec.num_joints)))
    return {key: torch.as_tensor(value) for key, value in values.items()}


def test_standing_at_default_pose(spec):
    engine = MujocoCpuEngine(spec, 2)
    assert engine.name == "mujoco" and engine.foot_contacts.all()
    targets = default_targets(spec, 2)
    weight = sum(engine.model.body_mass) * 9.81
    for _ in range(int(round(2.0 / spec.control_dt))):
        engine.step(targets)
        assert not engine.non_foot_ground_contact.any()
        assert engine.foot_contacts.all()
        assert not engine.invalid.any()
    assert torch.allclose(engine.root_pos[:, 2], torch.tensor(spec.init_root_height, dtype=torch.float32), atol=0.01)
    assert engine.foot_contact_forces.sum(1).sub(weight).abs().max() < 0.05 * weight
    assert engine.root_quat[:, 3].min() > 0.995  # PD sag pitches the trunk a few degrees


def test_reset_round_trip_xyzw_and_world_velocities(spec):
    engine = MujocoCpuEngine(spec, 5)
    state = random_state(spec, 3)
    ids = torch.tensor([4, 0, 2])
    engine.reset(ids, **state)
    for key, value in state.items():
        assert torch.allclose(getattr(engine, key)[ids], value.float(), atol=1e-6), key
    for k, i in enumerate(ids.tolist()):
        data = copy.copy(engine._datas[i])
        mujoco.mj_forward(engine.model, data)   # the engine's data has the position stage only
        x, y, z, w = state["root_quat"][k].tolist()
        assert np.allclose(data.qpos[3:7], [w, x, y, z])          # MuJoCo stores wxyz
        velocity = np.zeros(6)
        trunk = engine.model.body(spec.trunk_body).id
        mujoco.mj_objectVelocity(engine.model, data, mujoco.mjtObj.mjOBJ_XBODY, trunk, velocity, 0)
        assert np.allclose(velocity[:3], state["root_ang_vel"][k].numpy())   # world angular velocity
        assert np.allclose(velocity[3:], state["root_lin_vel"][k].numpy())   # world linear velocity
    untouched = engine.root_pos[[1, 3]]
    assert torch.allclose(untouched, torch.tensor([0.0, 0.0, spec.init_root_height]).expand(2, 3))


def test_joint_order_is_spec_order_not_mjcf_order(spec, tmp_path):
    raw = yaml.safe_load(spec.spec_path.read_text())
    raw["mjcf"] = str(spec.mjcf_path)
    raw.pop("urdf"), raw.pop("placo_defaults")
    raw["joints"] = list(reversed(raw["joints"]))[3:] + list(reversed(raw["joints"]))[:3]
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(raw))
    shuffled = load_robot_spec(path)
    assert shuffled.joint_names != spec.joint_names
    engine = MujocoCpuEngine(shuffled, 1)
    pose = np.clip(shuffled.default_joint_pos + np.linspace(-0.3, 0.3, shuffled.num_joints),
                   shuffled.joint_lower, shuffled.joint_upper)      # no two joints share a value
    velocity = np.linspace(-1.0, 1.0, shuffled.num_joints)
    state = random_state(shuffled, 1)
    state["joint_pos"], state["joint_vel"] = torch.as_tensor(pose)[None], torch.as_tensor(velocity)[None]
    engine.reset(torch.tensor([0]), **state)
    data, model = engine._datas[0], engine.model
    for j, name in enumerate(shuffled.joint_names):
        assert data.qpos[model.joint(name).qposadr[0]] == pytest.approx(pose[j])
        assert data.qvel[model.joint(name).dofadr[0]] == pytest.approx(velocity[j])
        assert model.actuator(j).trnid[0] == model.joint(name).id   # target j drives joint j of the spec
    assert np.allclose(engine.joint_pos[0].numpy(), pose, atol=1e-6)
    assert np.allclose(engine.joint_vel[0].numpy(), velocity, atol=1e-6)


@pytest.mark.parametrize("num_threads", [1, 2])
def test_step_equals_hand_stepped_mjdata(spec, num_threads):
    engine = MujocoCpuEngine(spec, 3, num_threads=num_threads)
    state = random_state(spec, 3, seed=1, height=0.25)
    engine.reset(torch.arange(3), **state)
    reference = mujoco.MjData(engine.model)
    reference.qpos[:] = engine._datas[1].qpos
    reference.qvel[:] = engine._datas[1].qvel
    rng = np.random.default_rng(2)
    for _ in range(3):
        targets = spec.default_joint_pos + rng.uniform(-0.4, 0.4, (3, spec.num_joints))
        engine.step(torch.as_tensor(targets))
        reference.ctrl[:] = targets[1]
        for _ in range(spec.decimation):
            mujoco.mj_step(engine.model, reference)
        assert np.array_equal(engine._datas[1].qpos, reference.qpos)
        assert np.array_equal(engine._datas[1].qvel, reference.qvel)
        assert np.array_equal(engine._torques[1], reference.actuator_force)
    mujoco.mj_forward(engine.model, reference)
    feet = [engine.body_index(name) for name in spec.foot_bodies]
    expected = reference.xpos[[engine.model.body(name).id for name in spec.foot_bodies]]
    assert np.allclose(engine.body_pos[1, feet].numpy(), expected, atol=1e-6)
    assert np.allclose(engine.body_pos[1, engine.body_index(spec.trunk_body)].numpy(), reference.qpos[:3], atol=1e-6)


def test_dropped_robot_has_no_foot_contact_until_it_lands(spec):
    engine = MujocoCpuEngine(spec, 1)
    state = random_state(spec, 1, height=1.0)
    state["root_quat"] = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    state["root_lin_vel"].zero_(), state["root_ang_vel"].zero_(), state["joint_vel"].zero_()
    state["joint_pos"] = torch.as_tensor(spec.default_joint_pos)[None]   # soles flat
    engine.reset(torch.tensor([0]), **state)
    feet = [engine.body_index(name) for name in spec.foot_bodies]
    landed_at = None
    for step in range(60):
        airborne = engine.body_pos[0, feet, 2].min() > 0.01
        if airborne:
            assert not engine.foot_contacts.any() and engine.foot_contact_forces.abs().max() == 0
            assert not engine.non_foot_ground_contact.any()
        elif landed_at is None and engine.foot_contacts.any():
            landed_at = step
        engine.step(torch.as_tensor(state["joint_pos"]))
    assert landed_at is not None and landed_at > 15   # about 0.4 s of free fall at 50 Hz


def test_joint_torques_respect_effort_limit(spec):
    engine = MujocoCpuEngine(spec, 4)
    rng = np.random.default_rng(3)
    saturated = 0
    for _ in range(10):
        targets = spec.default_joint_pos + rng.uniform(-3.0, 3.0, (4, spec.num_joints))
        engine.step(torch.as_tensor(targets))
        limit = torch.as_tensor(spec.effort_limit, dtype=torch.float32)
        assert (engine.joint_torques.abs() <= limit + 1e-5).all()
        saturated += int((engine.joint_torques.abs() > limit - 1e-4).sum())
    assert saturated > 0


def test_nan_state_is_flagged_invalid_until_reset(spec):
    engine = MujocoCpuEngine(spec, 3)
    state = random_state(spec, 1)
    bad = {key: value.clone() for key, value in state.items()}
    bad["joint_vel"][0, 3] = float("nan")
    engine.reset(torch.tensor([1]), **bad)
    assert engine.invalid.tolist() == [False, True, False]
    engine.step(default_targets(spec, 3))
    assert engine.invalid.tolist() == [False, True, False]   # MuJoCo auto-reset it and warned
    assert engine.num_invalid_total == 1
    engine.reset(torch.tensor([1]), **state)
    engine.step(default_targets(spec, 3))
    assert not engine.invalid.any()


def test_push_changes_root_velocity_of_those_envs_only(spec):
    engine = MujocoCpuEngine(spec, 3)
    before = engine.root_lin_vel.clone()
    engine.apply_root_velocity(torch.tensor([2]), torch.tensor([[0.5, -0.25]]))
    assert torch.allclose(engine.root_lin_vel[2, :2] - before[2, :2], torch.tensor([0.5, -0.25]))
    assert torch.equal(engine.root_lin_vel[:2], before[:2])
    engine.step(default_targets(spec, 3))
    assert engine.root_pos[2, 0] > 0.005 and engine.root_pos[0, 0].abs() < 0.002


def test_friction_scale_changes_only_those_envs(spec):
    engine = MujocoCpuEngine(spec, 3)
    nominal = engine.model.geom_friction.copy()
    engine.set_friction_scale(torch.tensor([0, 2]), torch.tensor([0.5, 2.0]))
    assert np.allclose(engine.env_model(0).geom_friction[:, 0], 0.5 * nominal[:, 0])
    assert np.allclose(engine.env_model(2).geom_friction[:, 0], 2.0 * nominal[:, 0])
    assert np.array_equal(engine.env_model(1).geom_friction, nominal)
    assert np.array_equal(engine.model.geom_friction, nominal)
    assert np.array_equal(engine.env_model(0).geom_friction[:, 1:], nominal[:, 1:])
    engine.set_friction_scale(torch.tensor([0]), torch.tensor([1.0]))   # absolute, not cumulative
    assert np.allclose(engine.env_model(0).geom_friction, nominal)
    # a push on ice slides further than on a sticky floor
    engine.set_friction_scale(torch.tensor([0, 1]), torch.tensor([0.05, 2.0]))
    engine.apply_root_velocity(torch.tensor([0, 1]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    for _ in range(10):
        engine.step(default_targets(spec, 3))
    assert engine.root_pos[0, 0] > engine.root_pos[1, 0] + 0.02


def test_mass_offset_and_torque_scale(spec):
    engine = MujocoCpuEngine(spec, 3)
    trunk = engine.model.body(spec.trunk_body).id
    engine.set_mass_offset(torch.tensor([1]), torch.tensor([0.5]), torch.tensor([[0.01, 0.0, 0.0]]))
    assert engine.env_model(1).body_mass[trunk] == pytest.approx(engine.model.body_mass[trunk] + 0.5)
    assert np.allclose(engine.env_model(1).body_ipos[trunk], engine.model.body_ipos[trunk] + [0.01, 0, 0])
    assert engine.env_model(1).body_subtreemass[trunk] == pytest.approx(engine.model.body_subtreemass[trunk] + 0.5)
    assert engine.env_model(0).body_mass[trunk] == engine.model.body_mass[trunk]
    scale = torch.ones(1, spec.num_joints)
    scale[0, 3] = 0.0
    engine.set_torque_scale(torch.tensor([2]), scale)
    for _ in range(10):
        engine.step(default_targets(spec, 3))
    forces = engine.foot_contact_forces.sum(1)
    assert forces[1] - forces[0] == pytest.approx(0.5 * 9.81, rel=0.1)   # heavier trunk, same feet
    assert engine.joint_torques[2, 3] == 0 and engine.joint_torques[0, 3] != 0
    with pytest.raises(AwdError):
        engine.set_mass_offset(torch.tensor([0]), torch.tensor([-5.0]), torch.zeros(1, 3))


def test_user_errors_raise_awd_error(spec):
    with pytest.raises(AwdError, match="no body named"):
        MujocoCpuEngine(spec, 1, tracked_bodies=["trunk", "tail"])
    engine = make_engine("mujoco", spec, 2)
    with pytest.raises(AwdError, match="expected shape"):
        engine.step(torch.zeros(2, 3))
    with pytest.raises(AwdError, match="unknown engine"):
        make_engine("bullet", spec, 2)
    with pytest.raises(AwdError, match="not tracked"):
        engine.body_index("left_knee_link")
    custom = MujocoCpuEngine(spec, 1, tracked_bodies=["left_knee_link", "trunk", "left_knee_link"])
    assert custom.tracked_bodies == ("left_knee_link", "trunk") and custom.body_pos.shape == (1, 2, 3)


def test_forces_and_torques_are_the_last_substeps_and_zero_right_after_a_reset(spec):
    engine = MujocoCpuEngine(spec, 2)
    engine.step(default_targets(spec, 2))
    assert (engine.foot_contact_forces > 0).all() and engine.joint_torques.abs().sum() > 0
    state = random_state(spec, 1, height=spec.init_root_height)
    state["joint_pos"] = torch.as_tensor(spec.default_joint_pos)[None]
    engine.reset(torch.tensor([1]), **state)
    assert engine.foot_contact_forces[1].abs().max() == 0 and engine.joint_torques[1].abs().max() == 0
    assert (engine.foot_contact_forces[0] > 0).all(), "envs not reset keep their last substep's forces"
    engine.step(default_targets(spec, 2))
    assert engine.joint_torques[1].abs().sum() > 0


def test_an_engine_is_a_module_and_one_registry_entry(spec, monkeypatch):
    import awd.engine as engines
    from awd.run import build_run_config, parse_args

    entry = engines.EngineEntry("awd.tasks.fake_engine:FakeEngine", "torch", "", 3, False)
    monkeypatch.setitem(engines.ENGINES, "fake", entry)
    assert type(make_engine("fake", spec, 2)).__name__ == "FakeEngine"
    config = build_run_config(*parse_args(["--engine", "fake"]))
    assert config["train"]["params"]["config"]["num_actors"] == 3 and config["engine"] == "fake"
