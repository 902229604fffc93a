"""benchmarks/throughput.py on CPU MuJoCo at a few envs and steps (small networks and AMP buffers): every mode
gives a sane row, the table lists them and --json writes them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

SMALL = [
    "train.params.network.actor.units=[16]",
    "train.params.network.critic.units=[16]",
    "train.params.network.disc.units=[16]",
    "train.params.config.horizon_length=4",
    "train.params.config.mini_epochs=1",
    "train.params.config.amp_obs_demo_buffer_size=64",
    "train.params.config.amp_replay_buffer_size=64",
    "train.params.config.amp_batch_size=16",
]


@pytest.fixture(scope="module")
def throughput():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "throughput.py"
    spec = importlib.util.spec_from_file_location("benchmark_throughput", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_throughput_rows_for_every_mode(throughput, tmp_path, capsys):
    out = tmp_path / "rows.json"
    throughput.main(["--engine", "mujoco", "--num_envs", "4", "8", "--steps", "3", "--warmup", "1", "--epochs", "2",
                     "--json", str(out), *SMALL])
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [(r["num_envs"], r["mode"]) for r in rows] == [(n, m) for n in (4, 8) for m in ("physics", "task", "train")]
    for row in rows:
        assert row["env_steps_per_s"] > 0 and row["ms_per_step"] > 0 and row["warmup_s"] > 0, row
        steps = 2 * 4 if row["mode"] == "train" else 3
        assert row["timed_steps"] == steps
        assert row["env_steps_per_s"] == pytest.approx(row["num_envs"] * steps / row["timed_s"])
        assert row["torch_peak_mib"] is None and row["device_used_mib"] is None  # CPU only
        assert (row["play_s"] is not None) == (row["mode"] == "train")
    train = rows[2]
    assert train["play_s"] > 0 and train["update_s"] > 0 and train["play_s"] + train["update_s"] <= train["timed_s"]
    assert report["versions"]["torch"] and "--num_envs 4 8" in report["command"]
    table = capsys.readouterr().out.split("| envs | mode |", 1)[1]
    assert table.count("\n| ") == 1 + len(rows)  # separator + one line per row


def test_throughput_of_another_task(throughput, tmp_path):
    out = tmp_path / "rows.json"
    throughput.main(["--task", "G1Command", "--engine", "mujoco", "--num_envs", "4", "--modes", "physics,task",
                     "--steps", "2", "--warmup", "1", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["task"] == "G1Command" and [row["mode"] for row in report["rows"]] == ["physics", "task"]


def test_bad_modes_are_refused(throughput):
    with pytest.raises(SystemExit):
        throughput.parse_args(["--modes", "physics,walk"])
    assert throughput.parse_args(["--modes", "train,physics"]).modes == ["physics", "train"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without CUDA gets")
def test_engine_stages_says_it_needs_a_gpu(capsys):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "engine_stages.py"
    spec = importlib.util.spec_from_file_location("benchmark_engine_stages", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_style_ab_parses_variants_and_measures_saturation_from_the_epoch_lines():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "style_ab.py"
    spec = importlib.util.spec_from_file_location("benchmark_style_ab", path)
    ab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ab)
    assert ab.parse_variant("base=") == ("base", [])
    assert ab.parse_variant("n=a.b=1 c.d=2") == ("n", ["a.b=1", "c.d=2"])
    with pytest.raises(SystemExit):
        ab.parse_variant("bad name=x")
    line = "[awd] epoch {}/100 | frames 1 | fps 1 | task_r 1 disc_r 1 | acc agent {} demo {} | fall 0.00"
    log = "\n".join(line.format(e, a, d) for e, a, d in [(99, 1.0, 1.0), (101, 0.95, 0.97), (102, 0.95, 0.5),
                                                         (103, 0.8, 0.99), (104, 1.0, 1.0)])
    assert ab.saturation(log) == {"epochs": 104, "last_acc": [1.0, 1.0], "saturated_share": 0.5}
    from awd.learning.progress import progress_line
    stats = {"performance/fps": 1.0, "info/task_reward_mean": 1.0, "info/disc_reward_mean": 1.0,
             "info/disc_agent_acc": 0.8, "info/disc_demo_acc": 0.7, "info/disc_agent_acc_clean": 0.97,
             "info/disc_demo_acc_clean": 0.93, "info/disc_input_noise": 3.0, "performance/play_time": 1.0,
             "performance/update_time": 1.0}
    noised = "\n".join(progress_line(stats, epoch, 200, 1, 1.0) for epoch in (150, 151))
    assert ab.saturation(noised) == {"epochs": 151, "last_acc": [0.97, 0.93], "saturated_share": 1.0}
    command = ab.train_command("G1Command", "x", ["env.a=1"], Path("/o"), 3)
    assert command[-1] == "env.a=1" and command[command.index("--task") + 1] == "G1Command"
    assert "--experiment" in command and command[command.index("--seed") + 1] == "3"
    clips = [{"policy": {"clearance": [0.02, 0.01], "double_support": 0.1, "stride_period": 0.4}, "joint_error": 0.05,
              "baseline_error": 0.1, "held_rms": 0.02, "pass": {"stride_period": True, "clearance": False}},
             {"policy": {"clearance": [0.03, 0.04], "double_support": 0.3, "stride_period": 0.5}, "joint_error": None,
              "baseline_error": 0.1, "held_rms": 0.04, "pass": {"stride_period": True, "clearance": True}},
             {"policy": None, "joint_error": None, "baseline_error": None, "held_rms": None, "pass": {}}]
    medians = ab.clip_medians(clips)
    assert medians["clearance_mm"] == pytest.approx(20.0) and medians["double_support"] == pytest.approx(0.2)
    assert medians["joint_error_ratio"] == pytest.approx(0.5) and medians["held_rms"] == pytest.approx(0.03)
    assert medians["checks_passed"] == {"clearance": 1, "stride_period": 2}
