"""The robots: mini_bdx spec validation and standing; for every shipped robot, the generated URDF agrees with
the MJCF (the G1 has its own tests in test_g1.py)."""

from pathlib import Path

import mujoco
import numpy as np
import placo
import pytest
import torch
import yaml
from foreign_robot import DUCK_XML, base_below_trunk, feet_on_ankles, renamed

from awd import DATA_DIR
from awd.errors import AwdError
from awd.robot import load_robot_spec
from awd.robot.model import build_model, default_qpos, joint_qpos_addresses
from awd.robot.urdf import mjcf_to_urdf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.fixture(scope="module", params=("mini_bdx", "g1", "g1_23dof"))
def any_spec(request):
    return load_robot_spec(request.param)


def test_spec_matches_the_published_duck(spec):
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    assert spec.num_joints == 16
    assert spec.joint_names[:5] == ("left_hip_yaw", "left_hip_roll", "left_hip_pitch", "left_knee", "left_ankle")
    assert 1.9 < model.body_subtreemass[1] < 2.3
    assert spec.control_rate == 50.0
    assert np.allclose(spec.kp[:5], 6.5) and np.allclose(spec.effort_limit[:5], 3.6)
    assert np.allclose(model.dof_armature[6:][:5], 0.027) and np.allclose(model.dof_frictionloss[6:][:5], 0.045)


def test_generated_urdf_is_up_to_date(any_spec):
    assert any_spec.urdf_path.read_text() == '<?xml version="1.0"?>\n' + mjcf_to_urdf(any_spec)


def test_urdf_and_mjcf_agree_on_joints_and_foot_kinematics(any_spec):
    spec = any_spec
    robot = placo.HumanoidRobot(str(spec.urdf_path))
    assert tuple(robot.joint_names()) == spec.joint_names
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    data = mujoco.MjData(model)
    addresses = joint_qpos_addresses(model, spec)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(spec.joint_lower, spec.joint_upper)
        data.qpos[:] = model.qpos0
        data.qpos[addresses] = q
        mujoco.mj_kinematics(model, data)
        for name, value in zip(spec.joint_names, q):
            robot.set_joint(name, value)
        robot.update_kinematics()
        trunk = np.linalg.inv(robot.get_T_world_frame("trunk"))
        for frame in dict.fromkeys((*spec.foot_bodies, *spec.key_bodies, spec.head_body)):
            placo_pos = (trunk @ robot.get_T_world_frame(frame))[:3, 3]
            mujoco_pos = data.xpos[model.body(frame).id] - data.xpos[model.body("trunk").id]
            assert np.abs(placo_pos - mujoco_pos).max() < 1e-3, frame
    for name, low, high in zip(spec.joint_names, spec.joint_lower, spec.joint_upper):
        assert np.allclose(robot.model.lowerPositionLimit[robot.get_joint_offset(name)], low)
        assert np.allclose(robot.model.upperPositionLimit[robot.get_joint_offset(name)], high)


def test_default_pose_stands_for_ten_seconds(spec):
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    data.ctrl[:] = spec.default_joint_pos
    mujoco.mj_forward(model, data)
    feet = [data.xpos[model.body(name).id][2] for name in spec.foot_bodies]
    assert np.allclose(feet, 0.0, atol=2e-3)
    for _ in range(2000):
        mujoco.mj_step(model, data)
    assert np.isfinite(data.qpos).all()
    assert abs(data.qpos[2] - spec.init_root_height) < 0.01
    assert np.linalg.norm(data.qpos[:2]) < 0.03
    assert data.qpos[3] > 0.995  # upright within about 10 degrees of PD sag


