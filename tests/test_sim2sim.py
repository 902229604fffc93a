"""tools/sim2sim.py on an export of a briefly trained checkpoint: its observations equal the env's step for
step, it reports the evaluator's numbers under the same command, it runs end to end on CPU without importing
awd, and bad input is one line with exit code 2."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from awd.evaluate import EvalSettings, evaluate
from awd.export import export_checkpoint
from awd.learning.checkpoint import load_checkpoint, save_checkpoint
from awd.loader import load_policy

TOOL = Path(__file__).resolve().parent.parent / "tools" / "sim2sim.py"


@pytest.fixture(scope="module")
def sim2sim():
    spec = importlib.util.spec_from_file_location("sim2sim_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folder(trained_checkpoint, tmp_path_factory):
    return export_checkpoint(trained_checkpoint, tmp_path_factory.mktemp("sim2sim") / "export")


def test_observations_and_velocities_equal_the_envs_step_for_step(sim2sim, folder, trained_checkpoint):
    metadata, policy = sim2sim.load_export(folder)
    _, env, _ = load_policy(trained_checkpoint)
    robots = sim2sim.Robots(sim2sim.build_model(metadata, sim2sim.resolve_mjcf(metadata, None, folder)), metadata, 1,
                            np.random.default_rng(0))
    command = np.array([[0.2, -0.05, 0.5]])
    env.set_commands(torch.tensor(command[0], dtype=torch.float32))
    env_obs = env.reset().numpy()
    robots.reset()
    obs = robots.observations(command)
    for _ in range(100):
        assert np.abs(obs - env_obs).max() < 1e-5
        actions = policy.run(["actions"], {"obs": obs})[0]
        env_obs = env.step(torch.from_numpy(actions))[0].numpy()
        assert not robots.step(actions).any()
        obs = robots.observations(command)
        for mine, theirs in zip(robots.tracking_velocities(), env.tracking_velocities()):
            assert np.abs(mine - theirs.numpy()).max() < 1e-5
    assert np.abs(obs[0, 3:19]).max() > 1e-3  # the joints moved away from the default pose


def test_the_numbers_equal_the_evaluators_under_a_fixed_command(sim2sim, folder, trained_checkpoint, tmp_path):
    state = load_checkpoint(trained_checkpoint)
    state["config"]["config"]["env_config"]["env"]["commands"].update(
        lin_vel_x=[0.15, 0.15], lin_vel_y=[0.0, 0.0], ang_vel_z=[0.4, 0.4])
    fixed = save_checkpoint(tmp_path / "fixed.pth", state)
    expected = evaluate(fixed, EvalSettings(num_envs=2, episode_s=2.0, resample_s=1.0, zero_prob=0.0, settle_s=0.5,
                                            threads=1, style=None))
    result = sim2sim.sim2sim(folder, sim2sim.Settings(num_envs=2, episode_s=2.0, resample_s=1.0, settle_s=0.5,
                                                       command=(0.15, 0.0, 0.4)))
    for key in ("survival", "falls", "env_steps", "tracked_steps"):
        assert result[key] == expected[key], key
    for key in ("planar_error", "yaw_error"):
        assert result[key] == pytest.approx(expected[key], rel=1e-3), key


def test_thresholds_are_the_tasks_verdict_unless_given(sim2sim, folder):
    metadata = json.loads((folder / "policy.json").read_text())
    verdict = metadata["env_config"]["env"]["verdict"]
    verdict["planar_error"] = 0.08  # as the G1's
    chosen = sim2sim.with_task_thresholds(sim2sim.Settings(), metadata, folder)
    assert (chosen.min_survival, chosen.max_planar_error, chosen.max_yaw_error) == (verdict["survival"], 0.08,
                                                                                  verdict["yaw_error"])
    _, given = sim2sim.parse_args([str(folder), "--max_planar_error", "0.02"])
    assert sim2sim.with_task_thresholds(given, metadata, folder).max_planar_error == 0.02
    del metadata["env_config"]["env"]["verdict"]  # an export without one
    assert sim2sim.with_task_thresholds(sim2sim.Settings(), metadata, folder).max_planar_error == 0.05
    metadata["env_config"]["env"]["verdict"] = {"yaw_error": "fast"}
    with pytest.raises(sim2sim.Sim2SimError, match=r"env\.verdict\.yaw_error: expected a finite number"):
        sim2sim.with_task_thresholds(sim2sim.Settings(), metadata, folder)


def test_the_share_of_stand_commands_is_the_settings_not_the_exports(sim2sim):
    trained = {"ranges": [[0.2, 0.4], [0.0, 0.0], [0.0, 0.0]], "small_lin_vel": 0.1, "small_ang_vel": 0.1,
               "zero_prob": 1.0}
    rng = np.random.default_rng(0)
    assert (sim2sim.sample_commands(trained, 64, 0.0, rng)[:, 0] >= 0.2).all()
    assert not sim2sim.sample_commands(trained, 64, 1.0, rng).any()


def test_runs_end_to_end_on_cpu_without_importing_awd(folder, tmp_path):
    out = tmp_path / "result.json"
    script = (f"import runpy, sys; sys.argv = [{str(TOOL)!r}, {str(folder)!r}, '--num_envs', '3', '--episode_s', "
              f"'1', '--resample_s', '0.5', '--settle_s', '0.2', '--json', {str(out)!r}]; "
              f"runpy.run_path({str(TOOL)!r}, run_name='__main__'); "
              "print('awd modules:', sorted(m for m in sys.modules if m == 'awd' or m.startswith('awd.')))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "awd modules: []" in run.stdout and "| survival |" in run.stdout
    result = json.loads(out.read_text())
    assert result["episodes"] == 3 and 0.0 <= result["survival"] <= 1.0
    assert 0 < result["tracked_steps"] < result["env_steps"] <= 3 * 50
    assert result["planar_error"] >= 0.0 and result["yaw_error"] >= 0.0


def test_bad_input_is_one_line_and_exit_code_2(sim2sim, folder, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    metadata = json.loads((folder / "policy.json").read_text())
    metadata["observation"]["parts"][0]["name"] = "lidar"
    (broken / "policy.json").write_text(json.dumps(metadata))
    cases = [([str(tmp_path / "nowhere")], "policy.json: file not found"),
             ([str(folder), "--mjcf", str(tmp_path / "robot.xml")], "robot.mjcf: file not found"),
             ([str(broken)], "observation.parts: unknown part 'lidar'")]
    tampered = {  # a policy.json edited by hand: each a one-line error naming the field
        "truncated": (lambda text: text[:200], "invalid JSON"),
        "no_observation": (lambda m: m.pop("observation"), "observation.delay_steps: missing"),
        "string_gain": (lambda m: m["joints"]["kp"].__setitem__(2, "6.5"), "joints.kp: expected 16 numbers"),
        "integrator": (lambda m: m["control"].update(integrator="verlet"), "control.integrator: expected one of"),
        "armature": (lambda m: m["joints"]["armature"].__setitem__(0, -0.1), "joints.armature: expected 16 non-neg"),
        "sim_dt": (lambda m: m["control"].update(sim_dt=0.0), "control.sim_dt: expected a positive number"),
        "part_size": (lambda m: m["observation"]["parts"][-1].update(size=4, scale=[1.0] * 4, offset=[0.0] * 4),
                      "io.obs_size: expected 55 (the observation parts' sizes), found 54"),
        "obs_size": (lambda m: m["io"].update(obs_size=55), "io.obs_size: expected 54 (the observation parts' sizes)"),
        "clock": (lambda m: m["observation"]["parts"][-1].update(name="gait_phase"),
                  "commands.gait_period_s: expected a positive period (s)"),
    }
    for name, (change, words) in tampered.items():
        copy = tmp_path / name
        copy.mkdir()
        (copy / "policy.onnx").write_bytes((folder / "policy.onnx").read_bytes())
        text = (folder / "policy.json").read_text()
        if name == "truncated":
            text = change(text)
        else:
            edited = json.loads(text)
            change(edited)
            text = json.dumps(edited)
        (copy / "policy.json").write_text(text)
        with pytest.raises(sim2sim.Sim2SimError) as info:  # the CLI prints this as "error: ...", exit code 2
            sim2sim.load_export(copy)
        assert words in str(info.value) and "\n" not in str(info.value), (name, str(info.value))
    for argv, words in cases:
        run = subprocess.run([sys.executable, str(TOOL), *argv], capture_output=True, text=True, timeout=120)
        assert run.returncode == 2
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("error: ") and words in line, line


def test_delays_are_applied_and_other_randomisation_is_named(sim2sim, trained_checkpoint, tmp_path):
    state = load_checkpoint(trained_checkpoint)
    rand = state["config"]["config"]["env_config"]["env"]["domain_rand"]
    rand["push"]["enabled"] = rand["action_delay"]["enabled"] = True
    rand["action_delay"]["max_steps"] = 2
    folder = export_checkpoint(save_checkpoint(tmp_path / "dr.pth", state), tmp_path / "export")
    metadata, _ = sim2sim.load_export(folder)
    assert metadata["action"]["delay_steps"] == [0, 2] and metadata["observation"]["delay_steps"] == [0, 0]
    assert metadata["training_randomization"] == ["action_delay", "push"]
    robots = sim2sim.Robots(sim2sim.build_model(metadata, sim2sim.resolve_mjcf(metadata, None, folder)), metadata, 8,
                            np.random.default_rng(1))
    robots.reset()
    assert set(robots.action_delay) == {0, 1, 2}
    robots.step(np.ones((8, 16), dtype=np.float32))
    targets = np.array([d.ctrl.copy() for d in robots.datas])
    moved = np.abs(targets - np.asarray(metadata["joints"]["default_pos"])).max(axis=1) > 0.1
    assert (moved == (robots.action_delay == 0)).all()  # a delayed robot still holds the default pose
    result = sim2sim.sim2sim(folder, sim2sim.Settings(num_envs=2, episode_s=0.5, resample_s=0.25, settle_s=0.1))
    assert result["not_reproduced"] == ["push"] and "note: training randomised push" in sim2sim.format_table(result)


def test_the_exports_joint_armature_damping_and_friction_build_the_model(sim2sim, folder):
    metadata = json.loads((folder / "policy.json").read_text())
    joints = metadata["joints"]
    count = len(joints["names"])
    joints.update(armature=[0.05] * count, damping=[0.3] * count, frictionloss=[0.01] * count)
    model = sim2sim.build_model(metadata, folder / metadata["robot"]["mjcf"])
    dofs = [model.jnt_dofadr[model.joint(name).id] for name in joints["names"]]
    assert (model.dof_armature[dofs] == 0.05).all() and (model.dof_damping[dofs] == 0.3).all()
    assert (model.dof_frictionloss[dofs] == 0.01).all()


def test_locked_joints_of_the_export_are_welded_as_in_training(sim2sim):
    import dataclasses

    import mujoco

    from awd.robot import load_robot_spec
    from awd.robot.model import build_model

    spec = load_robot_spec("mini_bdx")
    names = [name for name in spec.joint_names if "antenna" not in name]
    keep = [spec.joint_names.index(name) for name in names]
    locked = [{"name": "left_antenna", "angle": 0.4}, {"name": "right_antenna", "angle": -0.4}]
    metadata = {"control": {"sim_dt": spec.sim_dt, "integrator": "implicitfast"},
                "joints": {"names": names, "locked": locked,
                           **{key: getattr(spec, key)[keep].tolist() for key in ("kp", "kd", "effort_limit")}}}
    theirs = sim2sim.build_model(metadata, spec.mjcf_path)
    ours = build_model(dataclasses.replace(spec, joint_names=tuple(names), kp=spec.kp[keep], kd=spec.kd[keep],
                                           effort_limit=spec.effort_limit[keep], armature=spec.armature[keep],
                                           damping=spec.damping[keep], frictionloss=spec.frictionloss[keep],
                                           locked_joints=(("left_antenna", 0.4), ("right_antenna", -0.4))))
    assert theirs.nq == ours.nq == 7 + 14 and theirs.nu == 14
    data = [mujoco.MjData(model) for model in (theirs, ours)]
    for model, d in zip((theirs, ours), data):
        mujoco.mj_kinematics(model, d)
    body = "left_antenna_link"
    np.testing.assert_allclose(data[0].xquat[theirs.body(body).id], data[1].xquat[ours.body(body).id], atol=1e-12)
    with pytest.raises(sim2sim.Sim2SimError, match="joints.locked: no joint named 'tail'"):
        sim2sim.build_model({**metadata, "joints": {**metadata["joints"], "locked": [{"name": "tail", "angle": 0}]}},
                            spec.mjcf_path)


def test_the_export_carries_its_robot_model_and_a_tampered_one_is_refused(sim2sim, folder, tmp_path):
    import shutil

    metadata = json.loads((folder / "policy.json").read_text())
    assert metadata["robot"]["mjcf"] == "robot/mini_bdx.xml" and "robot/mini_bdx.xml" in metadata["robot"]["files"]
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved)   # another machine: no checkout, the folder alone
    assert sim2sim.resolve_mjcf(metadata, None, moved) == moved / "robot" / "mini_bdx.xml"
    (moved / "robot" / "mini_bdx.xml").write_text((moved / "robot" / "mini_bdx.xml").read_text() + "\n<!-- -->\n")
    with pytest.raises(sim2sim.Sim2SimError, match="robot.files: missing or not the exported file"):
        sim2sim.resolve_mjcf(metadata, None, moved)


def test_a_per_joint_action_scale_of_the_export_scales_each_target(sim2sim, folder):
    metadata, _ = sim2sim.load_export(folder)
    scales = np.linspace(0.2, 0.8, 16)
    metadata["action"]["scale"] = scales.tolist()
    robots = sim2sim.Robots(sim2sim.build_model(metadata, sim2sim.resolve_mjcf(metadata, None, folder)), metadata, 1,
                            np.random.default_rng(0))
    robots.reset()
    robots.step(np.ones((1, 16), dtype=np.float32))
    targets = robots.datas[0].ctrl - np.asarray(metadata["joints"]["default_pos"])
    assert np.allclose(targets, scales, atol=1e-6)
