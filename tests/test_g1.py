"""The Unitree G1 humanoid (g1, 29 DOF; g1_23dof): the model holds the public facts and its generated files are
current, it stands on CPU MuJoCo (with the ankle balance a policy provides), Placo walks it, the spec gives
complete layouts, demo AMP features equal the clip replayed in the engine, humanoid terminations, an
official-layout MJCF (own actuators, sensors, keyframe, meshes, no sole frames) is accepted, and G1AMP trains
and plays and exports from run.py on CPU."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch
import yaml

from awd.config import load_run_config
from awd.gait.engine import WalkCommand, WalkEngine, expected_velocity
from awd.gait.params import load_walk_params
from awd.learning.checkpoint import load_checkpoint
from awd.motion.dataset import load_dataset
from awd.robot import load_robot_spec
from awd.motion.motion_lib import motion_lib_for_robot
from awd.robot.model import build_model, default_qpos
from awd.robot.urdf import mjcf_to_urdf
from awd.run import main as run_main
from awd.engine import default_tracked_bodies as tracked_bodies
from awd.tasks import build_env, env_config_from_mapping, make_task
from awd.tasks.fake_engine import FakeEngine
from awd.utils.rotations import quat_from_euler_xyz

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_g1  # noqa: E402
from test_tasks_engine import assert_demo_features_match_the_engine  # noqa: E402

ROBOTS = ("g1", "g1_23dof")
LOCKED = ("waist_roll_joint", "waist_pitch_joint", "left_wrist_pitch_joint", "left_wrist_yaw_joint",
          "right_wrist_pitch_joint", "right_wrist_yaw_joint")


@pytest.fixture(scope="module", params=ROBOTS)
def spec(request):
    return load_robot_spec(request.param)


@pytest.fixture(scope="module")
def g1():
    return load_robot_spec("g1")


def env_mapping(task="G1Command", **changes) -> tuple[dict, str]:
    config = load_run_config(task)
    env = config["env"]
    env.update(changes, seed=0)
    return env, config["sources"]["env"]


# ---------------------------------------------------------------------------------------------------- model


def test_model_holds_the_public_g1_facts(spec):
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    assert spec.num_joints == (29 if spec.name == "g1" else 23)
    assert spec.joint_names[:7] == ("left_hip_pitch_joint", "left_hip_roll_joint", "left_hip_yaw_joint",
                                    "left_knee_joint", "left_ankle_pitch_joint", "left_ankle_roll_joint",
                                    "right_hip_pitch_joint")
    assert (set(spec.joint_names) | set(LOCKED) if spec.name == "g1_23dof" else set(spec.joint_names)) == \
        set(load_robot_spec("g1").joint_names)
    assert model.body_subtreemass[1] == pytest.approx(33.34, abs=0.01)        # the G1's published mass
    assert model.body(1).name == "pelvis" and model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST and model.opt.timestep == spec.sim_dt
    knee = model.joint("left_knee_joint")
    assert np.allclose(knee.range, [-0.087267, 2.8798]) and knee.armature[0] == pytest.approx(0.0251)
    assert np.allclose(model.joint("right_hip_roll_joint").range, -model.joint("left_hip_roll_joint").range[::-1])
    assert all(model.dof_armature[6:] > 0.003)
    efforts = dict(zip(spec.joint_names, spec.effort_limit))
    assert efforts["left_knee_joint"] == 139 and efforts["left_hip_pitch_joint"] == 88
    assert efforts["left_ankle_pitch_joint"] == 50 and efforts["left_elbow_joint"] == 25
    assert spec.control_rate == 50.0 and spec.foot_bodies == ("left_foot", "right_foot")
    assert spec.key_bodies == ("left_foot", "right_foot", "left_hand", "right_hand")
    assert not any(model.geom_type == mujoco.mjtGeom.mjGEOM_MESH)


def test_generated_model_files_are_current():
    for path, text in make_g1.variants().items():
        assert path.read_text() == text, f"{path} is stale: python tools/make_g1.py"
        spec = load_robot_spec(path.parent / "robot.yaml")
        assert spec.urdf_path.read_text() == '<?xml version="1.0"?>\n' + mjcf_to_urdf(spec)


def test_default_pose_puts_the_centre_of_mass_over_the_soles(spec):
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    mujoco.mj_forward(model, data)
    feet = data.xpos[[model.body(name).id for name in spec.foot_bodies]]
    assert np.abs(feet[:, 2]).max() < 1e-3
    assert np.abs(data.subtree_com[1][:2] - feet.mean(axis=0)[:2]).max() < 0.01
    assert data.ncon == 8 and all(model.body(model.geom_bodyid[c.geom2]).name in spec.foot_bodies
                                  for c in data.contact[:data.ncon])  # only the two box soles touch


def test_stands_ten_seconds_with_an_ankle_balance_feedback(g1):
    """The spec's PD gains (Unitree's) are far below the stiffness an inverted pendulum of 33 kg needs, so the
    robot balances actively, as the policy will: ankle targets follow the centre of mass over the soles."""
    model = build_model(g1)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, g1)
    mujoco.mj_forward(model, data)
    pitch = [g1.joint_index(f"{side}_ankle_pitch_joint") for side in ("left", "right")]
    roll = [g1.joint_index(f"{side}_ankle_roll_joint") for side in ("left", "right")]
    feet = [model.body(name).id for name in g1.foot_bodies]
    for step in range(2000):
        if step % g1.decimation == 0:  # at the policy rate
            error = data.subtree_com[1][:2] - data.xpos[feet].mean(axis=0)[:2]
            correction = 20.0 * error + 2.0 * data.subtree_linvel[1][:2]
            data.ctrl[:] = g1.default_joint_pos
            data.ctrl[pitch] += correction[0]
            data.ctrl[roll] -= correction[1]
        mujoco.mj_step(model, data)
    assert abs(data.qpos[2] - g1.init_root_height) < 0.02
    assert np.linalg.norm(data.qpos[:2]) < 0.03 and data.qpos[3] > 0.999
    assert np.abs(data.qvel).max() < 0.05
    assert np.abs(data.actuator_force).max() < 0.5 * g1.effort_limit.max()


# ---------------------------------------------------------------------------------------------------- Placo


def test_placo_walks_the_g1_with_flat_feet_and_swinging_arms(g1):
    params = load_walk_params(g1)
    engine = WalkEngine(g1, params)
    command = WalkCommand(0.15, 0.0, 0.0)
    recording = engine.generate(command, length=2.0, fps=50.0)
    clip = recording.clip
    assert recording.foot_tracking_error < 2e-3
    measured = clip.metadata["Generator"]["measured_velocity"]
    assert measured["vx"] == pytest.approx(expected_velocity(command, engine.period)["vx"], rel=0.1)
    model = mujoco.MjModel.from_xml_path(str(g1.mjcf_path))
    data = mujoco.MjData(model)
    stance = clip.foot_contacts.astype(bool)
    for frame in range(0, clip.num_frames, 5):
        data.qpos[:3], data.qpos[3:7] = clip.root_pos[frame], np.roll(clip.root_quat[frame], 1)
        data.qpos[7:] = clip.joint_pos[frame]
        mujoco.mj_kinematics(model, data)
        for side, name in enumerate(g1.foot_bodies):
            if stance[frame, side]:  # a stance sole lies flat on the floor
                assert data.xmat[model.body(name).id][8] > 0.9999 and abs(clip.foot_pos[frame, side, 2]) < 1e-3
    left, right = (clip.joint_pos[:, g1.joint_index(f"{s}_shoulder_pitch_joint")] for s in ("left", "right"))
    assert np.ptp(left) > 0.3 and np.corrcoef(left, right)[0, 1] < -0.9  # the arms swing against each other
    assert stance.any(axis=1).all() and not stance.all(axis=1).all()


def test_default_datasets_cover_walking_directions_and_speeds(spec):
    clips = load_dataset(Path(spec.spec_path).parents[2] / "motions" / spec.name, spec.joint_names)
    velocities = np.array([[c.metadata["Placo"][k] for k in ("avg_x_lin_vel", "avg_y_lin_vel", "avg_yaw_vel")]
                           for c in clips])
    forward = sorted(v for v in velocities[:, 0] if v > 0.1)
    # both sets reach G1Command's range ends (their cover_* clips)
    assert len(forward) >= 4 and forward[-1] > 0.55 and velocities[:, 0].min() < -0.25
    assert velocities[:, 1].max() > 0.19 and velocities[:, 1].min() < -0.2
    assert velocities[:, 2].max() > 0.6 and velocities[:, 2].min() < -0.6
    assert all(clip.fps == 50.0 and clip.duration == pytest.approx(4.0) for clip in clips)


# ---------------------------------------------------------------------------------------------------- tasks


def test_layouts_are_derived_from_the_spec(spec):
    env_cfg, source = env_mapping(robot=spec.name)
    env = build_env(env_cfg, 2, task="G1Command", source=source, engine_factory=FakeEngine)
    n = spec.num_joints
    assert env.obs_parts == [("projected_gravity", 3), ("joint_pos", n), ("joint_vel", n), ("last_action", n),
                             ("commands", 3), ("gait_phase", 2)]  # G1Command's gait clock
    assert env.num_actions == n and env.action_space.shape == (n,)
    legs_and_shoulder_pitch = [name for name in spec.joint_names if "_hip_" in name or "_knee_" in name
                               or "_ankle_" in name or "shoulder_pitch" in name]
    assert list(env.amp_layout.joint_names) == legs_and_shoulder_pitch  # the exclude patterns fit both robots
    assert dict(env.amp_layout.parts)["key_body_pos_heading"] == 12
    layout = env.get_layout()
    assert layout["task"] == "G1Command" and layout["robot"] == spec.name
    assert layout["action_joints"] == list(spec.joint_names) and layout["control_dt"] == pytest.approx(0.02)
    assert np.allclose(layout["default_joint_pos"], spec.default_joint_pos)
    assert env.motion_lib.key_bodies == spec.key_bodies
    assert env.motion_lib.num_clips == 32


def test_demo_amp_features_equal_the_clip_replayed_in_the_engine(g1):
    from awd.engine.mujoco_cpu import MujocoCpuEngine

    clips = load_dataset(Path(g1.spec_path).parents[2] / "motions" / "g1", g1.joint_names)
    lib = motion_lib_for_robot(g1, [c for c in clips if c.metadata["Placo"]["avg_yaw_vel"] > 0.5 or
                                    c.metadata["Placo"]["avg_x_lin_vel"] > 0.5])
    env_cfg, source = env_mapping("G1AMP", amp={**load_run_config("G1AMP")["env"]["amp"], "num_steps": 4,
                                                "exclude_joints": []})
    engine = MujocoCpuEngine(g1, 3, tracked_bodies=tracked_bodies(g1), num_threads=1)
    env = make_task("G1AMP", env_config_from_mapping(env_cfg, source), engine, lib, g1)
    assert_demo_features_match_the_engine(env, lib, torch.tensor([0, 1, 0]),
                                          torch.tensor([0.3, 1.1, 1.9], dtype=torch.float64))


def test_the_physics_checks_replay_the_clips_under_the_shipped_g1command_config():
    from awd.style.physics_check import build_replay_env

    env_cfg, source = env_mapping()
    assert env_cfg["rewards"]["gait_contact"]["weight"] > 0  # a clock term, which the replay's DucklingAMP lacks
    env = build_replay_env({"env": env_cfg, "source": source}, 2)
    assert env.num_envs == 2 and env.motion_lib.num_clips > 1


def test_humanoid_terminations(g1):
    env_cfg, source = env_mapping(init={"mode": "Default", "hybrid_prob": 0.0, "root_height_offset": 0.0})
    env = build_env(env_cfg, 4, task="G1Command", source=source, engine_factory=FakeEngine)
    env.reset()
    engine = env.engine
    for _ in range(3):
        env.step(torch.zeros(4, env.num_actions))
    engine.root_quat[:] = quat_from_euler_xyz(torch.tensor([0.0, 0.5, 1.0, 0.0]), torch.zeros(4),
                                              torch.zeros(4))
    engine.root_pos[3, 2] = 0.4
    assert env.fallen().tolist() == [False, False, True, True]  # 0.5 rad leans, 1 rad is down; pelvis at 0.4 m
    engine.root_quat[:] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    engine.root_pos[:, 2] = g1.init_root_height
    engine.body_pos[1, env.head_index, 2] = 0.5
    engine.non_foot_ground_contact[2] = True
    assert env.fallen().tolist() == [False, True, True, False]


# ---------------------------------------------------------------------------------------------------- official files


def official_layout_spec(tmp_path: Path) -> Path:
    """An MJCF laid out like the official G1 files (e.g. MuJoCo Menagerie's): Unitree joint names, its own
    position actuators, IMU sensors, a keyframe, a mesh, point-like foot contacts on the ankle links and no
    sole, hand, head or trunk frames; and a spec for it."""
    model_spec = mujoco.MjSpec.from_file(str(load_robot_spec("g1").mjcf_path))
    for name in ("left_foot", "right_foot", "left_hand", "right_hand", "head", "trunk"):
        model_spec.delete(model_spec.body(name))
    for side in ("left", "right"):
        ankle = model_spec.body(f"{side}_ankle_roll_link")
        for x in (-0.05, 0.12):
            for y in (-0.025, 0.025):
                geom = ankle.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.005, 0, 0], pos=[x, y, -0.03])
                geom.contype, geom.conaffinity = 1, 1
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "box.obj").write_text(
        "v -0.05 -0.05 -0.05\nv 0.05 -0.05 -0.05\nv 0.05 0.05 -0.05\nv -0.05 0.05 -0.05\n"
        "v -0.05 -0.05 0.05\nv 0.05 -0.05 0.05\nv 0.05 0.05 0.05\nv -0.05 0.05 0.05\n"
        "f 1 3 2\nf 1 4 3\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n")
    model_spec.meshdir = "assets"
    model_spec.add_mesh(name="pelvis_mesh", file="box.obj")
    model_spec.body("pelvis").add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="pelvis_mesh", contype=0,
                                       conaffinity=0, density=0)
    torso_site = model_spec.body("torso_link").add_site(name="imu_in_torso", pos=[-0.04, 0, 0.15])
    model_spec.add_sensor(type=mujoco.mjtSensor.mjSENS_GYRO, objtype=mujoco.mjtObj.mjOBJ_SITE,
                          objname=torso_site.name, name="imu-torso-angular-velocity")
    joints = load_robot_spec("g1").joint_names
    for name in joints:
        actuator = model_spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        actuator.set_to_position(kp=500.0, kv=10.0)
    model_spec.add_key(name="stand", qpos=[0, 0, 0.79, 1, 0, 0, 0] + [0.0] * 29, ctrl=[0.0] * 29)
    model_spec.modelfiledir = str(tmp_path)
    model_spec.compile()
    (tmp_path / "g1_official.xml").write_text(model_spec.to_xml())
    raw = yaml.safe_load(load_robot_spec("g1").spec_path.read_text())
    raw.update(name="g1_official", mjcf="g1_official.xml")
    for key in ("urdf", "placo_defaults"):
        raw.pop(key)
    ankles = ["left_ankle_roll_link", "right_ankle_roll_link"]
    raw["bodies"] = {"trunk": "pelvis", "feet": ankles, "key_bodies": ankles + ["left_wrist_yaw_link",
                                                                                 "right_wrist_yaw_link"]}
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_an_official_layout_mjcf_is_accepted_by_the_spec_and_the_tasks(tmp_path):
    from awd.engine.mujoco_cpu import MujocoCpuEngine

    path = official_layout_spec(tmp_path)
    spec = load_robot_spec(path)
    assert spec.head_body is None and spec.foot_bodies == ("left_ankle_roll_link", "right_ankle_roll_link")
    env_cfg, source = env_mapping("G1AMP", robot=str(path), motion_file="motions/g1")
    engine_factory = lambda *args, **kwargs: MujocoCpuEngine(*args, num_threads=1, **kwargs)  # noqa: E731
    env = build_env(env_cfg, 3, task="G1AMP", source=source, engine_factory=engine_factory)
    engine = env.engine
    assert engine.model.nu == 29 and engine.foot_contacts.all()  # the sole spheres touch the floor
    assert np.allclose(engine.model.actuator_gainprm[:, 0], spec.kp)  # the spec's gains, not the file's
    env.reset()
    for _ in range(3):
        obs, _, _, infos = env.step(torch.zeros(3, env.num_actions))
    assert torch.isfinite(obs).all() and torch.isfinite(infos["amp_obs"]).all()
    assert_demo_features_match_the_engine(env, env.motion_lib, torch.tensor([0, 5, 9]),
                                          torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64))


# ---------------------------------------------------------------------------------------------------- run.py

SMALL = ["--num_envs", "4", "--headless", "--seed", "1",
         "train.params.network.actor.units=[32, 32]", "train.params.network.critic.units=[32, 32]",
         "train.params.network.disc.units=[32, 32]", "train.params.config.horizon_length=16",
         "train.params.config.mini_epochs=2", "train.params.config.amp_obs_demo_buffer_size=512",
         "train.params.config.amp_replay_buffer_size=512"]


def test_g1amp_trains_and_plays_from_run_py(tmp_path, capsys):
    run_main(["--task", "G1AMP", *SMALL, "--output_path", str(tmp_path), "--max_iterations", "2"])
    (run_dir,) = tmp_path.iterdir()
    checkpoint = run_dir / "nn" / "G1AMP.pth"
    state = load_checkpoint(checkpoint)
    assert state["epoch"] == 2 and state["layout"]["robot"] == "g1" and state["layout"]["task"] == "G1AMP"
    assert state["layout"]["action_joints"][0] == "left_hip_pitch_joint" and state["layout"]["action_size"] == 29
    capsys.readouterr()
    run_main(["--test", "--headless", "--checkpoint", str(checkpoint), "--duration", "1"])
    status = [line for line in capsys.readouterr().out.splitlines() if "measured vx" in line]
    assert len(status) == 1, "one status line per second of headless playback"
    run_main(["--export", "--checkpoint", str(checkpoint), "--export_dir", str(tmp_path / "export")])
    metadata = json.loads((tmp_path / "export" / "policy.json").read_text())
    assert metadata["joints"]["names"][0] == "left_hip_pitch_joint" and len(metadata["joints"]["names"]) == 29
    assert metadata["termination"]["max_tilt"] == 0.8 and metadata["robot"]["root_body"] == "pelvis"
