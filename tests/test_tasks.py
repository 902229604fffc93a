"""Duckling tasks on a kinematic fake engine: config errors, rewards, observations, AMP features, resets,
terminations, domain randomisation and the learning contract."""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation as R

from awd import DATA_DIR
from awd.errors import AwdError
from awd.motion.clip import clip_from_positions
from awd.robot import load_robot_spec
from awd.motion.motion_lib import motion_lib_for_robot
from awd.engine import default_tracked_bodies as tracked_bodies
from awd.tasks import DucklingCommand, build_env, env_config_from_mapping, load_env_config, make_task
from awd.tasks.amp_features import frame_from_engine, frame_from_motion, make_amp_layout
from awd.tasks.config import AmpConfig, RewardTermConfig
from awd.tasks.fake_engine import FakeEngine
from awd.tasks.rewards import RewardInputs, compute_rewards
from awd.utils.rotations import quat_from_euler_xyz, quat_mul, quat_rotate

CFG_DIR = DATA_DIR / "cfg" / "mini_bdx"
SHIPPED = ("duckling_command.yaml", "duckling_amp.yaml", "duckling_stand.yaml", "duckling_view_motion.yaml")


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


def foot_positions(spec, root_pos, root_quat, joint_pos):
    """World sole positions by MuJoCo forward kinematics (so synthetic clips agree with the robot)."""
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    data = mujoco.MjData(model)
    addresses = [model.jnt_qposadr[model.joint(name).id] for name in spec.joint_names]
    feet = np.zeros((len(root_pos), 2, 3))
    for i in range(len(root_pos)):
        data.qpos[:3] = root_pos[i]
        data.qpos[3:7] = np.roll(root_quat[i], 1)
        data.qpos[addresses] = joint_pos[i]
        mujoco.mj_kinematics(model, data)
        feet[i] = [data.xpos[model.body(b).id] for b in spec.foot_bodies]
    return feet


def make_clip(spec, num_frames=60, fps=50.0, speed=0.2, yaw_rate=0.5, loop_mode="Clamp"):
    t = np.arange(num_frames) / fps
    yaw = 0.3 + yaw_rate * t
    root_pos = np.stack([speed * t, 0.02 * np.sin(6 * t), 0.23 + 0.005 * np.sin(12 * t)], axis=-1)
    root_quat = R.from_euler("xyz", np.stack([0.05 * np.sin(6 * t), 0.04 * np.cos(6 * t), yaw], -1)).as_quat()
    joint_pos = spec.default_joint_pos + 0.2 * np.sin(6 * t[:, None] + np.arange(spec.num_joints)[None, :])
    joint_pos = np.clip(joint_pos, spec.joint_lower, spec.joint_upper)
    feet = foot_positions(spec, root_pos, root_quat, joint_pos)
    contacts = np.stack([np.sin(6 * t) > 0, np.sin(6 * t) <= 0], -1).astype(float)
    return clip_from_positions(fps, spec.joint_names, root_pos, root_quat, joint_pos, feet, contacts,
                               loop_mode=loop_mode)


@pytest.fixture(scope="module")
def motion_lib(spec):
    return motion_lib_for_robot(spec, [make_clip(spec), make_clip(spec, speed=-0.1, yaw_rate=-0.3)])


def make_cfg(task="DucklingCommand", **sections):
    """The shipped config of `task`, with sections overridden (dict merged into the YAML mapping)."""
    name = {"DucklingCommand": "duckling_command.yaml", "DucklingAMP": "duckling_amp.yaml",
            "DucklingStand": "duckling_stand.yaml", "DucklingViewMotion": "duckling_view_motion.yaml"}[task]
    import yaml

    raw = yaml.safe_load((CFG_DIR / name).read_text())["env"]
    for key, value in sections.items():
        if isinstance(value, dict) and key != "rewards":
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    raw.setdefault("seed", 0)
    raw["seed"] = raw["seed"] if raw["seed"] is not None else 0
    return env_config_from_mapping(raw, source=str(CFG_DIR / name))


def make_env(spec, motion_lib, task="DucklingCommand", num_envs=4, **sections):
    cfg = make_cfg(task, **sections)
    engine = FakeEngine(spec, num_envs, tracked_bodies=tracked_bodies(spec))
    return make_task(task, cfg, engine, motion_lib, spec), engine


# ---------------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load(name):
    cfg = load_env_config(CFG_DIR / name)
    assert cfg.episode_length_s == 20.0
    assert cfg.domain_rand.push.enabled is False and cfg.domain_rand.obs_noise.enabled is False
    assert cfg.motion_file == {"duckling_command.yaml": "motions/mini_bdx_performed"}.get(name, "motions/mini_bdx")


def _typed_leaves(node, prefix=""):
    """{dotted key: value} of a typed config (nested dataclasses; reward terms as weight + params)."""
    if isinstance(node, RewardTermConfig):
        return {f"{prefix}weight": node.weight, **{f"{prefix}{k}": v for k, v in node.params.items()}}
    if isinstance(node, dict):
        items = node.items()
    elif dataclasses.is_dataclass(node):
        items = ((f.name, getattr(node, f.name)) for f in dataclasses.fields(node) if f.name != "source")
    else:
        return {prefix[:-1]: list(node) if isinstance(node, tuple) else node}
    return {k: v for name, child in items for k, v in _typed_leaves(child, f"{prefix}{name}.").items()}


