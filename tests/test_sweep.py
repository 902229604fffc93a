"""The command sweep (awd/style/sweep.py): commands along one axis of the task's range, several envs each, and the
reached velocity, gain and falls of each, and the falls after a stop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from awd.errors import AwdError
from awd.style.judge import PolicyUnderTest, StyleSettings, load_policy_under_test
from awd.style.sweep import format_sweep, main, stop_falls, sweep_commands, sweep_policy
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
          "--measure_s", "1.0", "--threads", "1", "--stop_s", "0.2", "--json", str(json_path)])
    assert "| falls | falls in 0.2 s after a stop |" in capsys.readouterr().out and json_path.exists()


class FakeStoppingEnv:
    """Env 0 falls while walking (step 3), env 1 falls 4 steps into the zero command, env 2 never falls."""

    num_envs, dt, device = 3, 0.02, torch.device("cpu")

    def set_commands(self, commands):
        self.commands = torch.as_tensor(commands, dtype=torch.float32).expand(3, 3).clone()

    def reset(self):
        self.step_count, self.stopped_steps = 0, 0
        return torch.zeros(3, 1)

    def step(self, actions):
        self.stopped_steps += int(not self.commands.any())
        terminate = torch.tensor([self.step_count == 3, self.stopped_steps == 4, False])
        self.step_count += 1
        return torch.zeros(3, 1), torch.zeros(3), terminate, {"terminate": terminate}


def test_stop_falls_counts_the_falls_after_the_zero_command_only():
    walking = np.array([[0.5, 0.0, 0.0]] * 3)
    assert stop_falls(FakeStoppingEnv(), lambda obs: torch.zeros(3, 2), walking, 0.2, 0.2).tolist() == [
        False, True, False]
    assert not stop_falls(FakeStoppingEnv(), lambda obs: torch.zeros(3, 2), walking, 0.2, 0.06).any()  # 3 steps
