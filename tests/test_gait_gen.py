"""The Placo gait generator: clips are physically sensible (speed matches the command, feet alternate, swing
height and CoM height follow the walk parameters), use the spec's joint order, load back, and the CLI writes
complete files only (seeded, reproducible, nothing left behind on failure)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from awd.errors import AwdError
from awd.gait import WalkCommand, WalkEngine, load_walk_params, root_yaw
from awd.gait.batch import ClipJob, GenerationOptions, named_jobs, random_jobs, run_jobs
from awd.gait.cli import build_parser
from awd.motion.clip import compute_velocities, load_clip, save_clip
from awd.robot import load_robot_spec

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "gait_gen" / "auto_gait_generator.py"
LENGTH = 3.5  # seconds: 8 whole gait periods of 0.432 s
FPS = 50.0
COMMANDS = {
    "forward": (0.04, 0.0, 0.0),
    "backward": (-0.02, 0.0, 0.0),
    "left": (0.0, 0.02, 0.0),
    "turn_left": (0.0, 0.0, 0.15),
    "forward_turn_right": (0.03, 0.0, -0.1),
    "diagonal_turn": (0.02, -0.015, -0.12),
}


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.fixture(scope="module")
def params(spec):
    return load_walk_params(spec)


@pytest.fixture(scope="module")
def engine(spec, params):
    return WalkEngine(spec, params)


@pytest.fixture(scope="module")
def recordings(engine):
    return {name: engine.generate(WalkCommand(*command), LENGTH, FPS) for name, command in COMMANDS.items()}


def _heading_offset(clip):
    """Mean position of the root relative to the midpoint of the soles, in the heading frame (forward, left)."""
    yaw = root_yaw(clip.root_quat)
    offset = clip.root_pos[:, :2] - clip.foot_pos[:, :, :2].mean(axis=1)
    forward = np.cos(yaw) * offset[:, 0] + np.sin(yaw) * offset[:, 1]
    left = -np.sin(yaw) * offset[:, 0] + np.cos(yaw) * offset[:, 1]
    return forward.mean(), left.mean()


def expected_root_velocity(clip, command, period):
    """Root velocity implied by the per-step command: each step moves the feet frame by (dx, dy) and turns it
    by dtheta, i.e. the displacement seen from the mean heading of the step is (dx, dy) rotated by -dtheta/2;
    two steps per period. The root sits at a fixed offset r from the feet midpoint, so it also moves by
    omega x r when turning."""
    dx, dy, dtheta = command
    half = dtheta / 2
    step_x = dx * math.cos(half) + dy * math.sin(half)
    step_y = -dx * math.sin(half) + dy * math.cos(half)
    omega = 2 * dtheta / period
    r_forward, r_left = _heading_offset(clip)
    return np.array([2 * step_x / period - omega * r_left, 2 * step_y / period + omega * r_forward, omega])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_mean_root_velocity_matches_the_command(recordings, engine, name):
    recording = recordings[name]
    measured = recording.clip.metadata["Generator"]["measured_velocity"]
    assert measured["periods"] == 8 and measured["window_s"] == pytest.approx(8 * engine.period)
    got = np.array([measured["vx"], measured["vy"], measured["wz"]])
    want = expected_root_velocity(recording.clip, COMMANDS[name], engine.period)
    tolerance = 0.10 * np.abs(want) + np.array([0.004, 0.004, 0.01])
    assert np.all(np.abs(got - want) <= tolerance), (got, want)
    # Straight walks: the plain per-period rule v = 2 d / period holds within 10 % as well.
    if COMMANDS[name][2] == 0:
        nominal = 2 * np.array(COMMANDS[name]) / engine.period
        assert np.all(np.abs(got - nominal) <= 0.10 * np.abs(nominal) + 0.004), (got, nominal)


def test_feet_alternate_and_stance_feet_stay_on_the_floor(recordings):
    clip = recordings["forward"].clip
    contacts = clip.foot_contacts
    assert set(np.unique(contacts)) <= {0.0, 1.0}
    assert np.all(contacts.sum(axis=1) >= 1), "a frame with no foot on the floor"
    single = [(0 if row[0] else 1) for row in contacts if row.sum() == 1]
    phases = [side for index, side in enumerate(single) if index == 0 or side != single[index - 1]]
    assert len(phases) >= 14 and all(a != b for a, b in zip(phases, phases[1:]))
    assert contacts[0].tolist() == [1.0, 0.0], "the clip starts at a left single-support phase"
    for foot in range(2):
        stance = (contacts[:, foot] == 1) & (contacts[:, 1 - foot] == 0)
        assert np.abs(clip.foot_pos[stance, foot, 2]).max() < 1e-3


def test_swing_foot_height_peaks_at_walk_foot_height(recordings, params):
    clip = recordings["forward"].clip
    for foot in range(2):
        swinging = clip.foot_contacts[:, foot] == 0
        edges = np.flatnonzero(np.diff(np.concatenate([[0], swinging.astype(int), [0]])))
        peaks = [clip.foot_pos[start:stop, foot, 2].max() for start, stop in zip(edges[::2], edges[1::2])
                 if start > 0 and stop < clip.num_frames]  # whole swings only
        assert len(peaks) >= 7
        assert np.allclose(peaks, params["walk_foot_height"], rtol=0.1), peaks


def test_com_height_is_walk_com_height_and_root_above_it(recordings, params):
    """The CoM height is what Placo controls (walk_com_height); the trunk (root) rides 2-3 cm above it."""
    for recording in recordings.values():
        com_z = recording.com_pos[:, 2]
        assert np.abs(com_z - params["walk_com_height"]).max() < 2e-3
        root_z = recording.clip.root_pos[:, 2]
        assert 0.0 < root_z.min() - params["walk_com_height"] and root_z.max() - params["walk_com_height"] < 0.04


def test_ik_tracks_the_planned_feet(recordings):
    for recording in recordings.values():
        assert recording.foot_tracking_error < 3e-3


def test_clip_layout_joint_order_and_reload(recordings, spec, tmp_path):
    recording = recordings["forward_turn_right"]
    clip = recording.clip
    assert clip.joint_names == spec.joint_names
    assert clip.num_frames == int(round(LENGTH * FPS)) + 1 and clip.fps == FPS
    assert np.allclose(np.linalg.norm(clip.root_quat, axis=1), 1.0)
    assert np.allclose(clip.root_pos[0, :2], 0.0) and abs(root_yaw(clip.root_quat)[0]) < 1e-9
    velocities = compute_velocities(clip.fps, clip.root_pos, clip.root_quat, clip.joint_pos, clip.foot_pos)
    for key, value in velocities.items():
        assert np.allclose(getattr(clip, key), value)
    # The world angular velocity is a true vector: its z component integrates to the heading change.
    yaw = root_yaw(clip.root_quat)
    integrated = np.sum(0.5 * (clip.root_ang_vel[1:, 2] + clip.root_ang_vel[:-1, 2])) / clip.fps
    assert integrated == pytest.approx(yaw[-1] - yaw[0], abs=0.02)
    path = tmp_path / "clip.json"
    save_clip(clip, path)
    loaded = load_clip(path, joint_names=spec.joint_names)
    assert np.allclose(loaded.joint_pos, clip.joint_pos, atol=1e-6)
    document = json.loads(path.read_text())
    assert document["Placo"]["dx"] == 0.03 and document["Placo"]["dtheta"] == -0.1
    for key in ("walk_com_height", "single_support_duration", "feet_spacing", "period", "avg_x_lin_vel",
                "joint_angles"):
        assert key in document["Placo"]
    assert document["Metadata"]["Generator"]["version"]
    assert {"Vel_x", "Vel_y", "Yaw"} <= set(document)


def test_clip_starts_in_a_steady_walk(recordings, engine):
    clip = recordings["forward"].clip
    frames_per_period = engine.period * clip.fps
    first = clip.root_pos[int(round(frames_per_period)), 0] - clip.root_pos[0, 0]
    assert first / engine.period == pytest.approx(2 * 0.04 / engine.period, rel=0.05)


def test_skip_warmup_records_the_start_from_rest(engine):
    recording = engine.generate(WalkCommand(0.04, 0.0, 0.0), 1.0, FPS, skip_warmup=True)
    clip = recording.clip
    assert clip.metadata["Generator"]["t0"] == 0.0
    assert clip.foot_contacts[0].tolist() == [1.0, 1.0]
    assert np.abs(clip.foot_pos[0, :, 2]).max() < 1e-3
    assert abs(clip.root_lin_vel[0, 0]) < 0.05


def test_standing_clip_is_static(engine, params):
    clip = engine.generate(WalkCommand(), 1.0, FPS, stand=True).clip
    assert np.all(clip.foot_contacts == 1.0)
    assert np.allclose(clip.root_lin_vel, 0.0) and np.allclose(clip.joint_vel, 0.0)
    assert np.abs(clip.foot_pos[:, :, 2]).max() < 1e-3


def test_named_set_and_random_draws(params):
    names = [job.name for job in named_jobs(params)]
    assert len(names) == len(set(names)) == 26
    for motion in ("standing", "in_place", "forward_slow", "backward_fast", "left_medium", "right_medium",
                   "turn_left_fast", "turn_right_slow", "forward_left_medium", "forward_right_fast"):
        assert f"{motion}.json" in names
    ranges = {"dx": (-0.03, 0.05), "dy": (-0.02, 0.02), "dtheta": (-0.2, 0.2)}
    jobs = random_jobs(200, ranges, seed=5)
    assert jobs == random_jobs(200, ranges, seed=5) != random_jobs(200, ranges, seed=6)
    for key, (low, high) in ranges.items():
        values = np.array([getattr(job, key) for job in jobs])
        assert low <= values.min() and values.max() <= high and values.max() - values.min() > 0.8 * (high - low)


# ------------------------------------------------------------------------------------------- params


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_preset_overrides_defaults_and_is_validated(spec, tmp_path):
    params = load_walk_params(spec, _write(tmp_path / "p.json", {"walk_foot_height": 0.04,
                                                                 "joint_angles": {"head_pitch": 10}}))
    assert params["walk_foot_height"] == 0.04 and params["walk_com_height"] == 0.2
    assert params.joint_angles["head_pitch"] == pytest.approx(math.radians(10))
    cases = {
        "bogus_key": ({"walk_foot_hieght": 0.04}, "walk_foot_hieght"),
        "type": ({"planned_timesteps": 4.5}, "planned_timesteps"),
        "negative": ({"single_support_duration": -1}, "single_support_duration"),
        "leg_joint": ({"joint_angles": {"left_knee": 5}}, "joint_angles.left_knee"),
        "unknown_joint": ({"joint_angles": {"tail": 5}}, "joint_angles.tail"),
        "swing_leg": ({"arm_swing_joints": ["left_knee", "head_yaw"]}, "arm_swing_joints"),
        "swing_count": ({"arm_swing_joints": ["head_yaw"]}, "arm_swing_joints"),
        "roll_type": ({"foot_roll_free": 1}, "foot_roll_free"),
    }
    for name, (document, field) in cases.items():
        path = _write(tmp_path / f"{name}.json", document)
        with pytest.raises(AwdError) as caught:
            load_walk_params(spec, path)
        assert caught.value.field == field and caught.value.source == str(path)


def test_cli_flags_match_the_old_tool():
    args = build_parser().parse_args(["--mini", "-n", "3", "-o", "x", "-l", "4", "--preset", "p.json", "--min_dx",
                                      "-0.01",
                                      "--max_dx", "0.02", "--min_dy", "0", "--max_dy", "0", "--min_dtheta", "0",
                                      "--max_dtheta", "0.1", "--stand", "--skip_warmup", "-j"])
    assert args.mini and args.num_recordings == 3 and args.length == 4 and args.jobs == (os.cpu_count() or 1)
    assert build_parser().parse_args([]).jobs == 1 and build_parser().parse_args([]).fps == 50


# ---------------------------------------------------------------------------------------------- CLI


def _run_cli(*arguments, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_writes_n_reproducible_clips_from_any_directory(tmp_path, spec):
    first = _run_cli("-n", "3", "-o", "a", "-l", "2", "--seed", "7", "-j", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = _run_cli("-n", "3", "-o", str(tmp_path / "b"), "-l", "2", "--seed", "7", "-q", cwd=REPO)
    assert second.returncode == 0, second.stderr
    names = sorted(os.listdir(tmp_path / "a"))
    assert names == ["random_000.json", "random_001.json", "random_002.json"] == sorted(os.listdir(tmp_path / "b"))
    for name in names:
        # Same commands, same motion. Not byte-identical: Placo's IK differs run to run in the last bit
        # (~1e-15), which reaches the unrounded metadata floats; frames are rounded to 1e-6 when saved.
        a, b = (json.loads((tmp_path / folder / name).read_text()) for folder in ("a", "b"))
        keys = ("dx", "dy", "dtheta")
        assert [a["Placo"][key] for key in keys] == [b["Placo"][key] for key in keys]
        assert np.allclose(a["Frames"], b["Frames"], rtol=0, atol=1.01e-6)
        assert a["Vel_x"] == pytest.approx(b["Vel_x"], abs=1e-9)
        load_clip(tmp_path / "a" / name, joint_names=spec.joint_names)
    assert cli_main(["-n", "1", "-o", str(tmp_path / "c"), "-l", "1", "--seed", "8", "-q"]) == 0
    c = json.loads((tmp_path / "c" / "random_000.json").read_text())
    assert c["Placo"]["dx"] != json.loads((tmp_path / "a" / "random_000.json").read_text())["Placo"]["dx"]
    assert "random_002.json" in first.stdout and "vx" in first.stdout


def cli_main(argv: list[str]):
    from awd.gait.cli import main

    return main(argv)


def test_cli_names_pick_clips_of_the_named_set(tmp_path, capsys):
    cli_main(["--names", "turn_left_slow,standing", "-o", str(tmp_path / "out"), "-l", "1", "-q"])
    assert sorted(os.listdir(tmp_path / "out")) == ["standing.json", "turn_left_slow.json"]
    with pytest.raises(SystemExit) as bad:
        cli_main(["--names", "standing,moonwalk", "-o", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert bad.value.code == 2 and "--names" in err and "'moonwalk'" in err
    assert not (tmp_path / "bad").exists()


def test_cli_bad_preset_fails_in_one_line_and_writes_nothing(tmp_path, capsys):
    preset = _write(tmp_path / "bad.json", {"walk_com_height": 0.2, "walk_max_speed": 1.0})
    with pytest.raises(SystemExit) as result:
        cli_main(["-n", "2", "-o", str(tmp_path / "out"), "--preset", str(preset)])
    assert result.value.code != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(preset) in lines[0] and "walk_max_speed" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_failed_generation_leaves_no_partial_file(spec, params, tmp_path, monkeypatch):
    original = WalkEngine.generate

    def fail_on_the_second(self, command, *args, **kwargs):
        if command.dx == 0.02:
            raise RuntimeError("QP infeasible")
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(WalkEngine, "generate", fail_on_the_second)
    jobs = [ClipJob("good.json", 0.01), ClipJob("bad.json", 0.02), ClipJob("never.json", 0.03)]
    with pytest.raises(AwdError) as caught:
        run_jobs(spec, params, jobs, tmp_path, GenerationOptions(length=1.0), workers=1, progress=False)
    assert "bad.json" in str(caught.value) and "QP infeasible" in str(caught.value)
    assert os.listdir(tmp_path) == ["good.json"]

    import awd.motion.clip as clip_module

    def broken_dump(document, stream, **kwargs):
        stream.write('{"Format": "awd-clip", ')
        raise OSError("disk full")

    monkeypatch.setattr(clip_module.json, "dump", broken_dump)
    with pytest.raises(AwdError) as caught:
        run_jobs(spec, params, [ClipJob("half.json", 0.01)], tmp_path, GenerationOptions(length=1.0), progress=False)
    assert "half.json" in str(caught.value) and "disk full" in str(caught.value) and "\n" not in str(caught.value)
    assert os.listdir(tmp_path) == ["good.json"]


@pytest.mark.parametrize("argv, words", [
    (["-l", "0.01"], "--length: expected at least 2 frames per clip, found --length 0.01 s x --fps 50.0 = 0.5"),
    (["--min_dx", "nan"], "--min_dx: expected a finite number, found nan"),
    (["--fps", "inf"], "--fps: expected a finite number"),
])
def test_cli_bad_numbers_are_one_line_before_anything_is_written(argv, words, tmp_path, capsys):
    from awd.gait.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["-n", "1", "-o", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert words in line and not (tmp_path / "out").exists()


def test_ranges_beyond_the_presets_step_limits_are_said_to_be_clamped():
    from awd.gait.cli import clamped_ranges

    params = {"walk_max_dx_forward": 0.08, "walk_max_dx_backward": 0.03, "walk_max_dy": 0.1, "walk_max_dtheta": 1.0}
    inside = {"dx": (-0.03, 0.08), "dy": (-0.1, 0.1), "dtheta": (-1.0, 1.0)}
    assert clamped_ranges(inside, params) == []
    lines = clamped_ranges({**inside, "dx": (5.0, 5.0), "dtheta": (-2.0, 0.0)}, params)
    assert lines == [
        "--max_dx 5 is beyond the preset's walk_max_dx_forward (0.08 per step): Placo clamps each step to 0.08",
        "--min_dtheta -2 is beyond the preset's walk_max_dtheta (1 per step): Placo clamps each step to -1"]