def test_the_command_config_lists_every_key_and_each_reaches_the_typed_config():
    """duckling_command.yaml promises every key is listed (so that dotted overrides reach it); each YAML value
    arrives unchanged in the typed config."""
    from awd.utils.io import read_yaml

    raw = _typed_leaves(read_yaml(CFG_DIR / "duckling_command.yaml")["env"])
    typed = _typed_leaves(load_env_config(CFG_DIR / "duckling_command.yaml"))
    assert set(raw) == set(typed)
    assert {k: v for k, v in raw.items() if typed[k] != v} == {}


@pytest.mark.parametrize("mapping, key", [
    ({"episode_lenght_s": 10}, "env.episode_lenght_s"),
    ({"commands": {"lin_vel_x": [0.3, 0.1]}}, "env.commands.lin_vel_x"),
    ({"commands": {"lin_vel_x": [0.1]}}, "env.commands.lin_vel_x"),
    ({"init": {"mode": "Sometimes"}}, "env.init.mode"),
    ({"commands": {"clip_command_prob": 1.5}}, "env.commands.clip_command_prob"),
    ({"commands": {"sample_beyond": 0.5}}, "env.commands.sample_beyond"),
    ({"init": {"hybrid_prob": 1.5}}, "env.init.hybrid_prob"),
    ({"termination": {"non_foot_contact": "yes"}}, "env.termination.non_foot_contact"),
    ({"domain_rand": {"push": {"enable": True}}}, "env.domain_rand.push.enable"),
    ({"rewards": {"lin_vel": {"weight": 1.0}}}, "env.rewards.lin_vel"),
    ({"rewards": {"lin_vel_xy": {"weight": 1.0, "sigma": 0.2}}}, "env.rewards.lin_vel_xy.sigma"),
    ({"rewards": {"lin_vel_xy": {"weight": 1.0, "std": 0.0}}}, "env.rewards.lin_vel_xy.std"),
    ({"rewards": {"lin_vel_xy": {"weight": 1.0, "ramp": [2.0e6, 1.0e6]}}}, "env.rewards.lin_vel_xy.ramp"),
    ({"amp": {"num_steps": 0}}, "env.amp.num_steps"),
    ({"task": "DucklingDance"}, "env.task"),
])
def test_bad_config_is_one_line_error_naming_file_and_key(tmp_path, mapping, key):
    import yaml

    raw = yaml.safe_load((CFG_DIR / "duckling_command.yaml").read_text())
    for section, value in mapping.items():
        if isinstance(value, dict) and isinstance(raw["env"].get(section), dict) and section != "rewards":
            for sub, subvalue in value.items():
                if isinstance(subvalue, dict):
                    raw["env"][section][sub] = {**raw["env"][section][sub], **subvalue}
                else:
                    raw["env"][section][sub] = subvalue
        else:
            raw["env"][section] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(AwdError) as error:
        load_env_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message and key in message


def test_unknown_top_level_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("env: {task: DucklingCommand}\nenvv: {}\n")
    with pytest.raises(AwdError, match="envv"):
        load_env_config(path)


# ---------------------------------------------------------------------------------------------------- rewards


def reward_inputs(n=16, N=3, **overrides):
    values = dict(
        commands=torch.zeros(N, 3), lin_vel=torch.zeros(N, 3), ang_vel=torch.zeros(N, 3),
        joint_pos=torch.zeros(N, n), joint_vel=torch.zeros(N, n), default_joint_pos=torch.zeros(n),
        joint_torques=torch.zeros(N, n), actions=torch.zeros(N, n), prev_actions=torch.zeros(N, n),
        projected_gravity=torch.tensor([[0.0, 0.0, -1.0]]).repeat(N, 1), root_height=torch.full((N,), 0.237),
        height_target=torch.full((N,), 0.237), feet_first_contact=torch.zeros(N, 2, dtype=torch.bool),
        feet_air_time=torch.zeros(N, 2), feet_swing_height=torch.zeros(N, 2), feet_height=torch.zeros(N, 2),
        feet_speed_xy=torch.zeros(N, 2), held_joints=torch.zeros(n, dtype=torch.bool))
    values.update(overrides)
    return RewardInputs(**values)


def terms(**weights_params):
    return {name: RewardTermConfig(w, p) for name, (w, p) in weights_params.items()}


def test_perfect_tracking_gives_max_tracking_reward():
    cmd = torch.tensor([[0.2, -0.1, 0.5], [0.0, 0.0, 0.0], [-0.15, 0.1, -0.8]])
    inputs = reward_inputs(commands=cmd, lin_vel=cmd * torch.tensor([1.0, 1.0, 0.0]),
                           ang_vel=cmd * torch.tensor([0.0, 0.0, 1.0]))
    total, per_term = compute_rewards(terms(lin_vel_xy=(1.0, {"std": 0.1}), ang_vel_z=(0.5, {"std": 0.25})), inputs)
    assert torch.allclose(total, torch.full((3,), 1.5))
    assert torch.allclose(per_term["lin_vel_xy"], torch.ones(3))


