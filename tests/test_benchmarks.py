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