def _write_spec(tmp_path, edit):
    raw = yaml.safe_load(load_robot_spec("mini_bdx").spec_path.read_text())
    raw["mjcf"] = str(load_robot_spec("mini_bdx").mjcf_path)
    raw.pop("urdf")
    raw.pop("placo_defaults", None)
    edit(raw)
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "edit, field, words",
    [
        (lambda r: r["joints"].__setitem__(0, {"name": "left_hip_yawn"}), "joints", "left_hip_yawn"),
        (lambda r: r["joints"].pop(3), "joints", "missing from the spec"),
        (lambda r: r["joints"][2].__setitem__("default", 3.0), "joints.left_hip_pitch.default", "within"),
        (lambda r: r["joints"][2].__setitem__("kp", "stiff"), "joints[2].kp", "expected a number, got 'stiff'"),
        (lambda r: r["joints"][2].__setitem__("kp", -1), "joints[2].kp", "non-negative number"),
        (lambda r: r.__setitem__("contol", r.pop("control")), "contol", "unknown key; did you mean 'control'?"),
        (lambda r: r["joints"][2].__setitem__("armature", -0.01), "joints[2].armature", "non-negative number"),
        (lambda r: r["init"].pop("root_height"), "init.root_height", "missing; expected a number"),
        (lambda r: r["bodies"].__setitem__("feet", ["left_foot"]), "bodies.feet", "two bodies"),
        (lambda r: r["bodies"].__setitem__("trunk", "torso"), "bodies.trunk", "no body or site named 'torso'"),
        (lambda r: r["control"].__setitem__("decimation", 0), "control.decimation", "positive integer"),
        (lambda r: r["init"].__setitem__("root_quat", [0, 0, 0, 2]), "init.root_quat", "unit quaternion"),
        (lambda r: r.__setitem__("mjcf", "nowhere.xml"), "mjcf", "file not found"),
        (lambda r: r["joints"][3].__setitem__("action_scale", 0.0), "joints[3].action_scale", "positive number"),
    ],
)
def test_bad_spec_gives_one_line_error_naming_file_and_field(tmp_path, edit, field, words):
    path = _write_spec(tmp_path, edit)
    with pytest.raises(AwdError) as error:
        load_robot_spec(path)
    message = str(error.value)
    assert str(path) in message and field in message and words in message
    assert "\n" not in message


def test_user_robot_by_path(tmp_path):
    path = _write_spec(tmp_path, lambda raw: raw.__setitem__("name", "my_duck"))
    assert load_robot_spec(path).name == "my_duck"


def test_unknown_robot_name():
    with pytest.raises(AwdError, match="unknown robot 'robo'"):
        load_robot_spec("robo")


def test_joint_armature_damping_and_friction_come_from_the_spec_else_the_mjcf(tmp_path):
    def edit(raw):
        raw["joint_defaults"]["damping"] = 0.2
        raw["joints"][3]["armature"] = 0.05
    spec = load_robot_spec(_write_spec(tmp_path, edit))
    model = build_model(spec)
    dofs = [model.jnt_dofadr[model.joint(name).id] for name in spec.joint_names]
    shipped = load_robot_spec("mini_bdx")
    assert spec.armature[3] == 0.05 and model.dof_armature[dofs[3]] == pytest.approx(0.05)
    assert model.dof_armature[dofs[2]] == pytest.approx(shipped.armature[2]) == pytest.approx(0.027)  # the MJCF's
    np.testing.assert_allclose(model.dof_damping[dofs], 0.2)
    np.testing.assert_allclose(model.dof_frictionloss[dofs], shipped.frictionloss)


def test_an_actuated_joint_without_armature_is_warned(tmp_path):
    path = _write_spec(tmp_path, lambda raw: raw["joints"][0].__setitem__("armature", 0.0))
    with pytest.warns(UserWarning, match=r"robot.yaml: joints: 1 actuated joint\(s\) without armature \(left_hip_y"):
        load_robot_spec(path)


def _feet_on_ankles(tmp_path):
    """mini_bdx with each foot's collision box on its ankle link and a geometry-less sole frame."""
    path = tmp_path / "feet_on_ankles.xml"
    path.write_text(feet_on_ankles(DUCK_XML.read_text()))
    return path


def test_a_foot_without_collision_geometry_is_refused_with_the_body_that_has_it(tmp_path):
    mjcf = _feet_on_ankles(tmp_path)
    path = _write_spec(tmp_path, lambda raw: raw.__setitem__("mjcf", str(mjcf)))
    with pytest.raises(AwdError) as error:
        load_robot_spec(path)
    message = str(error.value)
    assert "bodies.feet" in message and "'left_foot' holds no collision geometry" in message
    assert "foot_contact_bodies" in message and "'left_ankle_link'" in message and "\n" not in message


def test_foot_contact_bodies_carry_the_feet_contacts(tmp_path):
    from awd.engine import make_engine

    mjcf = _feet_on_ankles(tmp_path)

    def edit(raw):
        raw["mjcf"] = str(mjcf)
        raw["bodies"]["foot_contact_bodies"] = ["left_ankle_link", "right_ankle_link"]

    spec = load_robot_spec(_write_spec(tmp_path, edit))
    assert spec.foot_bodies == ("left_foot", "right_foot")
    engine = make_engine("mujoco", spec, 1)
    for _ in range(25):
        engine.step(torch.as_tensor(spec.default_joint_pos, dtype=torch.float32)[None])
    assert engine.foot_contacts.all() and not engine.non_foot_ground_contact.any()