def test_known_tracking_errors_give_known_exp_values():
    cmd = torch.tensor([[0.2, 0.0, 0.5]])
    inputs = reward_inputs(N=1, commands=cmd, lin_vel=torch.tensor([[0.1, 0.05, 0.0]]),
                           ang_vel=torch.tensor([[0.0, 0.0, 0.25]]))
    _, per_term = compute_rewards(terms(lin_vel_xy=(2.0, {"std": 0.1}), ang_vel_z=(1.0, {"std": 0.25}),
                                        ang_vel_z_fine=(1.0, {"std": 0.1})), inputs)
    assert per_term["lin_vel_xy"].item() == pytest.approx(2.0 * math.exp(-(0.01 + 0.0025) / 0.01), rel=1e-5)
    assert per_term["ang_vel_z"].item() == pytest.approx(math.exp(-1.0), rel=1e-5)
    assert per_term["ang_vel_z_fine"].item() == pytest.approx(math.exp(-6.25), rel=1e-5)


def test_stand_still_zero_at_default_pose_and_measures_deviation():
    default = torch.linspace(-0.7, 1.4, 16)
    cmd = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.2, 0.0, 0.0]])
    joint_pos = default.repeat(3, 1)
    joint_pos[1, 3] += 0.1
    joint_pos[1, 5] -= 0.2
    joint_pos[2, 0] += 0.5
    inputs = reward_inputs(commands=cmd, joint_pos=joint_pos, default_joint_pos=default)
    _, per_term = compute_rewards(terms(stand_still=(-1.0, {"threshold": 1e-3})), inputs)
    assert per_term["stand_still"][0].item() == 0.0  # at the default pose (not at zero joint angles)
    assert per_term["stand_still"][1].item() == pytest.approx(-0.3, rel=1e-5)
    assert per_term["stand_still"][2].item() == 0.0  # moving command: not applied


def test_held_joints_penalise_only_the_joints_the_discriminator_does_not_see():
    default = torch.linspace(-0.7, 1.4, 16)
    joint_pos = default.repeat(2, 1)
    joint_pos[0, 5] += 0.3   # a held joint (head)
    joint_pos[1, 2] += 0.3   # a leg joint
    held = torch.zeros(16, dtype=torch.bool)
    held[5:11] = True
    inputs = reward_inputs(N=2, joint_pos=joint_pos, default_joint_pos=default, held_joints=held)
    _, per_term = compute_rewards(terms(held_joints=(-1.0, {})), inputs)
    assert per_term["held_joints"].tolist() == pytest.approx([-0.09, 0.0])


def test_penalties_are_not_clipped():
    inputs = reward_inputs(N=1, joint_torques=torch.full((1, 16), 2.0), actions=torch.ones(1, 16))
    total, per_term = compute_rewards(terms(torques=(-0.01, {}), action_rate=(-0.1, {})), inputs)
    assert per_term["torques"].item() == pytest.approx(-0.01 * 16 * 4)
    assert total.item() == pytest.approx(-0.64 - 1.6)


def test_feet_air_time_and_stand_terms():
    first = torch.tensor([[True, False]])
    inputs = reward_inputs(N=1, commands=torch.tensor([[0.2, 0.0, 0.0]]), feet_first_contact=first,
                           feet_air_time=torch.tensor([[0.3, 0.05]]), root_height=torch.tensor([0.217]),
                           projected_gravity=torch.tensor([[0.1, 0.0, -0.995]]))
    _, per_term = compute_rewards(terms(feet_air_time=(1.0, {"target": 0.2, "threshold": 1e-3}),
                                        trunk_height=(1.0, {"std": 0.02}), upright=(1.0, {"std": 0.1})), inputs)
    assert per_term["feet_air_time"].item() == pytest.approx(0.1)  # min(0.3, 0.2) - 0.1, right foot not landing
    assert per_term["trunk_height"].item() == pytest.approx(math.exp(-1.0), rel=1e-4)
    assert per_term["upright"].item() == pytest.approx(math.exp(-1.0), rel=1e-4)


def test_feet_swing_height_scores_touchdowns_against_the_target():
    first = torch.tensor([[True, True], [True, False], [True, True]])
    commands = torch.tensor([[0.2, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 0.0, 0.0]])
    heights = torch.tensor([[0.045, 0.006], [0.024, 0.03], [0.03, 0.03]])
    air = torch.tensor([[0.2, 0.5], [0.1, 0.4], [0.4, 0.4]])
    inputs = reward_inputs(commands=commands, feet_first_contact=first, feet_swing_height=heights, feet_air_time=air)

    def swing_reward(offset, air_time=0.0):
        params = {"target": 0.03, "offset": offset, "threshold": 1e-3, "air_time": air_time}
        return compute_rewards(terms(feet_swing_height=(1.0, params)), inputs)[1]["feet_swing_height"].tolist()
    # 1 (capped at the target) + 0.2; 0.8 with the right foot not landing; 0 at zero command
    assert swing_reward(0.0) == pytest.approx([1.2, 0.8, 0.0])
    assert swing_reward(0.5) == pytest.approx([0.2, 0.3, 0.0])
    # a 0.2-s swing earns half of its share at air_time 0.4, a 0.5-s one all of it
    assert swing_reward(0.0, air_time=0.4) == pytest.approx([0.5 + 0.2, 0.8 * 0.25, 0.0])


