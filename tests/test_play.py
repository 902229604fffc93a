"""Playback (awd/play.py, `run.py --test`): keyboard commands, headless play with a fixed command, an export folder
and clips played the same way, a video rendered offscreen with the overlay, and one-line errors for bad input."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from awd.play import KEY_DOWN, KEY_LEFT, KEY_UP, KeyboardCommand
from awd.run import main as run_main

RUN = Path(__file__).resolve().parent.parent / "awd" / "run.py"


def test_keys_step_the_command_within_its_ranges():
    keyboard = KeyboardCommand([(-0.2, 0.4), (-0.1, 0.1), (-0.8, 0.8)])
    for key in (KEY_UP, ord("W"), ord("Z")):  # arrows, WASD and the AZERTY z (forward)
        keyboard.on_key(key)
    assert keyboard.value[0] == pytest.approx(0.3)
    for _ in range(9):
        keyboard.on_key(KEY_UP)
    assert keyboard.value[0] == pytest.approx(0.4)  # clipped to the range
    keyboard.on_key(ord("A"))
    keyboard.on_key(KEY_LEFT)
    keyboard.on_key(ord("E"))
    assert keyboard.value[1:] == pytest.approx([0.025, 0.0])
    for _ in range(12):
        keyboard.on_key(KEY_DOWN)
    assert keyboard.value[0] == pytest.approx(-0.2)
    keyboard.changed = False
    keyboard.on_key(ord("M"))  # not a command key
    assert not keyboard.changed
    keyboard.on_key(ord("X"))
    assert keyboard.changed and not keyboard.value.any()


def _status_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("time")]


def test_headless_play_holds_a_fixed_command(trained_checkpoint, capsys):
    run_main(["--test", "--headless", "--checkpoint", str(trained_checkpoint), "--duration", "2",
              "--command", "0.1", "0", "-0.3"])
    lines = _status_lines(capsys.readouterr().out)
    assert len(lines) == 2 and all("command vx +0.10 vy +0.00 m/s  wz -0.30 rad/s" in line for line in lines)
    assert all("measured vx" in line for line in lines)


def test_an_export_folder_plays_like_its_checkpoint(trained_checkpoint, tmp_path, capsys):
    from awd.export import export_checkpoint

    folder = export_checkpoint(trained_checkpoint, tmp_path / "export")
    argv = ["--test", "--headless", "--duration", "1", "--command", "0.1", "0", "-0.3"]
    run_main([*argv, "--checkpoint", str(trained_checkpoint)])
    from_checkpoint = _status_lines(capsys.readouterr().out)
    run_main([*argv, "--checkpoint", str(folder)])
    assert _status_lines(capsys.readouterr().out) == from_checkpoint and len(from_checkpoint) == 1


def test_clips_play_the_same_way(capsys):
    run_main(["--test", "--headless", "--task", "DucklingViewMotion", "--duration", "1",
              "--motion_file",
              str(Path(__file__).resolve().parent.parent / "awd/data/motions/mini_bdx/forward_fast.json")])
    (line,) = _status_lines(capsys.readouterr().out)
    vx = float(line.split("measured vx ")[1].split()[0])
    assert vx > 0.05 and "command" not in line  # the clip walks forward; the task takes no commands


def _egl_works() -> bool:
    probe = "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=120).returncode == 0


@pytest.mark.skipif(importlib.util.find_spec("imageio") is None,
                    reason="imageio not installed (pip install -e .[video])")
def test_video_is_rendered_offscreen_with_the_overlay_and_the_clip_beside(trained_checkpoint, tmp_path):
    if not _egl_works():
        pytest.skip("no offscreen OpenGL (MUJOCO_GL=egl) on this machine")
    import imageio.v2 as imageio

    video = tmp_path / "play.mp4"
    clip = Path(__file__).resolve().parent.parent / "awd/data/motions/mini_bdx/forward_medium.json"
    env = {**os.environ, "MUJOCO_GL": "egl", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(RUN), "--test", "--headless", "--checkpoint", str(trained_checkpoint),
                          "--video", str(video), "--duration", "0.4", "--beside_clip", str(clip)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with imageio.get_reader(video) as reader:
        frames = list(reader.iter_data())
    assert len(frames) == 10 and frames[0].shape == (480, 1280, 3)  # 0.4 s at 25 fps; the clip to the right
    corner, body, clip_body = frames[-1][5:60, 5:300], frames[-1][150:400, 200:440], frames[-1][150:400, 840:1080]
    assert (corner > 200).any() and body.std() > 10 and clip_body.std() > 10  # overlay text; two rendered robots
    assert sorted(p.name for p in tmp_path.iterdir()) == ["play.mp4"]


def test_a_clip_beside_the_policy_sets_the_command_to_the_clip_velocity():
    from types import SimpleNamespace

    from awd.play import clip_command
    from awd.robot import load_robot_spec

    clip = Path(__file__).resolve().parent.parent / "awd/data/motions/mini_bdx/forward_medium.json"
    vx, vy, wz = clip_command(SimpleNamespace(spec=load_robot_spec("mini_bdx")), clip)
    assert vx == pytest.approx(0.185, abs=0.005) and abs(vy) < 0.005 and abs(wz) < 0.02


def test_gif_writer_keeps_every_frame_and_loops(tmp_path):
    from PIL import Image

    from awd.play import video_writer

    frames = [np.full((16, 24, 3), 40 * k, dtype=np.uint8) for k in range(5)]
    with video_writer(tmp_path / "walk.gif", 25.0) as writer:
        for frame in frames:
            writer.append_data(frame)
    with Image.open(tmp_path / "walk.gif") as image:
        assert image.size == (24, 16) and image.n_frames == 5 and image.info["loop"] == 0
        assert image.info["duration"] == 40
        image.seek(4)
        assert np.asarray(image.convert("RGB")).mean() == pytest.approx(160, abs=3)


@pytest.mark.parametrize("argv, words", [
    (["--engine", "mujoco_warp"], "playback runs one robot on CPU MuJoCo"),
    (["--beside_clip", "x.json"], "expected --video as well"),
    (["--task", "DucklingViewMotion", "--command", "0.1", "0", "0"], "takes no commands"),
    ([], "no display"),
])
def test_bad_input_is_one_line_and_exit_code_2(trained_checkpoint, monkeypatch, capsys, argv, words):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    checkpoint = [] if "DucklingViewMotion" in argv else ["--checkpoint", str(trained_checkpoint)]
    headless = ["--headless", "--duration", "0.1"] if argv else []
    with pytest.raises(SystemExit) as exit_info:
        run_main(["--test", *checkpoint, *headless, *argv])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and words in line, line


def test_a_missing_opengl_backend_named_by_mujoco_gl_is_one_line_naming_its_package(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MUJOCO_GL": "osmesa"}
    if subprocess.run([sys.executable, "-c", "import mujoco"], env=env, capture_output=True).returncode == 0:
        pytest.skip("OSMesa is installed here")
    run = subprocess.run([sys.executable, "-c", "import awd"], env=env, capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error: MUJOCO_GL=osmesa: ") and "apt install libosmesa6" in line


@pytest.mark.parametrize("robot, expected", [("mini_bdx", 1.2), ("g1", None)])
def test_the_camera_frames_the_whole_robot_whatever_its_size(robot, expected):
    import mujoco
    import numpy as np

    from awd.play import framing_distance
    from awd.robot import load_robot_spec
    from awd.robot.model import build_model, default_qpos

    spec = load_robot_spec(robot)
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    distance = framing_distance(model, data, spec.trunk_body)
    if expected is not None:
        assert distance == pytest.approx(expected)  # the duck's view as it was
    half_view = distance * np.tan(np.radians(model.vis.global_.fovy) / 2)
    trunk, head_top = data.xpos[model.body(spec.trunk_body).id, 2], data.geom_xpos[:, 2].max()
    assert trunk < half_view and head_top - trunk < half_view  # feet on the floor and head inside the frame
    assert robot == "mini_bdx" or distance > 2.0  # the old fixed 1.2 m cut off the G1's head and feet