def _antennas_locked(raw, angle=0.3):
    raw["joints"] = [joint for joint in raw["joints"] if "antenna" not in joint["name"]]
    raw["locked_joints"] = [{"name": "left_antenna", "angle": angle}, {"name": "right_antenna", "angle": -angle}]


def test_locked_joints_are_welded_at_their_angle_everywhere(tmp_path):
    from awd.robot.model import kinematic_model

    spec = load_robot_spec(_write_spec(tmp_path, _antennas_locked))
    assert spec.num_joints == 14 and spec.locked_joints == (("left_antenna", 0.3), ("right_antenna", -0.3))
    original = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    data = mujoco.MjData(original)
    data.qpos[original.joint("left_antenna").qposadr[0]] = 0.3
    data.qpos[original.joint("right_antenna").qposadr[0]] = -0.3
    mujoco.mj_kinematics(original, data)
    for model in (kinematic_model(spec), build_model(spec)):
        assert model.njnt == 15 and model.nu in (0, 14)
        locked = mujoco.MjData(model)
        mujoco.mj_kinematics(model, locked)
        for body in ("left_antenna_link", "right_antenna_link"):
            np.testing.assert_allclose(locked.xpos[model.body(body).id], data.xpos[original.body(body).id], atol=1e-9)
            np.testing.assert_allclose(locked.xquat[model.body(body).id], data.xquat[original.body(body).id], atol=1e-9)
    urdf = mjcf_to_urdf(spec)
    assert '<joint name="left_antenna" type="revolute"' not in urdf and 'type="revolute"' in urdf


@pytest.mark.parametrize("edit, field, words", [
    (lambda r: r.__setitem__("locked_joints", [{"name": "left_antenna"}]), "locked_joints[0].name", "listed twice"),
    (lambda r: _antennas_locked(r, 9.0), "locked_joints[0].angle", "within the joint's range"),
    (lambda r: r.__setitem__("locked_joints", [{"name": "tail"}]), "locked_joints[0].name", "not a hinge joint"),
    (lambda r: r.__setitem__("joints", r["joints"][:9] + r["joints"][11:]), "joints", "or in locked_joints"),
])
def test_bad_locked_joints_are_refused(tmp_path, edit, field, words):
    path = _write_spec(tmp_path, edit)
    with pytest.raises(AwdError) as error:
        load_robot_spec(path)
    assert field in str(error.value) and words in str(error.value) and "\n" not in str(error.value)


def test_placo_walks_a_robot_whose_frames_have_other_names(tmp_path):
    from awd.gait.engine import WalkCommand, WalkEngine
    from awd.gait.params import load_walk_params
    from awd.robot.kinematics import BodyPositions
    from awd.robot.urdf import write_urdf

    duck = load_robot_spec("mini_bdx")
    text = duck.mjcf_path.read_text()
    for old, new in (("trunk", "base_link"), ("left_foot", "l_sole"), ("right_foot", "r_sole")):
        text = text.replace(f'name="{old}"', f'name="{new}"')
    (tmp_path / "renamed.xml").write_text(text)

    def edit(raw):
        raw.update(mjcf=str(tmp_path / "renamed.xml"), urdf="renamed.urdf",
                   placo_defaults=str(duck.placo_defaults_path))
        raw["bodies"].update(trunk="base_link", feet=["l_sole", "r_sole"], key_bodies=["l_sole", "r_sole"])

    spec = load_robot_spec(_write_spec(tmp_path, edit))
    write_urdf(spec)
    clip = WalkEngine(spec, load_walk_params(spec)).generate(WalkCommand(0.04, 0.0, 0.0), 1.0, 50.0).clip
    soles = BodyPositions(spec, spec.foot_bodies)(clip.root_pos, clip.root_quat, clip.joint_pos)
    np.testing.assert_allclose(clip.foot_pos, soles, atol=1e-4)
    assert clip.root_pos[-1, 0] - clip.root_pos[0, 0] > 0.1


def _base_below_trunk(tmp_path):
    """mini_bdx with its free joint on a `base` body 88 mm below the trunk, the trunk welded on it."""
    path = tmp_path / "base_below_trunk.xml"
    path.write_text(base_below_trunk(DUCK_XML.read_text()))
    return path