def test_a_new_reward_term_is_one_function_and_one_config_line(spec, motion_lib, monkeypatch):
    from awd.tasks import rewards

    def trunk_z(inputs, params):
        return inputs.task.engine.root_pos[:, 2]

    monkeypatch.setitem(rewards.TERMS, "trunk_z", rewards.RewardTerm(trunk_z))
    env, _ = make_env(spec, motion_lib, rewards={"trunk_z": {"weight": 2.0}})
    env.reset()
    _, reward, _, infos = env.step(torch.zeros(env.num_envs, env.num_actions))
    assert torch.allclose(reward, 2.0 * env.engine.root_pos[:, 2]) and "rew_trunk_z" in infos["episode"]


def test_feet_clearance_costs_feet_that_move_low_over_the_floor():
    heights = torch.tensor([[-0.06, 0.0], [0.015, 0.03], [0.0, float("inf")]])
    speeds = torch.tensor([[10.0, 10.0], [10.0, 10.0], [0.0, 10.0]])
    inputs = reward_inputs(feet_height=heights, feet_speed_xy=speeds)
    _, per_term = compute_rewards(terms(feet_clearance=(-1.0, {"target": 0.03, "speed": 0.1})), inputs)
    # a sliding foot costs 1 (one below its stance height too), at half the target height a quarter, above it nothing
    assert per_term["feet_clearance"].tolist() == pytest.approx([-2.0, -0.25, 0.0], abs=1e-6)


def test_foot_tracker_measures_each_swing_from_the_last_stance():
    from awd.tasks.feet import FootTracker

    tracker = FootTracker(1, 1, 0.02, "cpu")
    heights = [0.05, 0.02, 0.02, 0.04, 0.05, 0.03, 0.021]  # from a (mid-air) reset: down, up 30 mm, down 1 mm higher
    contacts = [False, True, True, False, False, False, True]
    swings, air = [], []
    xs = [0.0, 0.0, 0.0, 0.002, 0.004, 0.006, 0.008]
    lifted, speeds = [], []
    for x, height, contact in zip(xs, heights, contacts):
        tracker.update(torch.tensor([[contact]]), torch.tensor([[[x, 0.0, height]]]))
        lifted.append(tracker.height_above_stance.item())
        speeds.append(tracker.speed_xy.item())
        if tracker.first_contact.item():
            swings.append(tracker.last_swing_height.item())
            air.append(tracker.last_air_time.item())
    assert swings == pytest.approx([0.0, 0.03]) and air == pytest.approx([0.02, 0.06])
    assert lifted == pytest.approx([float("inf"), 0.0, 0.0, 0.02, 0.03, 0.01, 0.0])
    assert speeds == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1])
    tracker.reset(torch.tensor([True]))
    assert tracker.last_swing_height.item() == 0.0 and tracker.air_time.item() == 0.0
    tracker.update(torch.tensor([[True]]), torch.tensor([[[1.0, 0.0, 0.02]]]))
    assert tracker.speed_xy.item() == 0.0


# ---------------------------------------------------------------------------------------------------- observations


def test_observation_layout_is_derived_from_the_spec(spec, motion_lib):
    env, _ = make_env(spec, motion_lib)
    n = spec.num_joints
    assert env.obs_parts == [("projected_gravity", 3), ("joint_pos", n), ("joint_vel", n), ("last_action", n),
                             ("commands", 3)]
    assert env.observation_space.shape == (3 + 3 * n + 3,) and env.action_space.shape == (n,)
    env_contacts, _ = make_env(spec, motion_lib, task="DucklingAMP", observations={"foot_contacts": True})
    assert env_contacts.obs_parts[-1] == ("foot_contacts", 2) and env_contacts.num_obs == 3 + 3 * n + 2
    layout = env.get_layout()
    assert layout["action_joints"] == list(spec.joint_names)
    assert sum(size for _,
               size in layout["amp_features"]) * layout["amp_num_steps"] == env.amp_observation_space.shape[0]


def slices(env):
    out, start = {}, 0
    for name, size in env.obs_parts:
        out[name] = slice(start, start + size)
        start += size
    return out


def test_projected_gravity_and_relative_joint_positions(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=2, init={"mode": "Default"})
    env.reset()
    pitch = 0.3
    engine.root_quat[0] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    engine.root_quat[1] = quat_from_euler_xyz(torch.tensor(0.0), torch.tensor(pitch), torch.tensor(1.0))
    engine.joint_pos[:] = env.default_joint_pos
    engine.joint_pos[0, 3] += 0.25
    engine.joint_vel[0, 2] = 2.0
    obs = env.compute_observations()
    s = slices(env)
    assert torch.allclose(obs[0, s["projected_gravity"]], torch.tensor([0.0, 0.0, -1.0]), atol=1e-6)
    assert torch.allclose(obs[1, s["projected_gravity"]], torch.tensor([math.sin(pitch), 0.0, -math.cos(pitch)]),
                          atol=1e-6)
    expected = torch.zeros(spec.num_joints)
    expected[3] = 0.25
    assert torch.allclose(obs[0, s["joint_pos"]], expected, atol=1e-6)
    assert obs[0, s["joint_vel"]][2].item() == pytest.approx(2.0 * env.cfg.observations.joint_vel_scale)


