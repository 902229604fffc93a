"""The style timeline (awd.style.timeline): what fails, report by report, over a run's style reports."""

import json

import pytest

from awd.style.timeline import main


def clip(name, joint_error=0.05, baseline=0.1, fell=False, offsets=None, **missed):
    checks = {"survived": not fell, "stride_period": True, "joint_error": joint_error / baseline <= 0.5, **missed}
    row = {"name": name, "fell": fell, "joint_error": joint_error, "baseline_error": baseline, "pass": checks}
    return row if offsets is None else {**row, "joint_offsets": offsets}


def extreme(label, command, achieved, fell=False):
    ok = not fell and abs(achieved - command) <= 0.1 * abs(command)
    axis = ("lin_vel_x", "lin_vel_y", "ang_vel_z").index(label.split()[0])
    return {"extreme": label, "command": [command if i == axis else 0.0 for i in range(3)],
            "achieved": [achieved if i == axis else 0.01 for i in range(3)], "fell": fell,
            "pass": {"survived": not fell, "commanded_axis": ok}}


def write(folder, epoch, clips, extremes, accuracy=0.99):
    path = folder / "nested" / "style" / f"epoch{epoch:06d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"epoch": epoch, "clips": clips, "extremes": extremes,
                                "classifier_accuracy": accuracy}))


def test_each_report_names_its_failing_clips_and_extremes_in_epoch_order(tmp_path, capsys):
    write(tmp_path, 200, [clip("forward_fast", 0.096, offsets={"knee": 0.11, "ankle": -0.09}),
                          clip("left_fast", fell=True, offsets={"knee": 0.02, "ankle": 0.01}),
                          clip("turn_left", offsets={"knee": 0.03, "ankle": -0.01})],
          [extreme("lin_vel_y max", 0.2, 0.174), extreme("ang_vel_z min", -0.6, 0.0, fell=True)])
    write(tmp_path, 50, [clip("forward_fast"), clip("left_fast", clearance=False), clip("turn_left")],
          [extreme("lin_vel_y max", 0.2, 0.195), extreme("ang_vel_z min", -0.6, -0.61)], accuracy=None)
    reports = main([str(tmp_path)])
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [report["epoch"] for report in reports] == [50, 200]
    assert rows[0] == "| 50 | 2/3 | - | left_fast clearance | 2/2 | - | - |"
    assert rows[1] == ("| 200 | 1/3 | knee +0.030 (+0.110 forward_fast) | forward_fast joint 0.96; left_fast fell "
                       "| 0/2 | lin_vel_y max 0.174 of 0.20; ang_vel_z min fell | 0.990 |")


def test_a_folder_without_reports_or_a_broken_report_is_one_line_and_exit_code_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        main([str(tmp_path)])
    assert error.value.code == 2 and "expected a style report" in capsys.readouterr().err
    broken = tmp_path / "style" / "epoch000010.json"
    broken.parent.mkdir()
    broken.write_text("{")
    with pytest.raises(SystemExit) as error:
        main([str(tmp_path)])
    assert error.value.code == 2 and f"{broken}: invalid JSON" in capsys.readouterr().err
