"""CSV import of retargeted motion (root xyz, quaternion xyzw, joints; the LAFAN1 G1 layout): a clip written
out as CSV comes back (feet by forward kinematics, floor, contacts), column orders for another robot, and
bad input is one line naming the file and the row or option, exit code 2, nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from awd.motion.clip import load_clip
from awd.robot import load_robot_spec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from import_csv import main  # noqa: E402

MOTIONS = Path(__file__).resolve().parent.parent / "awd" / "data" / "motions"


@pytest.fixture(scope="module")
def g1():
    return load_robot_spec("g1")


@pytest.fixture(scope="module")
def walk(g1):
    return load_clip(MOTIONS / "g1" / "forward_medium.json", g1.joint_names)


def write_csv(path: Path, clip, lift: float = 0.0, header: str | None = None) -> Path:
    rows = np.concatenate([clip.root_pos + [0.0, 0.0, lift], clip.root_quat, clip.joint_pos], axis=1)
    np.savetxt(path, rows, delimiter=",", fmt="%.6f", header=header or "", comments="")
    if header is None:  # np.savetxt writes an empty first line for an empty header
        path.write_text(path.read_text().lstrip("\n"))
    return path


def test_a_clip_round_trips_through_csv_and_lands_on_the_floor(tmp_path, g1, walk, capsys):
    source = write_csv(tmp_path / "walk.csv", walk, lift=0.05)
    assert main([str(source), "--robot", "g1", "--fps", "50", "-o", str(tmp_path / "out")]) == 0
    clip = load_clip(tmp_path / "out" / "walk.json", g1.joint_names)
    assert "201 frames" in capsys.readouterr().out
    assert clip.fps == 50.0 and clip.num_frames == walk.num_frames and clip.loop_mode == "Clamp"
    np.testing.assert_allclose(clip.root_pos, walk.root_pos, atol=2e-4)   # the lift is taken back off
    np.testing.assert_allclose(clip.joint_pos, walk.joint_pos, atol=1e-5)
    np.testing.assert_allclose(clip.foot_pos, walk.foot_pos, atol=2e-4)
    np.testing.assert_allclose(clip.root_lin_vel, walk.root_lin_vel, atol=1e-3)
    assert (clip.foot_contacts == walk.foot_contacts).mean() > 0.9
    assert clip.metadata["Import"]["source"] == "walk.csv"


def test_frame_range_header_no_floor_and_another_column_order(tmp_path, g1, walk):
    source = write_csv(tmp_path / "walk.csv", walk, lift=0.05, header="x,y,z,qx,qy,qz,qw,...")
    assert main([str(source), "--robot", "g1_23dof", "--columns", "g1", "--fps", "50", "--header", "--start", "10",
                 "--end", "60", "--floor", "none", "--loop", "Wrap", "-o", str(tmp_path)]) == 0
    g1_23dof = load_robot_spec("g1_23dof")
    clip = load_clip(tmp_path / "walk.json", g1_23dof.joint_names)
    assert clip.num_frames == 50 and clip.loop_mode == "Wrap"
    np.testing.assert_allclose(clip.root_pos, walk.root_pos[10:60] + [0, 0, 0.05], atol=1e-5)
    columns = [g1.joint_index(name) for name in g1_23dof.joint_names]
    np.testing.assert_allclose(clip.joint_pos, walk.joint_pos[10:60, columns], atol=1e-5)
    order = tmp_path / "order.txt"
    order.write_text("\n".join(reversed(g1.joint_names)))
    rows = np.concatenate([walk.root_pos, walk.root_quat, walk.joint_pos[:, ::-1]], axis=1)
    np.savetxt(tmp_path / "reversed.csv", rows, delimiter=",", fmt="%.6f")
    assert main([str(tmp_path / "reversed.csv"), "--columns", str(order), "--fps", "50", "-o", str(tmp_path)]) == 0
    np.testing.assert_allclose(load_clip(tmp_path / "reversed.json").joint_pos, walk.joint_pos, atol=1e-5)


def _bad_rows(walk, edit):
    rows = [",".join(f"{v:.6f}" for v in row)
            for row in np.concatenate([walk.root_pos, walk.root_quat, walk.joint_pos], axis=1)]
    edit(rows)
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("edit, args, field, words", [
    (lambda r: r.__setitem__(2, r[2] + ",0.0"), [], "row 3", "expected 36 columns"),
    (lambda r: r.__setitem__(0, "x,y,z" + r[0][r[0].index(",", 20):]), [], "row 1, column 1", "a header row?"),
    (lambda r: r.__setitem__(4, r[4].replace(r[4].split(",")[9], "nan", 1)), [], "row 5, column 10", "finite"),
    (lambda r: r.__setitem__(3, ",".join(["0.0"] * 3 + ["0.5", "0.0", "0.0", "0.0"] + r[3].split(",")[7:])), [],
     "row 4, columns 4-7", "unit quaternion"),
    (lambda r: r.__setitem__(6, ",".join(r[6].split(",")[:10] + ["3.5"] + r[6].split(",")[11:])), [],
     "row 7, joint left_knee_joint", "within"),
    (lambda r: None, ["--start", "200"], "--start/--end", "at least 2 frames"),
    (lambda r: None, ["--columns", "mini_bdx"], "--columns", "have no column"),
    (lambda r: None, ["--fps", "0"], "--fps", "positive frame rate"),
    (lambda r: r.clear(), [], "expected rows", "found none"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, walk, capsys, edit, args, field, words):
    (tmp_path / "good.csv").write_text(_bad_rows(walk, lambda rows: None))
    (tmp_path / "bad.csv").write_text(_bad_rows(walk, edit))
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "good.csv"), str(tmp_path / "bad.csv"), "--fps", "50", "-o", str(tmp_path / "out"),
              *args])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and field in message and words in message, message
    assert not (tmp_path / "out").exists()  # the good file is not written either


def test_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nowhere.csv"), "-o", str(tmp_path / "out")])
    assert "nowhere.csv: CSV file not found" in capsys.readouterr().err