def test_actions_map_to_clipped_pd_targets_and_last_action_obs(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=1, init={"mode": "Default"})
    env.reset()
    action = torch.zeros(1, spec.num_joints)
    action[0, 0], action[0, 1] = 3.0, -0.5
    obs, *_ = env.step(action)
    expected = env.default_joint_pos.clone()
    expected[0] += spec.action_scale * 1.0
    expected[1] -= spec.action_scale * 0.5
    assert torch.allclose(engine.last_targets[0], expected)
    assert obs[0, slices(env)["last_action"]][0].item() == 1.0


# ---------------------------------------------------------------------------------------------------- AMP features


def test_amp_features_of_motion_equal_features_of_replayed_engine_state(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=3, task="DucklingAMP", amp={"foot_contacts": True})
    layout = env.amp_layout
    ids = torch.tensor([0, 1, 0])
    times = torch.tensor([0.5, 0.9, 1.1], dtype=torch.float64)
    demo = frame_from_motion(layout, motion_lib.get_window_states(ids, times, layout.num_steps, env.dt))
    for k in range(layout.num_steps):
        state = motion_lib.get_state(ids, times - k * env.dt)
        engine.reset(torch.arange(3), state.root_pos, state.root_quat, state.root_lin_vel, state.root_ang_vel,
                     state.joint_pos, state.joint_vel)
        engine.body_pos[:, env.key_body_indices] = state.key_body_pos
        engine.foot_contacts[:] = state.foot_contacts.bool()
        assert torch.allclose(frame_from_engine(layout, engine, env.key_body_indices), demo[:, k], atol=1e-5)


def test_amp_features_are_heading_invariant(spec, motion_lib):
    layout = make_amp_layout(spec, AmpConfig(num_steps=1))
    state = motion_lib.get_state(torch.tensor([0, 1]), torch.tensor([0.3, 0.7], dtype=torch.float64))
    yaw = quat_from_euler_xyz(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(1.2)).expand(2, 4)
    shift = torch.tensor([1.0, -2.0, 0.0])
    turned = state._replace(root_pos=quat_rotate(yaw, state.root_pos) + shift,
                            root_quat=quat_mul(yaw, state.root_quat),
                            root_lin_vel=quat_rotate(yaw, state.root_lin_vel),
                            root_ang_vel=quat_rotate(yaw, state.root_ang_vel),
                            key_body_pos=quat_rotate(yaw.unsqueeze(1).expand(2, 2, 4), state.key_body_pos) + shift)
    assert torch.allclose(frame_from_motion(layout, state), frame_from_motion(layout, turned), atol=1e-5)
    frame = frame_from_motion(layout, state)
    assert frame.shape == (2, layout.frame_size)
    assert torch.allclose(frame[:, 0], state.root_pos[:, 2])


def test_left_out_root_rotation_and_angular_velocity_keep_their_slots_zeroed(spec, motion_lib):
    state = motion_lib.get_state(torch.tensor([0, 1]), torch.tensor([0.3, 0.7], dtype=torch.float64))
    full = frame_from_motion(make_amp_layout(spec, AmpConfig(num_steps=1)), state)
    cut = frame_from_motion(make_amp_layout(spec, AmpConfig(num_steps=1, root_rotation=False,
                                                            root_angular_velocity=False)), state)
    zeroed = torch.zeros(full.shape[1], dtype=torch.bool)
    zeroed[1:7] = zeroed[10:13] = True  # after the height: tangent, normal | lin vel | ang vel
    assert cut.shape == full.shape and (cut[:, zeroed] == 0).all() and (full[:, zeroed] != 0).any()
    assert torch.equal(cut[:, ~zeroed], full[:, ~zeroed])


HEAD = ("neck_pitch", "head_pitch", "head_yaw", "head_roll", "left_antenna", "right_antenna")


@pytest.mark.parametrize("amp", [AmpConfig(num_steps=1, exclude_joints=HEAD),
                                 AmpConfig(num_steps=1, foot_contacts=True),
                                 AmpConfig(num_steps=1, root_height=False,
                                           exclude_joints=("left_hip_yaw", "neck_pitch", "right_ankle"))])
def test_amp_frame_matches_its_quaternion_definition(spec, motion_lib, amp):
    """The frame (built from one rotation matrix and a complex turn) against its definition in quaternions."""
    from awd.utils.rotations import heading_quat_inverse, quat_to_tan_norm

    layout = make_amp_layout(spec, amp)
    state = motion_lib.get_window_states(torch.tensor([0, 1, 1]), torch.tensor([0.5, 0.3, 0.9], dtype=torch.float64),
                                         4, 0.02)
    heading_inv = heading_quat_inverse(state.root_quat)
    joints = torch.tensor(layout.joint_indices)
    parts = [state.root_pos[..., 2:3] * amp.root_height, quat_to_tan_norm(quat_mul(heading_inv, state.root_quat)),
             quat_rotate(heading_inv, state.root_lin_vel), quat_rotate(heading_inv, state.root_ang_vel),
             state.joint_pos[..., joints], state.joint_vel[..., joints],
             quat_rotate(heading_inv.unsqueeze(-2).expand(3, 4, 2, 4),
                         state.key_body_pos - state.root_pos.unsqueeze(-2))
             .flatten(-2)]
    expected = torch.cat(parts + [state.foot_contacts] * amp.foot_contacts, dim=-1)
    assert expected.shape[-1] == layout.frame_size
    assert torch.allclose(frame_from_motion(layout, state), expected, atol=1e-5)


