"""The command sweep (awd/style/sweep.py): commands along one axis of the task's range, several envs each, and the
reached velocity, gain and falls of each."""

from __future__ import annotations

import numpy as np
import pytest

from awd.errors import AwdError
from awd.style.judge import PolicyUnderTest, StyleSettings, load_policy_under_test
from awd.style.sweep import format_sweep, main, sweep_commands, sweep_policy
from awd.tasks.config import env_config_from_mapping

SHORT = StyleSettings(settle_s=0.3, measure_s=1.0, threads=1)


def test_the_sweep_runs_from_one_range_end_to_the_other_without_the_zero_command():
    commands = env_config_from_mapping({"init": {"mode": "Default"}, "commands": {"lin_vel_y": [-0.2, 0.3]}}).commands
    sweep = sweep_commands(commands, "lin_vel_y", 6, beyond=2.0)
    assert np.allclose(sweep[:, 1], [-0.4, -0.2, 0.2, 0.4, 0.6]) and not sweep[:, [0, 2]].any()
    with pytest.raises(AwdError, match="--axis"):
        sweep_commands(commands, "lin_vel_z", 6)
    with pytest.raises(AwdError, match="--steps"):
        sweep_commands(commands, "lin_vel_y", 1)
    imitation = PolicyUnderTest("amp.pth", {"task": "DucklingAMP", "env": {}}, None, None)
    with pytest.raises(AwdError, match="expected a command policy, found 'DucklingAMP'"):
        sweep_policy(imitation, "lin_vel_y")


def test_a_policy_is_swept_with_several_envs_per_command(trained_checkpoint, tmp_path, capsys):
    report = sweep_policy(load_policy_under_test(trained_checkpoint), "ang_vel_z", SHORT, steps=2, repeats=2)
    assert [row["command"][2] for row in report["rows"]] == pytest.approx(report["range"])
    for row in report["rows"]:
        assert row["gain"] == pytest.approx(row["achieved"][2] / row["command"][2])
        assert 0 <= row["falls"] <= 2 and row["spread"] >= 0
    assert "mean of 2 envs per command" in format_sweep(report)
    json_path = tmp_path / "sweep.json"
    main([str(trained_checkpoint), "--axis", "lin_vel_x", "--steps", "3", "--repeats", "1", "--settle_s", "0.3",
          "--measure_s", "1.0", "--threads", "1", "--json", str(json_path)])
    assert "| command | achieved vx vy wz | gain |" in capsys.readouterr().out and json_path.exists()