def test_a_free_joint_below_the_trunk_roots_clips_and_resets_on_it(tmp_path):
    from awd.engine import make_engine
    from awd.gait.engine import WalkCommand, WalkEngine
    from awd.gait.params import load_walk_params
    from awd.robot.urdf import write_urdf

    duck = load_robot_spec("mini_bdx")
    mjcf = _base_below_trunk(tmp_path)

    def edit(raw):
        raw.update(mjcf=str(mjcf), urdf="base.urdf", placo_defaults=str(duck.placo_defaults_path))

    with pytest.raises(AwdError, match=r"init.root_height: the feet are 87.\d mm above the floor.*'base': 0.136\d m"):
        load_robot_spec(_write_spec(tmp_path, edit))
    spec = load_robot_spec(_write_spec(tmp_path, lambda raw: (edit(raw), raw["init"].update(root_height=0.1364))))
    assert (spec.root_body, spec.trunk_body) == ("base", "trunk")
    write_urdf(spec)
    clip = WalkEngine(spec, load_walk_params(spec)).generate(WalkCommand(0.04, 0.0, 0.0), 1.0, 50.0).clip
    assert abs(clip.root_pos[:, 2].mean() - 0.136) < 0.01
    engine = make_engine("mujoco", spec, 1)
    state = [torch.as_tensor(a[:1], dtype=torch.float32) for a in (clip.root_pos, clip.root_quat, clip.root_lin_vel,
                                                                   clip.root_ang_vel, clip.joint_pos, clip.joint_vel)]
    engine.reset(torch.arange(1), *state)
    feet = engine.body_pos[0, [engine.body_index(name) for name in spec.foot_bodies]]
    np.testing.assert_allclose(feet.numpy(), clip.foot_pos[0], atol=2e-3)


def test_robot_setup_computes_the_standing_pose_and_writes_it(tmp_path, capsys):
    import importlib.util

    from awd.robot.urdf import write_urdf

    tool = importlib.util.spec_from_file_location("robot_setup", ROOT / "tools" / "robot_setup.py")
    robot_setup = importlib.util.module_from_spec(tool)
    tool.loader.exec_module(robot_setup)
    duck = load_robot_spec("mini_bdx")
    mjcf = _base_below_trunk(tmp_path)

    def edit(raw):  # a first guess: the trunk's height and knees a little off
        raw.update(mjcf=str(mjcf), urdf="base.urdf", placo_defaults=str(duck.placo_defaults_path))
        raw["joints"][3]["default"] = 1.4

    path = _write_spec(tmp_path, edit)
    write_urdf(load_robot_spec(path, check_height=False))
    assert robot_setup.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "init.root_height: 0.2242 -> 0.13" in out and "joints.left_knee.default: 1.4000 -> 1.59" in out
    assert robot_setup.main([str(path), "--write"]) == 0
    spec = load_robot_spec(path)
    assert abs(spec.init_root_height - 0.1365) < 2e-3 and abs(spec.default_joint_pos[3] - 1.6) < 0.01
    assert robot_setup.main([str(path)]) == 0