def test_demo_windows_and_amp_obs_shapes(spec, motion_lib):
    env, _ = make_env(spec, motion_lib, num_envs=2)
    demo = env.fetch_amp_obs_demo(7)
    assert demo.shape == (7, env.amp_observation_space.shape[0]) and torch.isfinite(demo).all()
    env.reset()
    _, _, _, infos = env.step(torch.zeros(2, spec.num_joints))
    assert infos["amp_obs"].shape == (2, env.amp_observation_space.shape[0])


# ---------------------------------------------------------------------------------------------------- resets


def test_default_init_repeats_the_current_frame_in_the_amp_history(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=2, init={"mode": "Default"})
    env.reset()
    assert torch.allclose(engine.joint_pos, env.default_joint_pos.expand(2, -1))
    assert torch.allclose(engine.root_pos[:, 2], torch.full((2,), spec.init_root_height))
    history = env.amp_history
    assert torch.allclose(history, history[:, :1].expand_as(history))


def test_reference_init_uses_the_clip_and_its_past_for_the_history(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=3, init={"mode": "Start"})
    env.reset()
    start = motion_lib.get_state(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(engine.joint_pos, start.joint_pos, atol=1e-6)  # both clips start from the same pose
    assert torch.allclose(engine.root_pos[:, 2], start.root_pos[:, 2])
    assert torch.allclose(engine.root_pos[:, :2], torch.zeros(3, 2))  # moved to the env origin

    env, engine = make_env(spec, motion_lib, num_envs=64, init={"mode": "Random"})
    env.reset()
    frames = env.amp_history
    assert not torch.allclose(frames[:, 0], frames[:, -1])  # a real past, not a repeated frame
    assert env.last_reset_was_reference.all()


@pytest.mark.parametrize("prob, expected", [(0.0, 0), (1.0, 40)])
def test_hybrid_init_probability(spec, motion_lib, prob, expected):
    env, _ = make_env(spec, motion_lib, num_envs=40, init={"mode": "Hybrid", "hybrid_prob": prob})
    env.reset()
    assert int(env.last_reset_was_reference.sum()) == expected


def test_fall_terminates_timeout_does_not_and_only_done_envs_reset(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=3, episode_length_s=0.1, init={"mode": "Default"},
                           termination={"grace_steps": 1})
    env.reset()
    zeros = torch.zeros(3, spec.num_joints)
    engine.root_pos[1, 2] = 0.05  # trunk down during the grace step: no termination
    _, _, dones, infos = env.step(zeros)
    assert not dones.any() and infos["episode"]["episodes_finished"].item() == 0  # every key, every step
    assert infos["episode"]["fall_rate"].item() == 0.0 and infos["episode"]["episode_length_s"].item() == 0.0
    engine.root_pos[1, 2] = 0.05  # env 1 falls
    engine.non_foot_ground_contact[2] = False
    engine.reset_masks.clear()
    _, _, dones, infos = env.step(zeros)
    assert dones.tolist() == [False, True, False]
    assert infos["terminate"].tolist() == [False, True, False]
    assert infos["episode"]["fall_rate"].item() == 1.0 and infos["episode"]["episodes_finished"].item() == 1
    assert infos["episode"]["episode_length_s"].item() == pytest.approx(2 * env.dt)
    assert [mask.tolist() for mask in engine.reset_masks] == [[False, True, False]]
    assert env.progress.tolist() == [2, 0, 2]
    for _ in range(3):
        _, _, dones, infos = env.step(zeros)
    assert dones.tolist() == [True, False, True]  # 5 steps = 0.1 s
    assert not infos["terminate"].any() and infos["timeout"].tolist() == [True, False, True]


def test_head_and_contact_terminations_are_configurable(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=2, init={"mode": "Default"}, termination={"grace_steps": 0})
    env.reset()
    engine.body_offsets[engine.body_index(spec.head_body), 2] = 0.0  # head at trunk height 0.237 > 0.18: fine
    engine.non_foot_ground_contact[1] = True
    _, _, dones, infos = env.step(torch.zeros(2, spec.num_joints))
    assert infos["terminate"].tolist() == [False, True]
    env, engine = make_env(spec, motion_lib, num_envs=2, init={"mode": "Default"},
                           termination={"grace_steps": 0, "non_foot_contact": False, "head_height": 0.3})
    env.reset()
    engine.non_foot_ground_contact[1] = True
    engine.body_offsets[engine.body_index(spec.head_body), 2] = 0.0
    _, _, _, infos = env.step(torch.zeros(2, spec.num_joints))
    assert infos["terminate"].tolist() == [True, True]  # head below 0.3 in both; contact ignored


def test_invalid_state_is_reset_and_counted(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=3, init={"mode": "Default"})
    env.reset()
    original_step = engine.step

    def bad_step(targets):
        original_step(targets)
        engine.joint_vel[2, 0] = float("nan")

    engine.step = bad_step
    obs, rewards, dones, infos = env.step(torch.zeros(3, spec.num_joints))
    assert dones.tolist() == [False, False, True] and infos["terminate"][2]
    assert infos["episode"]["invalid_rate"].item() == 1.0
    assert rewards[2].item() == 0.0 and torch.isfinite(obs).all() and torch.isfinite(infos["amp_obs"]).all()
    assert infos["amp_obs"][2].abs().sum() == 0
    assert torch.isfinite(engine.joint_vel).all()  # env 2 was reset


def test_episode_reward_sums_reported_per_term(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=2, episode_length_s=0.06, init={"mode": "Default"},
                           rewards={"alive": {"weight": 0.5}, "lin_vel_xy": {"weight": 1.0, "std": 0.1}},
                           commands={"zero_prob": 1.0})
    env.reset()
    for _ in range(3):
        _, rewards, dones, infos = env.step(torch.zeros(2, spec.num_joints))
    assert dones.all()
    episode = infos["episode"]
    assert episode["rew_alive"].item() == pytest.approx(1.5)
    assert episode["rew_lin_vel_xy"].item() == pytest.approx(3.0)  # zero command, robot at rest
    assert episode["rew_task"].item() == pytest.approx(4.5)


# ---------------------------------------------------------------------------------------------------- commands


def test_commands_sampled_in_range_small_ones_zeroed_and_in_first_obs(spec, motion_lib):
    env, _ = make_env(spec, motion_lib, num_envs=512, init={"mode": "Default"}, commands={"zero_prob": 0.0})
    obs = env.reset()
    cmd = env.commands
    c = env.cfg.commands
    assert (cmd[:, 0] >= c.lin_vel_x[0]).all() and (cmd[:, 0] <= c.lin_vel_x[1]).all()
    assert (cmd[:, 2].abs() <= c.ang_vel_z[1]).all()
    planar = cmd[:, :2].norm(dim=-1)
    assert ((planar == 0) | (planar >= c.small_lin_vel)).all() and (planar == 0).any()
    assert ((cmd[:, 2] == 0) | (cmd[:, 2].abs() >= c.small_ang_vel)).all()
    assert torch.allclose(obs[:, slices(env)["commands"]], cmd * torch.tensor(c.obs_scale))


def test_commands_resampled_on_timer_and_override(spec, motion_lib):
    env, _ = make_env(spec, motion_lib, num_envs=8, init={"mode": "Default"},
                      commands={"resample_s": 0.04, "zero_prob": 0.0})
    env.reset()
    first = env.commands.clone()
    env.step(torch.zeros(8, spec.num_joints))
    assert torch.equal(env.commands, first)
    env.step(torch.zeros(8, spec.num_joints))
    assert not torch.equal(env.commands, first)
    env.set_commands([0.1, 0.0, 0.0])
    env.step(torch.zeros(8, spec.num_joints))
    env.step(torch.zeros(8, spec.num_joints))
    assert torch.allclose(env.commands, torch.tensor([0.1, 0.0, 0.0]).expand(8, 3))


def test_tracking_uses_the_yaw_frame_and_a_window_reset_with_the_episode(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=1, init={"mode": "Default"},
                           commands={"velocity_window_s": 0.04})
    env.reset()
    # pitched and yawed trunk moving forward along its heading at 0.2 m/s
    yaw, pitch = 0.7, 0.4
    engine.root_quat[0] = quat_from_euler_xyz(torch.tensor(0.0), torch.tensor(pitch), torch.tensor(yaw))
    engine.root_lin_vel[0] = torch.tensor([0.2 * math.cos(yaw), 0.2 * math.sin(yaw), 0.0])
    env._update_tracking()
    env._update_tracking()
    lin, _ = env.tracking_velocities()
    assert torch.allclose(lin[0], torch.tensor([0.2, 0.0, 0.0]), atol=1e-6)  # not tilted by the pitch
    env.reset_envs(torch.tensor([0]))
    lin, _ = env.tracking_velocities()
    assert torch.allclose(lin, torch.zeros(1, 3))  # no velocity leaks from the previous episode


# ---------------------------------------------------------------------------------------------------- other tasks


def test_amp_task_reward_is_zero_and_stand_targets(spec, motion_lib):
    env, _ = make_env(spec, motion_lib, task="DucklingAMP", num_envs=2)
    env.reset()
    _, rewards, _, _ = env.step(torch.zeros(2, spec.num_joints))
    assert torch.equal(rewards, torch.zeros(2)) and env.num_obs == 3 + 3 * spec.num_joints

    env, _ = make_env(spec, motion_lib, task="DucklingStand", num_envs=64,
                      stand={"height_offset_range": [-0.02, 0.0], "target_obs": True})
    obs = env.reset()
    offsets = obs[:, slices(env)["height_target_offset"]].squeeze(-1)
    assert (offsets <= 0).all() and (offsets >= -0.02).all() and offsets.std() > 0
    assert torch.allclose(env.height_target, spec.init_root_height + offsets)


def test_view_motion_plays_clips_kinematically(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, task="DucklingViewMotion", num_envs=2)
    env.reset()
    for step in range(1, 4):
        _, rewards, dones, infos = env.step(torch.ones(2, spec.num_joints))
    state = motion_lib.get_state(torch.tensor([0, 1]), torch.full((2,), 3 * env.dt, dtype=torch.float64))
    assert torch.allclose(engine.joint_pos, state.joint_pos, atol=1e-6)
    assert engine.step_calls == 0 and not dones.any() and torch.equal(rewards, torch.zeros(2))
    for _ in range(int(round(float(motion_lib.lengths.max()) / env.dt))):
        _, _, dones, _ = env.step(None)
        if dones.any():
            break
    assert dones.any()


def test_domain_randomisation_hooks(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=4, init={"mode": "Default"}, domain_rand={
        "push": {"enabled": True, "interval_s": 0.04, "max_vel_xy": 0.2},
        "trunk_mass": {"enabled": True, "mass_delta": [-0.05, 0.05], "com_offset": [-0.01, 0.01]},
        "friction": {"enabled": True, "range": [0.6, 1.2]},
        "torque_scale": {"enabled": True, "range": [0.9, 1.1]},
        "action_delay": {"enabled": True, "max_steps": 1},
        "obs_delay": {"enabled": True, "max_steps": 2},
        "obs_noise": {"enabled": True, "projected_gravity": 0.02, "joint_pos": 0.01, "joint_vel": 0.5}})
    env.reset()
    ids, friction = engine.friction[-1]
    assert ids.tolist() == [0, 1, 2, 3] and ((friction >= 0.6) & (friction <= 1.2)).all()
    assert engine.mass[-1][2].shape == (4, 3) and engine.torque_scale[-1][1].shape == (4, spec.num_joints)
    for _ in range(3):  # 0.04 s = 2 steps: pushed at the start of the third step
        env.step(torch.zeros(4, spec.num_joints))
    assert len(engine.pushes) == 1 and engine.pushes[0][0].tolist() == [0, 1, 2, 3]
    # action delay: envs with delay 1 still apply the previous (zero) action
    env.randomization.action_delay[:] = torch.tensor([0, 1, 0, 1])
    env.step(torch.ones(4, spec.num_joints))
    applied = (engine.last_targets - env.default_joint_pos) / spec.action_scale
    assert torch.allclose(applied[:, 0], torch.tensor([1.0, 0.0, 1.0, 0.0]))


def test_obs_delay_returns_older_observations(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, num_envs=2, init={"mode": "Default"},
                           domain_rand={"obs_delay": {"enabled": True, "max_steps": 1}})
    env.reset()
    env.randomization.obs_delay[:] = torch.tensor([0, 1])
    action = torch.full((2, spec.num_joints), 0.5)
    obs, *_ = env.step(action)
    s = slices(env)["last_action"]
    assert obs[0, s][0].item() == 0.5 and obs[1, s][0].item() == 0.0


def test_build_env_with_engine_factory(spec, tmp_path):
    from awd.motion.clip import save_clip

    save_clip(make_clip(spec), tmp_path / "clips" / "walk.json")
    import yaml

    text = yaml.safe_load((CFG_DIR / "duckling_command.yaml").read_text())
    text["env"]["motion_file"] = "clips"
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(text))
    env = build_env(path, 2, engine_factory=lambda s, n, d, tracked_bodies: FakeEngine(s, n, d, tracked_bodies))
    assert isinstance(env, DucklingCommand) and env.motion_lib.num_clips == 1
    obs = env.reset()
    assert obs.shape == (2, env.num_obs)
    with pytest.raises(AwdError, match="motion_file"):
        build_env(dataclasses.replace(env.cfg, motion_file="nowhere"), 2,
                  engine_factory=lambda s, n, d, tracked_bodies: FakeEngine(s, n, d, tracked_bodies))


