"""benchmarks/time_to_walk.py: the training command it launches is one run.py accepts (checkpoint name, save
frequency, env count, passed-through overrides), the evaluator command is one tools/evaluate.py accepts, and
its small parsers and row format."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from awd import evaluate as evaluator
from awd.errors import AwdError
from awd.learning.checkpoint import load_checkpoint, save_checkpoint
from awd.run import build_run_config
from awd.run import parse_args as parse_run_args
from awd.utils.io import write_json_atomic

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_walk.py"
_spec = importlib.util.spec_from_file_location("time_to_walk", BENCHMARK)
ttw = sys.modules.setdefault("time_to_walk", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(ttw)


def test_the_training_command_is_a_valid_run_py_command(tmp_path):
    args, overrides = ttw.parse_args(["--engine", "mujoco", "--num_envs", "16", "--eval_every", "7", "--task",
                                      "G1Command", "train.params.config.horizon_length=24"])
    command = ttw.train_command(args, overrides, tmp_path)
    assert command[1].endswith("awd/run.py")
    run_args, run_overrides = parse_run_args(command[2:])
    config = build_run_config(run_args, run_overrides)
    run = config["train"]["params"]["config"]
    assert run["save_latest_frequency"] == 7 and run["horizon_length"] == 24 and run["num_actors"] == 16
    assert run["name"] == ttw.EXPERIMENT  # the checkpoint the benchmark watches: nn/<name>.pth
    assert config["engine"] == "mujoco" and run_args.output_path == str(tmp_path) and run_args.headless
    assert config["task"] == "G1Command"


def test_the_eval_command_is_a_valid_evaluator_command(tmp_path):
    args, _ = ttw.parse_args(["--eval_envs", "32", "--eval_threads", "3", "--max_yaw_error", "0.2"])
    command = ttw.eval_command(args, tmp_path / "c.pth", tmp_path / "c.json")
    assert command[1].endswith("tools/evaluate.py")
    parsed = evaluator.parse_args(command[2:])
    assert (parsed.checkpoint, parsed.engine, parsed.num_envs, parsed.threads, parsed.json) == (
        str(tmp_path / "c.pth"), "mujoco", 32, 3, str(tmp_path / "c.json"))
    settings = evaluator.settings_from_args(parsed)
    assert settings.thresholds == evaluator.Thresholds(None, None, 0.2)  # the others: the task config's
    assert settings.style is not None  # the style verdict by default ...
    args, _ = ttw.parse_args(["--no_style"])
    assert evaluator.settings_from_args(evaluator.parse_args(ttw.eval_command(args, tmp_path / "c.pth",
                                                                              tmp_path / "c.json")[2:])).style is None


def test_cpu_lists_and_rows():
    assert ttw.parse_cpus("0-2,5") == {0, 1, 2, 5} and ttw.parse_cpus(None) is None
    with pytest.raises(AwdError, match="--eval_cpus"):
        ttw.parse_cpus("a-b")
    row = {"minutes": 3.456, "epoch": 120, "frame": 1966080, "survival": 0.96875, "planar_error": None,
           "yaw_error": 0.1234567, "passed": False, **ttw.style_summary({})}
    assert ttw.format_row(row) == "| 3.46 | 120 | 1,966,080 | 0.969 | n/a | 0.1235 | n/a | n/a | n/a | no |"
    style = {"clips": [{"pass": {"a": True}}, {"pass": {"a": False}}], "extremes": [{"pass": {"b": True}}],
             "classifier_accuracy": 0.7}
    assert ttw.style_summary({"style": style}) == {"clips": "1/2", "extremes": "1/1", "classifier": 0.7}
    log = "[awd] epoch 1/9 | ...\n[awd] start-up: the first epoch ended 95.0 s after the process started: a 1.0 s\n"
    assert ttw.startup_line(log) == "start-up: the first epoch ended 95.0 s after the process started: a 1.0 s"
    assert ttw.startup_line("[awd] epoch 1/9 | ...") is None


def test_a_run_that_misses_only_the_classifier_says_from_when():
    import argparse

    args = argparse.Namespace(minutes=6.5, no_style=False)
    rows = [{"minutes": 1.2, "epoch": 50, "passed_but_classifier": False},
            {"minutes": 2.4, "epoch": 210, "passed_but_classifier": True}]
    assert ttw.verdict(None, rows, args).endswith("classifier; everything but the classifier from 2.40 min, epoch 210)")
    assert ttw.verdict(None, rows[:1], args).endswith("every clip, extreme and the classifier)")
    imitation = [{**rows[0], "commanded": False}]
    assert ttw.verdict(None, imitation, args).endswith("imitates with style: survival and the classifier)")


def test_stop_but_classifier_ends_the_run_at_the_first_checkpoint_that_misses_only_the_classifier(tmp_path):
    import time
    import types

    result = {"epoch": 425, "frame": 1, "commanded": True, "survival": 1.0, "planar_error": 0.03, "yaw_error": 0.1,
              "passed": False, "verdict": {"survival": True, "clips": True, "extremes": True, "classifier": False}}
    for flags, stops in (([], False), (["--stop_but_classifier"], True)):
        snapshot = save_checkpoint(tmp_path / f"checkpoint_{stops}.pth",
                                   {"model": {"w": torch.ones(2)}, "optimizer": {"state": torch.ones(9)}})
        write_json_atomic(snapshot.with_suffix(".json"), result)
        benchmark = object.__new__(ttw.TimeToWalk)
        benchmark.args, benchmark.rows, benchmark.launched = ttw.parse_args(flags)[0], [], time.time()
        benchmark.pending = ttw.PendingEval(types.SimpleNamespace(poll=lambda: 0, returncode=0), snapshot, 6.0)
        row = benchmark._collect()
        assert benchmark.rows[0]["passed_but_classifier"] and (row is not None) == stops
        assert snapshot.exists() == stops  # the checkpoint that stopped the run is kept, without its resume state
    assert load_checkpoint(snapshot)["optimizer"] is None and load_checkpoint(snapshot)["model"]["w"].sum() == 2


def test_the_last_checkpoint_and_the_best_style_snapshot_are_named(tmp_path):
    assert ttw.trained_policies(tmp_path) == {"last": None, "best_style": None}
    run = tmp_path / "time_to_walk_1"
    (run / "nn").mkdir(parents=True)
    (run / "style").mkdir()
    (run / "nn" / f"{ttw.EXPERIMENT}_ep000050.pth").write_bytes(b"")
    (run / "nn" / f"{ttw.EXPERIMENT}.pth").write_bytes(b"")
    (run / "style" / "best_style.pth").write_bytes(b"")
    assert ttw.trained_policies(tmp_path) == {"last": str(run / "nn" / f"{ttw.EXPERIMENT}.pth"),
                                              "best_style": str(run / "style" / "best_style.pth")}


def test_the_median_over_seeds_counts_a_run_that_never_walked_as_the_slowest(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("time_to_walk_seeds", BENCHMARK.with_name("time_to_walk_seeds.py"))
    seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeds)

    def row(minutes, clips, extremes, walked=False, but_classifier=False):
        return {"minutes": minutes, "epoch": int(minutes * 100), "survival": 1.0, "planar_error": 0.05,
                "yaw_error": 0.08, "clips": clips, "extremes": extremes, "classifier": 0.99, "passed": walked,
                "passed_but_classifier": but_classifier}

    def run(seed, rows):
        path = tmp_path / f"seed{seed}.json"
        walked = next((r for r in rows if r["passed"]), None)
        write_json_atomic(path, {"walked": walked, "rows": rows, "argv": ["--seed", str(seed), "--minutes", "14"]})
        return str(path)

    paths = [run(1, [row(3.0, "20/22", "4/6"), row(5.0, "22/22", "6/6", True, True)]),
             run(2, [row(3.0, "22/22", "6/6", but_classifier=True), row(6.0, "22/22", "5/6")]),
             run(3, [row(4.0, "21/22", "5/6"), row(7.0, "21/22", "5/6")])]
    runs = seeds.main(paths)
    assert [r["seed"] for r in runs] == [1, 2, 3] and runs[0]["walked"] == 5.0
    assert runs[1]["best"]["minutes"] == 3.0 and runs[2]["best"]["minutes"] == 7.0  # most passed, then the later
    table = capsys.readouterr().out
    assert "time to walk not reached, all but the classifier 5.00" in table
    assert seeds.main(paths[:1] + paths[:1]) and "time to walk 5.00" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text('{"rows": []}')
    with pytest.raises(SystemExit) as exit_info:
        seeds.main([str(tmp_path / "bad.json")])
    assert exit_info.value.code == 2 and "bad.json" in capsys.readouterr().err
