"""The policy evaluator (awd/evaluate.py, tools/evaluate.py, `run.py --test --eval`) on a checkpoint trained for
one epoch: every field in range, a barely trained (standing) policy tracks zero commands and misses moving ones
by their size, the pass/fail logic, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from test_run import SMALL

from awd import evaluate as evaluator
from awd.evaluate import EvalSettings, Thresholds, evaluate, format_table, passes, run_episodes
from awd.errors import AwdError
from awd.learning.checkpoint import load_checkpoint, save_checkpoint
from awd.run import main as run_main
from awd.utils.io import read_json, write_json_atomic

SHORT = ["--num_envs", "4", "--episode_s", "2", "--resample_s", "1", "--settle_s", "0.5", "--no_style"]  # no --threads
SHORT_SETTINGS = EvalSettings(num_envs=4, episode_s=2.0, resample_s=1.0, settle_s=0.5, threads=1, style=None)
FIELDS = {"checkpoint", "epoch", "frame", "episodes", "falls", "survival", "commanded", "fall_commands", "env_steps",
          "tracked_steps",
          "tracking_passed",
          "planar_error", "yaw_error", "pass", "passed", "settings", "device", "wall_s"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("runs")
    run_main([*SMALL, "--output_path", str(output), "--max_iterations", "1"])
    (path,) = output.glob("*/nn/DucklingCommand.pth")
    return path


def doctored(checkpoint: Path, target: Path, change) -> Path:
    """A copy of the checkpoint whose run params went through `change(params["config"])`."""
    state = load_checkpoint(checkpoint)
    change(state["config"]["config"])
    return save_checkpoint(target, state)


def with_commands(**commands):
    def change(run):
        run["env_config"]["env"]["commands"].update(commands)
    return change


def test_result_has_every_field_in_range_and_is_written_as_json(checkpoint, tmp_path, capsys):
    json_path = tmp_path / "result.json"
    result = evaluator.main([str(checkpoint), *SHORT, "--json", str(json_path)])
    assert set(result) == FIELDS
    assert result["episodes"] == 4 and 0 <= result["falls"] <= 4 and result["epoch"] == 1
    assert result["survival"] == (4 - result["falls"]) / 4
    steps_per_episode, tracked_per_episode = 100, 2 * (50 - 25)  # 2 s at 50 Hz; 2 commands, 0.5 s settle each
    assert 0 < result["tracked_steps"] < result["env_steps"] <= 4 * steps_per_episode
    if result["falls"] == 0:
        assert result["env_steps"] == 4 * steps_per_episode and result["tracked_steps"] == 4 * tracked_per_episode
    for name in ("planar_error", "yaw_error"):
        assert math.isfinite(result[name]) and result[name] >= 0.0
    assert result["passed"] == all(result["pass"].values())
    assert read_json(json_path) == result
    table = capsys.readouterr().out
    assert "| survival |" in table and "| planar velocity error (m/s) |" in table and "verdict: " in table


def test_the_same_seed_gives_the_same_result(checkpoint):
    first, second = evaluate(checkpoint, SHORT_SETTINGS), evaluate(checkpoint, SHORT_SETTINGS)
    keys = ("falls", "env_steps", "tracked_steps", "planar_error", "yaw_error")
    assert [first[k] for k in keys] == [second[k] for k in keys]


def test_a_standing_policy_tracks_zero_commands_and_misses_moving_ones_by_their_size(checkpoint, tmp_path):
    moving = doctored(checkpoint, tmp_path / "moving.pth", with_commands(
        lin_vel_x=[0.2, 0.2], lin_vel_y=[0.0, 0.0], ang_vel_z=[0.6, 0.6]))
    still = evaluate(checkpoint, dataclasses.replace(SHORT_SETTINGS, zero_prob=1.0))
    missed = evaluate(moving, dataclasses.replace(SHORT_SETTINGS, zero_prob=0.0))
    assert still["survival"] == 1.0 and missed["survival"] == 1.0
    assert still["planar_error"] < 0.03 and still["yaw_error"] < 0.1
    assert still["pass"] == {"survival": True, "planar_error": True, "yaw_error": True}
    assert 0.17 < missed["planar_error"] < 0.23 and 0.5 < missed["yaw_error"] < 0.7
    assert missed["pass"] == {"survival": True, "planar_error": False, "yaw_error": False} and not missed["passed"]


def test_the_share_of_stand_commands_is_the_evaluators_not_the_runs(checkpoint, tmp_path):
    standing_run = doctored(checkpoint, tmp_path / "stand.pth", with_commands(zero_prob=1.0))
    result = evaluate(standing_run, SHORT_SETTINGS)  # 0.1 stand: the standing policy misses the moving commands
    assert result["settings"]["zero_prob"] == 0.1 and result["planar_error"] > 0.05
    with pytest.raises(AwdError, match="--zero_prob"):
        evaluate(checkpoint, dataclasses.replace(SHORT_SETTINGS, zero_prob=1.5))


class FakeCommandEnv:
    """Tracks the commands the policy saw with a fixed error (planar 0.05, yaw 0.1), and with garbage velocities
    for the first `settle` steps under a new command; env 1 falls at step `fall_step` (garbage afterwards)."""

    num_envs, dt, device = 2, 0.02, torch.device("cpu")
    GARBAGE = torch.full((2, 3), 9.0)

    def __init__(self, settle: int, fall_step: int):
        self.settle, self.fall_step, self.step_count, self.draws = settle, fall_step, 0, 0
        self.commands = torch.zeros(2, 3)

    def sample_commands(self, count):
        self.draws += 1
        return torch.tensor([[0.1, -0.05, 0.2], [0.2, 0.0, -0.4]])[:count] * self.draws

    def set_commands(self, commands):
        self.commands[:] = commands  # in place, like DucklingCommand

    def reset(self):
        self.seen, self.acting, self.age = self.commands.clone(), None, 0
        return torch.zeros(2, 4)

    def step(self, actions):
        changed = self.acting is None or not torch.equal(self.seen, self.acting)
        self.age = 1 if changed else self.age + 1
        self.acting, self.seen = self.seen, self.commands.clone()
        lin = self.acting + torch.tensor([0.03, -0.04, 5.0])  # |(0.03, -0.04)| = 0.05
        ang = torch.cat([torch.full((2, 2), 7.0), self.acting[:, 2:] - 0.1], dim=-1)
        if self.age <= self.settle:
            lin, ang = self.GARBAGE, self.GARBAGE
        if self.step_count >= self.fall_step:
            lin, ang = torch.stack([lin[0], self.GARBAGE[1]]), torch.stack([ang[0], self.GARBAGE[1]])
        self.velocities = lin, ang
        terminate = torch.tensor([False, self.step_count == self.fall_step])
        self.step_count += 1
        return torch.zeros(2, 4), torch.zeros(2), terminate, {"terminate": terminate}

    def tracking_velocities(self):
        return self.velocities


class ZeroPolicy:
    def norm_obs(self, obs):
        return obs

    def a2c_network(self, inputs):
        return (torch.zeros(len(inputs["obs"]), 3),)


def test_rollout_skips_settling_steps_and_fallen_envs_and_compares_with_the_commands_in_effect():
    settings = EvalSettings(num_envs=2, episode_s=2.0, resample_s=0.5, settle_s=0.2)  # 100 steps, 25 per command
    env = FakeCommandEnv(settle=10, fall_step=40)
    result = run_episodes(env, ZeroPolicy(), settings)
    assert env.draws == 4  # the start and 3 resamples
    assert result["episodes"] == 2 and result["falls"] == 1 and result["survival"] == 0.5
    assert result["env_steps"] == 100 + 41
    assert result["tracked_steps"] == 4 * 15 + (15 + 5)  # env 1 until its fall at step 40
    assert result["planar_error"] == pytest.approx(0.05) and result["yaw_error"] == pytest.approx(0.1)
    (fall,) = result["fall_commands"]  # env 1 at step 40, 16 steps into the second command
    assert fall["command"] == pytest.approx([0.4, 0.0, -0.8]) and fall["before"] == pytest.approx([0.2, 0.0, -0.4])
    assert fall["after_s"] == pytest.approx(16 * 0.02)


def test_the_falls_that_come_with_a_stop_are_counted():
    stop = {"command": [0.0, 0.0, 0.0], "before": [0.3, 0.4, 0.0], "after_s": 1.2}
    start = {"command": [0.3, 0.0, 0.0], "before": [0.0, 0.0, 0.0], "after_s": 0.4}
    line = evaluator.fall_summary([stop, start, {**stop, "after_s": 1.6}])
    assert line == "falls under the zero command after walking: 2 of 3 (1.2–1.6 s after the stop, from 0.50–0.50 m/s)"
    assert evaluator.fall_summary([start]).endswith(": 0 of 1")


def test_pass_fail_respects_the_thresholds():
    def result(survival, planar, yaw):
        return {"survival": survival, "planar_error": planar, "yaw_error": yaw}

    default = Thresholds()
    assert passes(result(0.95, 0.05, 0.15), default) == {"survival": True, "planar_error": True, "yaw_error": True}
    assert passes(result(0.94, 0.05, 0.15), default)["survival"] is False
    assert passes(result(1.0, 0.051, 0.15), default)["planar_error"] is False
    assert passes(result(1.0, 0.0, 0.16), default)["yaw_error"] is False
    assert passes(result(1.0, None, None), default) == {"survival": True, "planar_error": False, "yaw_error": False}
    loose = Thresholds(survival=0.5, planar_error=0.2, yaw_error=0.5)
    assert all(passes(result(0.6, 0.1, 0.4), loose).values())
    assert not any(passes(result(0.6, 0.1, 0.4), Thresholds(0.7, 0.05, 0.3)).values())


def test_the_table_marks_failed_metrics(checkpoint, tmp_path):
    limits = Thresholds(survival=0.0, planar_error=0.0, yaw_error=10.0)
    result = evaluate(checkpoint, EvalSettings(num_envs=2, episode_s=1.0, resample_s=1.0, settle_s=0.5, threads=1,
                                               thresholds=limits, style=None))
    table = format_table(result)
    assert result["pass"] == {"survival": True, "planar_error": False, "yaw_error": True}
    assert "| <= 0.0 | **no** |" in table and "verdict: FAIL" in table


def test_the_verdict_is_walks_with_style_with_thresholds_from_the_task_config(checkpoint, tmp_path):
    from awd.style.judge import StyleSettings

    def loose_tracking(run):
        run["env_config"]["env"]["verdict"] = {"planar_error": 0.5, "yaw_error": 2.0}

    loose = doctored(checkpoint, tmp_path / "loose.pth", loose_tracking)
    result = evaluate(loose, dataclasses.replace(SHORT_SETTINGS, thresholds=Thresholds(None, None, 1.5),
                                                 style=StyleSettings(settle_s=0.2, measure_s=1.0, classifier=False,
                                                                     extreme_rollouts=1)))
    assert result["settings"]["thresholds"] == {"survival": 0.95, "planar_error": 0.5, "yaw_error": 1.5}
    assert result["tracking_passed"] and result["verdict"]["tracking_planar_error"]
    assert result["verdict"]["clips"] is False and result["passed"] is False  # one epoch does not walk with style
    assert len(result["style"]["extremes"]) == 6
    assert "walks with style: FAIL (clips, extremes)" in format_table(result)
    write_json_atomic(tmp_path / "result.json", result)  # every verdict a JSON true/false
    assert read_json(tmp_path / "result.json")["verdict"]["clips"] is False


def _no_env_config(run):
    del run["env_config"]


def _stand_task(run):
    run["env_config"]["task"] = "DucklingStand"


@pytest.mark.parametrize("change, extra, words", [
    (None, ["--settle_s", "1"], "--settle_s: expected 0 <= settle_s < resample_s"),
    (_no_env_config, [], "config.env_config: checkpoint has no env config"),
    (_stand_task, [], "config.env_config.task: the evaluator measures command tasks (DucklingCommand, G1Command) "
                      "and imitation tasks (DucklingAMP, G1AMP), found task 'DucklingStand'"),
])
def test_bad_input_is_one_line_and_exit_code_2(checkpoint, tmp_path, capsys, change, extra, words):
    path = doctored(checkpoint, tmp_path / "bad.pth", change) if change else checkpoint
    with pytest.raises(SystemExit) as exit_info:
        evaluator.main([str(path), *SHORT, *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and words in err[0]


def test_missing_checkpoint_is_one_line_and_exit_code_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluator.main([str(tmp_path / "missing.pth")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.pth'}: checkpoint file not found"


def test_run_py_eval_flag_calls_the_evaluator(checkpoint, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(evaluator, "evaluate_and_report", lambda path, settings: calls.append((path, settings)))
    run_main(["--test", "--eval", "--checkpoint", str(checkpoint), "--num_envs", "3", "--seed", "5"])
    assert calls == [(str(checkpoint), EvalSettings(num_envs=3, seed=5))]
    monkeypatch.undo()
    stand = doctored(checkpoint, tmp_path / "stand.pth", _stand_task)
    for argv in (["--test", "--eval", "--checkpoint", str(stand)], ["--eval", "--checkpoint", str(checkpoint)]):
        with pytest.raises(SystemExit) as exit_info:
            run_main(argv)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "found task 'DucklingStand'" in err[0] and "use it with --test" in err[1]


def test_an_imitation_policy_is_judged_on_survival_and_the_style_classifier(tmp_path):
    from awd.style.judge import StyleSettings

    run_main([*SMALL, "--task", "DucklingAMP", "--output_path", str(tmp_path), "--max_iterations", "1",
              "env.episode_length_s=4"])
    (path,) = tmp_path.glob("*/nn/DucklingAMP.pth")
    style = StyleSettings(settle_s=0.5, measure_s=2.0)
    result = evaluate(path, dataclasses.replace(SHORT_SETTINGS, style=style))
    assert not result["commanded"] and set(result["pass"]) == {"survival"} and result["tracked_steps"] == 0
    report = result["style"]
    assert report["kind"] == "imitation" and set(report["pass"]) == {"survived", "classifier"}
    assert report["settings"]["measure_s"] == pytest.approx(4.0 - 0.5)  # the rest of its episode, not measure_s
    assert report["classifier_accuracy"] > 0.9  # one epoch of training stands still: nothing like the walking clips
    assert set(result["verdict"]) == {"survived", "classifier", "tracking_survival"} and not result["passed"]
    table = format_table(result)
    assert "planar" not in table and "no commands (an imitation task)" in table and "imitation: no commands" in table