def test_tasks_satisfy_the_learning_env_contract(spec, motion_lib):
    vecenv = pytest.importorskip("awd.learning.vecenv")
    from awd.learning.checkpoint import env_layout, layout_differences

    for task in ("DucklingCommand", "DucklingAMP", "DucklingStand", "DucklingViewMotion"):
        env, _ = make_env(spec, motion_lib, task=task, num_envs=2)
        vecenv.check_env_contract(env, source=task)
        layout = env_layout(env, env.observation_space, env.action_space, env.amp_observation_space)
        assert layout["obs_size"] == env.num_obs and layout["amp_obs_size"] == env.amp_layout.window_size
        obs = env.reset()
        obs, rewards, dones, infos = env.step(torch.zeros(2, spec.num_joints))
        assert obs.shape == (2, env.num_obs) and rewards.shape == (2,) and dones.dtype == torch.bool
        assert infos["amp_obs"].shape == (2, env.amp_layout.window_size) and infos["terminate"].dtype == torch.bool
        assert env.fetch_amp_obs_demo(3).shape == (3, env.amp_layout.window_size)
    other, _ = make_env(spec, motion_lib, num_envs=2, amp={"num_steps": 3})
    assert layout_differences(make_env(spec, motion_lib, num_envs=2)[0].get_layout(), other.get_layout())
