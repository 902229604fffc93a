"""awd/run.py end to end on CPU MuJoCo: a few training iterations of DucklingCommand, the TensorBoard
scalars, the checkpoint, resume, and clear errors for bad input."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from awd.learning.checkpoint import load_checkpoint
from awd.run import main

SMALL = [
    "--task", "DucklingCommand", "--num_envs", "8", "--headless", "--seed", "3",
    "train.params.network.actor.units=[32, 32]",
    "train.params.network.critic.units=[32, 32]",
    "train.params.network.disc.units=[32, 32]",
    "train.params.config.horizon_length=16",
    "train.params.config.mini_epochs=2",
    "train.params.config.amp_obs_demo_buffer_size=1024",
    "train.params.config.amp_replay_buffer_size=1024",
]


def _train(output: Path, iterations: int, *extra: str) -> Path:
    before = set(output.glob("*")) if output.exists() else set()
    main([*SMALL, "--output_path", str(output), "--max_iterations", str(iterations), *extra])
    (run_dir,) = set(output.glob("*")) - before
    return run_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("runs"), 3)


def test_training_writes_config_scalars_and_checkpoints(trained):
    assert (trained / "config.yaml").is_file()
    events = EventAccumulator(str(trained / "summaries"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("losses/disc_loss", "info/disc_agent_acc", "info/disc_demo_acc", "info/disc_grad_penalty",
                "info/disc_logit_loss", "info/disc_reward_mean", "info/disc_reward_std", "losses/a_loss",
                "losses/c_loss", "info/kl", "performance/play_time", "performance/update_time"):
        assert tag in tags, tag
        assert all(math.isfinite(event.value) for event in events.Scalars(tag)), tag
    assert len(events.Scalars("losses/disc_loss")) == 3
    state = load_checkpoint(trained / "nn" / "DucklingCommand.pth")
    assert state["epoch"] == 3
    assert state["layout"]["action_joints"][0] == "left_hip_yaw" and state["layout"]["amp_num_steps"] == 4
    assert state["config"]["config"]["env_config"]["task"] == "DucklingCommand"


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    from awd.run import create_run_dir

    first, second = create_run_dir(tmp_path, "walk_20261201-120000"), create_run_dir(tmp_path, "walk_20261201-120000")
    assert (first.name, second.name) == ("walk_20261201-120000", "walk_20261201-120000-2")
    assert first.is_dir() and second.is_dir()


def test_resume_continues_the_run_with_its_config_beside_it(trained, capsys):
    checkpoint = trained / "nn" / "DucklingCommand.pth"
    main(["--headless", "--resume", "1", "--checkpoint", str(checkpoint), "--max_iterations", "5"])
    assert "awd: resume: train.params.config.max_epochs 3 -> 5" in capsys.readouterr().out
    resumed = trained.parent / f"{trained.name}_resume_ep000003"
    state = load_checkpoint(resumed / "nn" / "DucklingCommand.pth")
    assert state["epoch"] == 5 and state["frame"] == load_checkpoint(checkpoint)["frame"] * 5 // 3
    assert state["config"]["network"]["actor"]["units"] == [32, 32]  # the run's config, not the shipped one
    assert state["config"]["config"]["num_actors"] == 8 and state["config"]["config"]["env_config"]["env"]["seed"] == 3


def test_one_epoch_and_a_resume_for_one_more_equal_two_straight_bit_for_bit(tmp_path):
    first = _train(tmp_path / "split", 1)
    main(["--headless", "--resume", "1", "--checkpoint", str(first / "nn" / "DucklingCommand.pth"),
          "--max_iterations", "2"])
    resumed = load_checkpoint(first.parent / f"{first.name}_resume_ep000001" / "nn" / "DucklingCommand.pth")
    straight = load_checkpoint(_train(tmp_path / "straight", 2) / "nn" / "DucklingCommand.pth")
    assert resumed["epoch"] == straight["epoch"] == 2
    assert [k for k, v in straight["model"].items() if not torch.equal(v, resumed["model"][k])] == []
    assert torch.equal(resumed["amp_replay_buffer"]["data"], straight["amp_replay_buffer"]["data"])
    assert torch.equal(resumed["rollout"]["obs"], straight["rollout"]["obs"])


@pytest.mark.parametrize("argv, words", [
    (["--max_iterations", "3"], "expected more than the checkpoint's 3 epochs"),
    (["--task", "DucklingStand"], "the checkpoint trained DucklingCommand, not DucklingStand"),
    (["--cfg_env", "mini_bdx/duckling_command.yaml"], "a resumed run keeps its checkpoint's config"),
])
def test_resume_refuses_what_would_not_continue_the_run(trained, argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--headless", "--resume", "1", "--checkpoint", str(trained / "nn" / "DucklingCommand.pth"), *argv])
    assert exit_info.value.code == 2 and words in capsys.readouterr().err


def test_resume_with_a_different_layout_fails_clearly_and_leaves_nothing(trained, tmp_path, capsys):
    checkpoint = trained / "nn" / "DucklingCommand.pth"
    folders = sorted(trained.parent.iterdir())
    with pytest.raises(SystemExit) as exit_info:
        main([*SMALL, "--output_path", str(tmp_path), "--max_iterations", "4", "--resume", "1",
              "--checkpoint", str(checkpoint), "env.amp.num_steps=5"])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("error: ") and str(checkpoint) in message and "layout" in message
    assert list(tmp_path.iterdir()) == [] and sorted(trained.parent.iterdir()) == folders


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--checkpoint", "missing.pth", "--resume", "1"], "missing.pth: checkpoint file not found"),
        (["--test"], "expected a checkpoint"),
        (["env.rewards.lin_vel_xy.weigth=1"], "no key 'weigth'"),
        (["--motion_file", "no_such_clips"], "motion file or folder not found"),
        (["--num_envs=-5"], "--num_envs: expected a positive count"),
        (["train.params.torch_threads=-3"], "params.torch_threads: expected 'auto' or an integer >= 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, argv, words):
    with pytest.raises(SystemExit) as exit_info:
        main([*SMALL, "--output_path", str(tmp_path), "--max_iterations", "1", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert words in err[-1] and err[-1].startswith("error: ")
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("mujoco_warp") is None, reason="mujoco_warp not installed")
@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_warp_without_a_gpu_points_to_the_cpu_backend(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*SMALL, "--output_path", str(tmp_path), "--engine", "mujoco_warp"])
    assert exit_info.value.code == 2 and "--sim_device cpu" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.xdist_group("warp")  # with the other Warp tests: one worker compiles the kernels
def test_training_on_the_warp_engine(tmp_path):
    run_dir = _train(tmp_path, 1, "--engine", "mujoco_warp", "--sim_device", "cpu")
    state = load_checkpoint(run_dir / "nn" / "DucklingCommand.pth")
    assert state["epoch"] == 1 and state["config"]["config"]["env_config"]["engine"] == "mujoco_warp"


def test_gpu_out_of_memory_is_one_line_suggesting_fewer_envs(tmp_path, monkeypatch, capsys):
    import awd.run as run_module

    def out_of_memory(params, checkpoint):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(run_module, "run_rl_games", out_of_memory)
    with pytest.raises(SystemExit) as exit_info:
        main([*SMALL, "--output_path", str(tmp_path), "--max_iterations", "1"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "error: --num_envs: out of GPU memory with 8 envs: try a smaller --num_envs"
    assert list(tmp_path.iterdir()) == []
