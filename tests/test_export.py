"""Export (awd/export.py, tools/export.py, `run.py --export`) of a briefly trained checkpoint: the torch,
ONNX Runtime and TorchScript actors agree on random and recorded observations, policy.json is complete and
agrees with the robot spec, the env and the ONNX/TorchScript copies of it, the folder is replaced atomically,
and bad input (missing checkpoint, a config that does not match the checkpoint) fails with one line and
writes nothing."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import onnx
import pytest
import torch

from awd.errors import AwdError
from awd.export import export_checkpoint, onnx_metadata, random_observations, torchscript
from awd.learning.checkpoint import load_checkpoint, save_checkpoint
from awd.learning.policy import deterministic_actions
from awd.loader import load_policy, onnx_session
from awd.run import main as run_main

TOLERANCE = 1e-5
FIELDS = {"format", "format_version", "task", "source", "versions", "io", "robot", "joints", "action", "control",
          "observation", "commands", "normalizer", "termination", "training_randomization", "files", "export_check",
          "env_config", "dataset", "reset_state", "delay_rule"}


@pytest.fixture(scope="module")
def exported(trained_checkpoint, tmp_path_factory):
    folder = export_checkpoint(trained_checkpoint, tmp_path_factory.mktemp("export") / "policy", raw=True)
    return folder, json.loads((folder / "policy.json").read_text())


@pytest.fixture(scope="module")
def policy(trained_checkpoint):
    """(env, model) of the checkpoint: the training-side reference."""
    _, env, model = load_policy(trained_checkpoint)
    return env, model


def recorded_observations(env, model, steps: int = 60) -> np.ndarray:
    """Observations of the env driven by the checkpoint's policy under a few commands."""
    rows = []
    obs = env.reset()
    for step in range(steps):
        if step % 20 == 0:
            env.set_commands(torch.tensor([[0.2, 0.0, 0.5], [-0.1, 0.1, 0.0], [0.0, 0.0, -0.6]][step // 20]))
        rows.append(obs.numpy().copy())
        obs = env.step(deterministic_actions(model, obs))[0]
    return np.concatenate(rows)


def test_torch_onnx_and_torchscript_actors_agree(exported, policy):
    folder, metadata = exported
    env, model = policy
    with torchscript():
        scripted = torch.jit.load(str(folder / "policy.pt"))
    session = onnx_session(folder / "policy.onnx")
    recorded = recorded_observations(env, model)
    for obs in (random_observations(metadata, 512, seed=7), recorded):
        expected = deterministic_actions(model, torch.from_numpy(obs)).numpy()  # the training-side path
        assert np.abs(session.run(["actions"], {"obs": obs})[0] - expected).max() <= TOLERANCE
        assert np.abs(scripted(torch.from_numpy(obs)).detach().numpy() - expected).max() <= TOLERANCE
        assert np.abs(expected).max() <= 1.0
    assert np.abs(recorded).max() > 0 and len(np.unique(recorded[:, 0])) > 10  # a real rollout, not zeros


def test_raw_actor_with_the_normalizer_file_matches(exported, policy):
    folder, metadata = exported
    _, model = policy
    stats = np.load(folder / "normalizer.npz")
    obs = random_observations(metadata, 256, seed=3)
    normalized = np.clip((obs - stats["mean"]) / np.sqrt(stats["var"] + stats["epsilon"]), -stats["clip"],
                         stats["clip"])
    raw_actions = onnx_session(folder / "policy_raw.onnx").run(["actions"], {"obs": normalized.astype(np.float32)})[0]
    expected = deterministic_actions(model, torch.from_numpy(obs)).numpy()
    assert np.abs(raw_actions - expected).max() <= TOLERANCE
    assert float(stats["clip"]) == 5.0 and metadata["normalizer"]["clip"] == 5.0


def test_metadata_is_complete_and_agrees_with_the_spec_and_env(exported, policy, spec, trained_checkpoint):
    folder, metadata = exported
    env, _ = policy
    assert set(metadata) == FIELDS and metadata["format"] == "awd-policy" and metadata["task"] == "DucklingCommand"
    assert metadata["format_version"] == 2 and metadata["control"]["floor"]["contype"] == 1
    assert "implicitfast" in metadata["control"]["pd_implementation"] and "(quantity - offset) * scale" in \
        metadata["observation"]["rule"] and "norm" in metadata["commands"]["rule"]
    assert metadata["termination"]["max_tilt"] == 0.0 and "grace_steps" in metadata["termination"]["rule"]
    assert metadata["robot"]["root_body"] == "trunk" and metadata["joints"]["locked"] == []
    joints = metadata["joints"]
    assert joints["names"] == list(spec.joint_names)
    for key, values in (("default_pos", spec.default_joint_pos), ("kp", spec.kp), ("kd", spec.kd),
                        ("effort_limit", spec.effort_limit), ("lower", spec.joint_lower), ("upper", spec.joint_upper),
                        ("armature", spec.armature), ("damping", spec.damping), ("frictionloss", spec.frictionloss)):
        np.testing.assert_allclose(joints[key], values, err_msg=key)
    assert metadata["action"]["scale"] == spec.action_scale and metadata["action"]["clip"] == [-1.0, 1.0]
    assert "default_pos + scale" in metadata["action"]["target"]
    control = metadata["control"]
    assert control["control_rate_hz"] == pytest.approx(1 / control["control_dt"]) == pytest.approx(spec.control_rate)
    assert control["sim_dt"] * control["decimation"] == pytest.approx(control["control_dt"])
    assert metadata["robot"]["mjcf"] == "robot/mini_bdx.xml" and metadata["robot"]["source_mjcf"] == str(spec.mjcf_path)
    assert metadata["robot"]["foot_bodies"] == list(spec.foot_bodies)

    layout = load_checkpoint(trained_checkpoint)["layout"]
    parts = metadata["observation"]["parts"]
    assert [[p["name"], p["size"]] for p in parts] == layout["obs"]
    assert [p["start"] for p in parts] == list(np.cumsum([0] + [p["size"] for p in parts[:-1]]))
    assert sum(p["size"] for p in parts) == metadata["observation"]["size"] == metadata["io"]["obs_size"] == env.num_obs
    assert all(len(p["elements"]) == len(p["scale"]) == len(p["offset"]) == p["size"] for p in parts)
    by_name = {p["name"]: p for p in parts}
    assert by_name["joint_pos"]["elements"] == list(spec.joint_names)
    np.testing.assert_allclose(by_name["joint_pos"]["offset"], spec.default_joint_pos)
    assert set(by_name["joint_vel"]["scale"]) == {env.cfg.observations.joint_vel_scale}
    assert by_name["commands"]["scale"] == list(env.cfg.commands.obs_scale)
    commands = metadata["commands"]
    assert commands["ranges"] == [list(env.cfg.commands.lin_vel_x), list(env.cfg.commands.lin_vel_y),
                                  list(env.cfg.commands.ang_vel_z)]
    assert (commands["gait_period_s"], commands["gait_off_at_zero"]) == (env.cfg.commands.gait_period_s, False)
    normalizer = metadata["normalizer"]
    assert len(normalizer["mean"]) == len(normalizer["var"]) == env.num_obs and min(normalizer["var"]) > 0
    assert all(metadata["versions"][k] for k in ("awd", "torch", "onnx", "onnxruntime", "mujoco", "rl-games"))
    assert metadata["source"]["epoch"] == 1 and metadata["export_check"]["policy"]["onnxruntime"] <= TOLERANCE

    model = onnx.load(str(folder / "policy.onnx"))
    (obs_input,), (actions_output,) = model.graph.input, model.graph.output
    assert obs_input.name == "obs" and obs_input.type.tensor_type.shape.dim[1].dim_value == env.num_obs
    assert actions_output.type.tensor_type.shape.dim[1].dim_value == len(spec.joint_names)
    assert onnx_metadata(folder / "policy.onnx") == metadata == onnx_metadata(folder / "policy_raw.onnx")
    with zipfile.ZipFile(folder / "policy.pt") as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("extra/policy.json")]
        assert json.loads(archive.read(name)) == metadata
    assert sorted(p.name for p in folder.iterdir()) == sorted([*metadata["files"].values(), "robot"])


def test_run_py_export_replaces_an_earlier_export_and_refuses_other_folders(trained_checkpoint, tmp_path, capsys):
    folder = tmp_path / "deploy"
    run_main(["--export", "--checkpoint", str(trained_checkpoint), "--export_dir", str(folder)])
    assert "policy.onnx" in capsys.readouterr().out
    (folder / "stale.txt").write_text("from an earlier export")
    run_main(["--export", "--checkpoint", str(trained_checkpoint), "--export_dir", str(folder)])
    assert sorted(p.name for p in folder.iterdir()) == ["policy.json", "policy.onnx", "policy.pt", "robot"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy"]  # no temporary folders left

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        run_main(["--export", "--checkpoint", str(trained_checkpoint), "--export_dir", str(other)])
    assert exit_info.value.code == 2 and "not an earlier output" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["keep.txt"]


def test_the_parity_check_fails_on_nan(monkeypatch):
    import awd.export as export

    monkeypatch.setattr(export, "parity", lambda *args: {"onnxruntime": float("nan"), "torchscript": 0.0})
    with pytest.raises(AwdError, match="onnxruntime differs from the torch actor by nan"):
        export.check_actor("policy.onnx", None, onnx.ModelProto(), None, np.zeros((1, 3), np.float32))


def test_a_checkpoint_with_non_finite_weights_is_not_written(trained_checkpoint, tmp_path):
    state = load_checkpoint(trained_checkpoint)
    state["amp_input_mean_std"]["running_var"][0] = float("inf")
    with pytest.raises(AwdError, match="not written: non-finite values in .*amp_input_mean_std.running_var"):
        save_checkpoint(tmp_path / "poisoned.pth", state)
    assert list(tmp_path.iterdir()) == []


def _doctored(checkpoint, target, change):
    state = load_checkpoint(checkpoint)
    change(state)
    return save_checkpoint(target, state)


@pytest.mark.parametrize("case", ["override", "cfg_env", "network", "missing", "nan"])
def test_bad_input_fails_with_one_line_and_writes_nothing(case, trained_checkpoint, tmp_path, capsys):
    checkpoint, extra, words = trained_checkpoint, [], []
    if case == "override":  # the env the checkpoint is exported against observes more than it was trained on
        extra, words = ["env.observations.foot_contacts=true"], ["layout", "obs: checkpoint=", "foot_contacts"]
    elif case == "cfg_env":  # another env config: defaults (5 AMP frames, every joint in the AMP features)
        other = tmp_path / "other.yaml"
        other.write_text("env:\n  task: DucklingCommand\n  robot: mini_bdx\n  init: {mode: Default}\n")
        extra, words = ["--cfg_env", str(other)], ["layout", "amp_num_steps: checkpoint=4 env=5"]
    elif case == "network":  # a config whose actor differs from the stored weights
        def change(state):
            state["config"]["network"]["actor"]["units"] = [64, 64]
        checkpoint = _doctored(trained_checkpoint, tmp_path / "other.pth", change)
        words = ["model: weights do not fit the network"]
    elif case == "nan":  # a diverged policy (written around save_checkpoint, which refuses it)
        state = load_checkpoint(trained_checkpoint)
        next(value for key, value in state["model"].items() if "actor_mlp" in key)[0, 0] = float("nan")
        checkpoint = tmp_path / "nan.pth"
        torch.save(state, checkpoint)
        words = ["model: not exported: non-finite values in model.a2c_network.actor_mlp"]
    else:
        checkpoint, words = tmp_path / "missing.pth", ["checkpoint file not found"]
    folder = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        run_main(["--export", "--checkpoint", str(checkpoint), "--export_dir", str(folder), *extra])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {checkpoint}") and all(word in line for word in words), line
    assert not folder.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
