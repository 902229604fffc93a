"""The clip format: round trip, atomic save, velocities, and one-line errors for bad clips."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation as R

from awd.errors import AwdError
from awd.motion.clip import (Clip, clip_from_positions, compute_velocities, frame_length, frame_offsets, load_clip,
                             save_clip)

JOINTS = tuple(f"j{i}" for i in range(16))


def make_clip(num_frames=40, fps=50.0, yaw_rate=0.7, lin_vel=(0.3, -0.1, 0.0), **options):
    """A synthetic 16-joint clip: constant linear velocity, constant yaw rate, sinusoidal joints."""
    t = np.arange(num_frames) / fps
    root_pos = np.array([0.0, 0.0, 0.25]) + np.outer(t, lin_vel)
    root_quat = R.from_euler("z", (yaw_rate * t)[:, None]).as_quat()
    joint_pos = np.sin(np.outer(t, np.arange(1, 17)) * 0.5)
    foot_pos = np.stack([root_pos + [0, 0.05, -0.25], root_pos + [0, -0.05, -0.25]], axis=1)
    contacts = np.stack([(np.arange(num_frames) // 10) % 2 == 0, np.ones(num_frames, bool)], axis=1)
    return clip_from_positions(fps, JOINTS, root_pos, root_quat, joint_pos, foot_pos, contacts.astype(float),
                               robot="test_bot", **options)


def write_document(tmp_path: Path, document: dict, name="clip.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def document(tmp_path):
    path = tmp_path / "good.json"
    save_clip(make_clip(), path)
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------------- basics

def test_properties_use_exact_frame_times():
    clip = make_clip(num_frames=31, fps=30.0)
    assert clip.num_frames == 31
    assert clip.frame_dt == 1.0 / 30.0
    assert clip.duration == pytest.approx(1.0, abs=1e-15)


def test_round_trip_preserves_everything(tmp_path):
    clip = make_clip(weight=2.5, loop_mode="Clamp", metadata={"Placo": {"dx": 0.1, "dtheta": 0.2}, "note": "x"})
    path = tmp_path / "clip.json"
    save_clip(clip, path)
    loaded = load_clip(path, joint_names=JOINTS)
    assert loaded.joint_names == JOINTS
    assert (loaded.fps, loaded.robot, loaded.weight, loaded.loop_mode) == (50.0, "test_bot", 2.5, "Clamp")
    assert loaded.metadata == {"Placo": {"dx": 0.1, "dtheta": 0.2}, "note": "x"}
    for name in ("root_pos", "root_quat", "joint_pos", "foot_pos", "root_lin_vel", "root_ang_vel", "joint_vel",
                 "foot_vel", "foot_contacts"):
        np.testing.assert_allclose(getattr(loaded, name), getattr(clip, name), atol=1e-6, err_msg=name)
        assert getattr(loaded, name).dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(loaded.root_quat, axis=1), 1.0, atol=1e-12)


def test_saved_json_layout_is_the_documented_one(tmp_path):
    clip = make_clip()
    path = tmp_path / "clip.json"
    save_clip(clip, path)
    doc = json.loads(path.read_text())
    assert doc["Format"] == "awd-clip" and doc["SchemaVersion"] == 1
    assert doc["FrameDuration"] == 1.0 / 50.0  # exact, not rounded
    assert list(doc["Frame_offset"][0]) == ["root_pos", "root_quat", "joints_pos", "left_toe_pos", "right_toe_pos",
                                            "world_linear_vel", "world_angular_vel", "joints_vel", "left_toe_vel",
                                            "right_toe_vel", "foot_contacts"]
    assert doc["Frame_offset"][0]["left_toe_pos"] == 23 and doc["Frame_offset"][0]["foot_contacts"] == 57
    assert len(doc["Frames"]) == 40 and all(len(f) == 59 == frame_length(16) for f in doc["Frames"])
    frame = doc["Frames"][5]
    np.testing.assert_allclose(frame[0:3], clip.root_pos[5], atol=1e-6)
    np.testing.assert_allclose(frame[3:7], clip.root_quat[5], atol=1e-6)
    np.testing.assert_allclose(frame[26:29], clip.root_pos[5] + [0, -0.05, -0.25], atol=1e-6)
    assert doc["Vel_x"] == pytest.approx(0.3, abs=1e-9)
    assert doc["Vel_y"] == pytest.approx(-0.1, abs=1e-9)
    assert doc["Yaw"] == pytest.approx(0.7, abs=1e-9)


def test_atomic_save_leaves_no_partial_file(tmp_path):
    path = tmp_path / "clip.json"
    save_clip(make_clip(), path)
    before = path.read_bytes()
    broken = make_clip(metadata={"unserialisable": object()})
    with pytest.raises(TypeError):
        save_clip(broken, path)
    assert path.read_bytes() == before  # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json"]  # no temporary left behind
    nan_clip = make_clip()
    nan_clip.joint_vel[3, 2] = np.nan
    with pytest.raises(ValueError):
        save_clip(nan_clip, tmp_path / "new.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json"]


def test_temporaries_of_a_killed_writer_are_removed_and_a_live_writers_kept(tmp_path):
    import subprocess
    import sys

    from awd.utils.io import atomic_open

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(finished.stdout), os.getpid()
    stale = tmp_path / f".policy.pth.{dead}.abc123.tmp"
    live = tmp_path / f".policy.pth.{alive}.def456.tmp"
    other = tmp_path / f".other.pth.{dead}.abc123.tmp"
    for path in (stale, live, other):
        path.write_bytes(b"half a checkpoint")
    with atomic_open(tmp_path / "policy.pth", "wb") as stream:
        stream.write(b"weights")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "policy.pth"])


def test_clip_rejects_inconsistent_shapes():
    clip = make_clip()
    with pytest.raises(ValueError, match="joint_pos"):
        Clip(**{**clip.__dict__, "joint_pos": clip.joint_pos[:, :15]})


# ------------------------------------------------------------------------------------------- velocities

def test_velocities_recover_linear_and_yaw_rate():
    clip = make_clip(num_frames=60, fps=30.0, yaw_rate=1.3, lin_vel=(0.4, 0.2, -0.05))
    np.testing.assert_allclose(clip.root_lin_vel, np.tile([0.4, 0.2, -0.05], (60, 1)), atol=1e-9)
    np.testing.assert_allclose(clip.root_ang_vel, np.tile([0.0, 0.0, 1.3], (60, 1)), atol=1e-9)
    np.testing.assert_allclose(clip.foot_vel[:, 1], np.tile([0.4, 0.2, -0.05], (60, 1)), atol=1e-9)
    t = np.arange(60) / 30.0
    omega, dt = 0.5 * np.arange(1, 17), 1.0 / 30.0
    # a central difference of sin(omega t) is omega cos(omega t) * sinc(omega dt)
    expected_joint_vel = omega * np.cos(np.outer(t, omega)) * np.sin(omega * dt) / (omega * dt)
    np.testing.assert_allclose(clip.joint_vel[1:-1], expected_joint_vel[1:-1], atol=1e-9)
    np.testing.assert_allclose(clip.joint_vel[0], (clip.joint_pos[1] - clip.joint_pos[0]) * 30.0, atol=1e-12)


def test_angular_velocity_is_a_world_vector_not_euler_rates():
    """Spin about a tilted world axis: the angular velocity is that axis times the rate, in world frame."""
    fps, rate = 100.0, 2.0
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    t = np.arange(50) / fps
    base = R.from_euler("xyz", [0.4, -0.3, 1.0])
    quats = (R.from_rotvec(np.outer(rate * t, axis)) * base).as_quat()
    velocities = compute_velocities(fps, np.zeros((50, 3)), quats, np.zeros((50, 2)), np.zeros((50, 2, 3)))
    np.testing.assert_allclose(velocities["root_ang_vel"], np.tile(rate * axis, (50, 1)), atol=1e-9)
    # quaternion sign flips between frames do not matter
    quats[1::2] *= -1
    velocities = compute_velocities(fps, np.zeros((50, 3)), quats, np.zeros((50, 2)), np.zeros((50, 2, 3)))
    np.testing.assert_allclose(velocities["root_ang_vel"], np.tile(rate * axis, (50, 1)), atol=1e-9)


def test_velocities_central_inside_one_sided_at_ends():
    # x = i^2 at fps 2 (dt = 0.5): ends (x1-x0)/dt, inside (x[i+1]-x[i-1])/(2 dt)
    x = np.array([0.0, 1.0, 4.0, 9.0])[:, None]
    velocities = compute_velocities(2.0, np.hstack([x, 0 * x, 0 * x]), np.tile([0, 0, 0, 1.0], (4, 1)),
                                    x, np.zeros((4, 2, 3)))
    np.testing.assert_allclose(velocities["joint_vel"][:, 0], [2.0, 4.0, 8.0, 10.0])
    np.testing.assert_allclose(velocities["root_lin_vel"][:, 0], [2.0, 4.0, 8.0, 10.0])


# ------------------------------------------------------------------------------------------- bad clips

def expect_error(path, field, *fragments, joint_names=JOINTS, **kwargs):
    with pytest.raises(AwdError) as info:
        load_clip(path, joint_names=joint_names, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message, message
    if field is not None:
        assert info.value.field == field, message
        assert field in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.json", None, "not found")


def test_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"FPS": 50,')
    expect_error(path, None, "invalid JSON")


def test_missing_and_unknown_fields(tmp_path, document):
    del document["Frames"]
    expect_error(write_document(tmp_path, document), "Frames", "missing")
    document["Frames"] = []
    document["MotionWieght"] = 1
    expect_error(write_document(tmp_path, document), "MotionWieght", "unknown field")


def test_legacy_clip_is_rejected_clearly(tmp_path, document):
    del document["Format"], document["SchemaVersion"]
    expect_error(write_document(tmp_path, document), "SchemaVersion", "legacy AWD clip")


def test_wrong_schema_version(tmp_path, document):
    document["SchemaVersion"] = 2
    expect_error(write_document(tmp_path, document), "SchemaVersion", "expected 1, found 2")


@pytest.mark.parametrize("fps", [0, -30, "50", None])
def test_fps_not_positive(tmp_path, document, fps):
    document["FPS"] = fps
    expect_error(write_document(tmp_path, document), "FPS", "positive")


def test_rounded_frame_duration_is_rejected(tmp_path, document):
    document["FPS"] = 60
    document["FrameDuration"] = 0.0167  # the old generator's rounding
    expect_error(write_document(tmp_path, document), "FrameDuration", "1/FPS", "0.0167")


def test_joint_names_differ(tmp_path, document):
    path = write_document(tmp_path, document)
    robot = list(JOINTS)
    robot[7] = "knee"
    expect_error(path, "Joints", "index 7", "'knee'", "'j7'", joint_names=robot)
    swapped = list(JOINTS)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    expect_error(path, "Joints", "different order", "index 2", joint_names=swapped)
    expect_error(path, "Joints", "expected 15 joints, found 16", "j15", joint_names=JOINTS[:15])


def test_layout_inconsistent_with_joint_count(tmp_path, document):
    document["Frame_size"][0]["joints_pos"] = 15
    expect_error(write_document(tmp_path, document), "Frame_size.joints_pos", "expected 16", "found 15")


def test_layout_overlap_and_bad_shape(tmp_path, document):
    good = json.loads(json.dumps(document))
    document["Frame_offset"][0]["joints_vel"] = 30
    expect_error(write_document(tmp_path, document), "Frame_offset", "overlap")
    good["Frame_offset"] = good["Frame_offset"][0]
    expect_error(write_document(tmp_path, good), "Frame_offset", "single-element list")


def test_frame_of_wrong_length_names_the_frame(tmp_path, document):
    document["Frames"][17] = document["Frames"][17][:-1]
    expect_error(write_document(tmp_path, document), "Frames[17]", "expected 59 numbers", "found 58")


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_values_name_frame_and_field(tmp_path, document, value):
    document["Frames"][9][frame_offsets(16)["joints_vel"] + 4] = value
    expect_error(write_document(tmp_path, document), "Frames[9].joints_vel", "finite")


@pytest.mark.parametrize("entry, index, value, words", [
    ("root_pos", 0, 1e300, "expected |value| <= 1000 m, found 1e+300"),
    ("joints_pos", 3, -20.0, "expected |value| <= 12.5664 rad"),
    ("world_linear_vel", 1, 80.0, "<= 50 m/s"),
    ("joints_vel", 5, 1e4, "<= 500 rad/s"),
])
def test_physically_absurd_values_name_frame_and_field(tmp_path, document, entry, index, value, words):
    document["Frames"][7][frame_offsets(16)[entry] + index] = value
    expect_error(write_document(tmp_path, document), f"Frames[7].{entry}", words)


def test_an_absurd_clip_is_not_written(tmp_path):
    clip = make_clip()
    clip.root_pos[4, 0] = 1e300
    with pytest.raises(AwdError, match=r"Frames\[4\].root_pos: expected \|value\| <= 1000 m"):
        save_clip(clip, tmp_path / "clip.json")
    assert list(tmp_path.iterdir()) == []


def test_non_unit_quaternion(tmp_path, document):
    document["Frames"][12][3:7] = [0.0, 0.0, 0.0, 1.01]
    expect_error(write_document(tmp_path, document), "Frames[12].root_quat", "unit quaternion", "1.01")


def test_slightly_off_quaternion_is_normalised(tmp_path, document):
    document["Frames"][12][3:7] = [0.0, 0.0, 0.0, 1.0005]
    clip = load_clip(write_document(tmp_path, document), JOINTS)
    np.testing.assert_allclose(clip.root_quat[12], [0, 0, 0, 1.0])


def test_contacts_not_binary(tmp_path, document):
    document["Frames"][4][-1] = 0.5
    expect_error(write_document(tmp_path, document), "Frames[4].foot_contacts", "0 or 1")


def test_too_few_frames_no_silent_trimming(tmp_path, document):
    document["Frames"] = document["Frames"][:1]
    expect_error(write_document(tmp_path, document), "Frames", "at least 2", "found 1")
    path = write_document(tmp_path, json.loads(json.dumps(document)))
    expect_error(path, "Frames", "at least 5", min_frames=5)
    assert load_clip(path, JOINTS, min_frames=1).num_frames == 1


def test_all_frames_are_kept(tmp_path, document):
    assert load_clip(write_document(tmp_path, document), JOINTS).num_frames == 40


@pytest.mark.parametrize("weight", [0, -1.0, "1"])
def test_motion_weight_not_positive(tmp_path, document, weight):
    document["MotionWeight"] = weight
    expect_error(write_document(tmp_path, document), "MotionWeight", "positive")


def test_unknown_loop_mode(tmp_path, document):
    document["LoopMode"] = "Loop"
    expect_error(write_document(tmp_path, document), "LoopMode", "Wrap", "Clamp", "'Loop'")


@pytest.mark.parametrize("value", ["0.1", True, None])
def test_non_numeric_frame_value(tmp_path, document, value):
    document["Frames"][3][0] = value
    expect_error(write_document(tmp_path, document), "Frames[3]", "numbers")
