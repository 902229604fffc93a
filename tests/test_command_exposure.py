"""Command exposure (awd.style.command_exposure): how often training's command draws come near each clip."""

import pytest

from awd.config import load_run_config
from awd.style.command_exposure import command_exposure, main


def exposure(*overrides, draws=20_000):
    config = load_run_config("DucklingCommand", overrides=list(overrides))
    return command_exposure({"task": "DucklingCommand", "env": config["env"], "source": config["sources"]["env"]},
                            draws)


def fastest_forward(result):
    straight = [clip for clip in result["clips"] if abs(clip["velocity"][1]) < 0.02 and abs(clip["velocity"][2]) < 0.1]
    return max(straight, key=lambda clip: clip["velocity"][0])


def test_every_moving_draw_is_near_one_clip_and_one_axis_draws_ask_more_for_a_straight_walk():
    shipped, one_axis = exposure(), exposure("env.commands.single_axis_prob=0.5")
    for result in shipped, one_axis:
        assert sum(clip["nearest_share"] for clip in result["clips"]) == pytest.approx(1.0 - result["zero_share"])
        assert all(0.0 <= clip["weight"] <= clip["nearest_share"] for clip in result["clips"])
        assert result["total_weight"] == pytest.approx(sum(clip["weight"] for clip in result["clips"]))
    forward = fastest_forward(shipped)
    assert forward["velocity"][0] > 0.1
    assert fastest_forward(one_axis)["weight"] > 1.5 * forward["weight"]


def test_resets_from_clips_commanded_their_velocity_count_for_the_time_they_hold():
    config = load_run_config("DucklingCommand")["env"]
    resample, episode = config["commands"]["resample_s"], config["episode_length_s"]
    held = exposure("env.commands.clip_command_prob=1.0", "env.init.mode=Hybrid", "env.init.hybrid_prob=0.5")
    assert held["clip_command_share"] == pytest.approx(0.5 * min(resample, episode) / episode)
    assert sum(clip["nearest_share"] for clip in held["clips"]) == pytest.approx(1.0 - held["zero_share"])
    assert held["total_weight"] > exposure()["total_weight"] + 0.5 * held["clip_command_share"]  # w near 1 there


def test_bad_input_is_one_line_and_exit_code_2(capsys):
    for argv, words in ((["--draws", "0"], "--draws: expected a positive"),
                        (["--task", "DucklingAMP"], "task: expected a command task")):
        with pytest.raises(SystemExit) as error:
            main(argv)
        assert error.value.code == 2 and words in capsys.readouterr().err
