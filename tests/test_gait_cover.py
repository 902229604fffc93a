"""`awd gait --cover TASK` (awd/gait/cover.py): a clip just past each end of a command task's ranges, or a line
saying why an end cannot be reached."""

import json

import pytest

from awd.gait.cli import main


def test_cover_walks_past_each_range_end_or_says_it_is_clamped(tmp_path, capsys):
    assert main(["--cover", "DucklingCommand", "-l", "1.3", "-q", "-o", str(tmp_path)]) == 0
    measured = {path.stem: json.loads(path.read_text())["Metadata"]["Generator"]["measured_velocity"]
                for path in tmp_path.glob("*.json")}
    assert sorted(measured) == sorted(f"cover_{axis}_{end}" for axis in ("lin_vel_x", "lin_vel_y", "ang_vel_z")
                                      for end in ("min", "max"))
    assert 0.12 <= measured["cover_lin_vel_y_max"]["vy"] <= 0.126 and measured["cover_lin_vel_y_min"]["vy"] <= -0.12
    assert 0.8 <= measured["cover_ang_vel_z_max"]["wz"] <= 0.83 and measured["cover_lin_vel_x_max"]["vx"] >= 0.25
    err = capsys.readouterr().err
    assert "walk_max_dx_backward (0.03): clamped" in err and "cover_lin_vel_x_min.json: lin_vel_x -0.139 reached" in err


@pytest.mark.parametrize("argv, words", [
    (["--cover", "G1Command", "--robot", "mini_bdx"], "expected the --cover task's robot 'g1'"),
    (["--cover", "DucklingAMP"], "expected a command task"),
    (["--cover", "Nothing"], "expected a command task (")])
def test_cover_refuses_a_task_without_commands_or_another_robot(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "-o", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cover_takes_a_variant_of_the_tasks_robot():
    from awd.gait.cover import check_cover_robot
    from awd.robot import load_robot_spec

    check_cover_robot(load_robot_spec("g1_23dof"), "g1")   # its 23 joints are among the G1's 29
    with pytest.raises(Exception, match="or a variant of it"):
        check_cover_robot(load_robot_spec("mini_bdx"), "g1")