def test_a_trunk_frame_turned_against_the_root_turns_the_observed_gravity(tmp_path):
    from awd import DATA_DIR
    from awd.export import _quat_xyzw
    from awd.tasks import build_env
    from awd.utils.io import read_yaml

    text = DUCK_XML.read_text()
    anchor = '<body name="left_hip_yaw_link" pos="0 0.05 -0.045">'
    imu = '<body name="imu" pos="0.02 0 0.03" euler="0.17 0 0"/>'   # 10 degrees about x, welded on the trunk
    (tmp_path / "imu.xml").write_text(text.replace(anchor, imu + anchor, 1))
    spec_path = _write_spec(tmp_path, lambda raw: (raw.__setitem__("mjcf", str(tmp_path / "imu.xml")),
                                                   raw["bodies"].__setitem__("trunk", "imu")))
    spec = load_robot_spec(spec_path)
    angle = np.arccos(spec.trunk_in_root[1, 1])
    assert spec.root_body == "trunk" and abs(angle - 0.17) < 1e-6
    np.testing.assert_allclose(_quat_xyzw(spec.trunk_in_root), [np.sin(0.085), 0, 0, np.cos(0.085)], atol=1e-9)
    env_mapping = {**read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml")["env"], "robot": str(spec_path)}
    env = build_env(env_mapping, 1, source="test")
    obs = env.reset()
    data = env.engine.env_data(0)
    imu_frame = data.xmat[env.engine.env_model(0).body("imu").id].reshape(3, 3)
    np.testing.assert_allclose(obs[0, :3].numpy(), imu_frame.T @ [0.0, 0.0, -1.0], atol=1e-5)
    site = text.replace(anchor, '<site name="imu" pos="0.02 0 0.03" euler="0.17 0 0"/>' + anchor, 1)
    (tmp_path / "site.xml").write_text(renamed(site, {"trunk": "torso"}))   # the same frame as a site on the trunk
    on_site = load_robot_spec(_write_spec(tmp_path, lambda raw: (raw.__setitem__("mjcf", str(tmp_path / "site.xml")),
                                                                 raw["bodies"].__setitem__("trunk", "imu"))))
    assert (on_site.trunk_body, on_site.trunk_site, on_site.root_body) == ("torso", "imu", "torso")
    np.testing.assert_allclose(on_site.trunk_in_root, spec.trunk_in_root, atol=1e-12)
    urdf = mjcf_to_urdf(on_site)   # Placo's trunk frame at the site
    assert '<joint name="trunk_frame" type="fixed">' in urdf and 'rpy="0.17 0 0"' in urdf
    with pytest.raises(AwdError, match="bodies.trunk: 'left_knee_link' moves relative to the free-joint body"):
        load_robot_spec(_write_spec(tmp_path, lambda raw: raw["bodies"].__setitem__("trunk", "left_knee_link")))


def test_a_joint_may_have_its_own_action_scale_in_the_targets_and_the_contract(tmp_path):
    from awd.tasks import build_env

    def edit(raw):
        raw["joints"][3]["action_scale"] = 0.8  # left_knee
        raw["joint_defaults"]["action_scale"] = 0.4

    spec = load_robot_spec(_write_spec(tmp_path, edit))
    assert spec.joint_action_scale[3] == 0.8 and spec.joint_action_scale[0] == 0.4 and spec.action_scale == 0.5
    assert spec.action_scale_record()[3] == 0.8 and load_robot_spec("mini_bdx").action_scale_record() == 0.5
    mapping = yaml.safe_load((DATA_DIR / "cfg" / "mini_bdx" / "duckling_stand.yaml").read_text())["env"]
    env = build_env({**mapping, "robot": str(spec.spec_path), "init": {"mode": "Default"}}, 1, seed=0)
    targets = env.joint_targets(torch.ones(1, spec.num_joints)) - env.default_joint_pos
    assert torch.allclose(targets[0], torch.as_tensor(spec.joint_action_scale, dtype=targets.dtype))


def test_gains_from_armature_set_a_natural_frequency_and_a_damping_ratio(tmp_path):
    from awd.robot.gains import armature_gains

    g1 = load_robot_spec("g1")
    gains = armature_gains(g1, 10.0, 2.0)
    knee = g1.joint_index("left_knee_joint")
    omega = 2 * np.pi * 10.0
    assert gains["kp"][knee] == pytest.approx(99.1, abs=0.1)  # the G1 knee motor's rotor inertia, 10 Hz
    assert np.allclose(np.sqrt(gains["kp"] / g1.armature), omega)
    assert np.allclose(gains["kd"] / (2 * np.sqrt(gains["kp"] * g1.armature)), 2.0)
    assert np.allclose(gains["action_scale"] * gains["kp"], 0.25 * g1.effort_limit)
    with pytest.warns(UserWarning, match="without armature"):
        bare = load_robot_spec(_write_spec(tmp_path, lambda raw: raw["joints"][0].__setitem__("armature", 0.0)))
    with pytest.raises(AwdError, match="joints.armature: gains from armature need every joint's armature > 0"):
        armature_gains(bare, 10.0, 2.0)

    import importlib.util

    tool = importlib.util.spec_from_file_location("robot_setup", ROOT / "tools" / "robot_setup.py")
    robot_setup = importlib.util.module_from_spec(tool)
    tool.loader.exec_module(robot_setup)
    path = _write_spec(tmp_path, lambda raw: None)  # replaces the spec without armature
    assert robot_setup.main([str(path), "--gains_from_armature", "10", "2", "--write"]) == 0
    written, duck = load_robot_spec(path), load_robot_spec("mini_bdx")
    assert np.allclose(written.kp, duck.armature * omega ** 2, rtol=1e-5)
    assert np.allclose(written.joint_action_scale, 0.25 * duck.effort_limit / written.kp, rtol=1e-4)
