"""Datasets: a clip, a folder of clips, or a YAML list with weights; errors name the file and entry."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation as R

from awd.errors import AwdError
from awd.motion.clip import clip_from_positions, save_clip
from awd.motion.dataset import load_dataset

JOINTS = tuple(f"j{i}" for i in range(16))


def make_clip(speed=0.2, weight=1.0, num_frames=20):
    t = np.arange(num_frames) / 50.0
    root_pos = np.outer(t, [speed, 0.0, 0.0]) + [0, 0, 0.25]
    return clip_from_positions(50.0, JOINTS, root_pos, R.identity(num_frames).as_quat(), np.zeros((num_frames, 16)),
                               np.zeros((num_frames, 2, 3)), np.ones((num_frames, 2)), weight=weight)


@pytest.fixture
def clips_dir(tmp_path):
    folder = tmp_path / "clips"
    for name, speed in (("b_walk.json", 0.2), ("a_walk.json", 0.1), ("c_walk.json", 0.3)):
        save_clip(make_clip(speed, weight=3.0), folder / name)
    (folder / "notes.txt").write_text("not a clip")
    (folder / "sub").mkdir()
    save_clip(make_clip(0.9), folder / "sub" / "deep.json")  # not loaded: folders are not recursive
    return folder


def speed(clip):
    return round(float(clip.root_lin_vel[0, 0]), 6)


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def expect_error(path, field, *fragments):
    with pytest.raises(AwdError) as info:
        load_dataset(path, joint_names=JOINTS)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message, message
    if field is not None:
        assert info.value.field == field, message
    for fragment in fragments:
        assert fragment in message, message


def test_single_clip(clips_dir):
    clips = load_dataset(clips_dir / "a_walk.json", JOINTS)
    assert [speed(c) for c in clips] == [0.1]


def test_folder_sorted_by_name_not_recursive(clips_dir):
    clips = load_dataset(clips_dir, JOINTS)
    assert [speed(c) for c in clips] == [0.1, 0.2, 0.3]
    assert [c.weight for c in clips] == [3.0, 3.0, 3.0]


def test_yaml_relative_and_absolute_paths_and_weights(tmp_path, clips_dir):
    sets = tmp_path / "sets"
    sets.mkdir()
    path = write_yaml(sets / "mix.yaml", f"""
motions:
  - file: ../clips/c_walk.json
    weight: 0.5
  - file: {clips_dir / 'a_walk.json'}
  - file: ../clips/c_walk.json
    weight: 2
""")
    clips = load_dataset(path, JOINTS)
    assert [speed(c) for c in clips] == [0.3, 0.1, 0.3]  # duplicates allowed, order kept
    assert [c.weight for c in clips] == [0.5, 3.0, 2.0]  # YAML weight overrides MotionWeight


def test_missing_path(tmp_path):
    expect_error(tmp_path / "nothing", None, "not found")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    expect_error(tmp_path / "empty", None, "*.json", "found none")


def test_unsupported_suffix(tmp_path):
    path = write_yaml(tmp_path / "motions.txt", "x")
    expect_error(path, None, ".txt")


def test_yaml_not_a_mapping(tmp_path):
    expect_error(write_yaml(tmp_path / "d.yaml", "- file: a.json\n"), None, "mapping", "list")


def test_yaml_missing_motions(tmp_path):
    expect_error(write_yaml(tmp_path / "d.yaml", "clips: []\n"), "motions", "missing")


def test_yaml_empty_motions(tmp_path):
    expect_error(write_yaml(tmp_path / "d.yaml", "motions: []\n"), "motions", "non-empty")


def test_yaml_missing_clip_names_entry(tmp_path, clips_dir):
    path = write_yaml(tmp_path / "d.yaml", "motions:\n  - file: clips/a_walk.json\n  - file: clips/gone.json\n")
    expect_error(path, "motions[1].file", "not found", "gone.json")


@pytest.mark.parametrize("weight", ["0", "-2", "abc", "true", ".nan"])
def test_yaml_bad_weight(tmp_path, clips_dir, weight):
    path = write_yaml(tmp_path / "d.yaml", f"motions:\n  - file: clips/a_walk.json\n    weight: {weight}\n")
    expect_error(path, "motions[0].weight", "positive")


def test_yaml_entry_without_file_or_with_unknown_key(tmp_path, clips_dir):
    expect_error(write_yaml(tmp_path / "d.yaml", "motions:\n  - weight: 1\n"), "motions[0].file", "clip path")
    path = write_yaml(tmp_path / "e.yaml", "motions:\n  - file: clips/a_walk.json\n    wieght: 1\n")
    expect_error(path, "motions[0].wieght", "unknown key")
    expect_error(write_yaml(tmp_path / "f.yaml", "motions:\n  - clips/a_walk.json\n"), "motions[0]", "mapping")


def test_yaml_syntax_error(tmp_path):
    expect_error(write_yaml(tmp_path / "d.yaml", "motions: [\n"), None, "invalid YAML")


def test_bad_clip_inside_dataset_names_the_clip(tmp_path, clips_dir):
    (clips_dir / "d_broken.json").write_text("{")
    with pytest.raises(AwdError) as info:
        load_dataset(clips_dir, JOINTS)
    assert "d_broken.json" in str(info.value) and "invalid JSON" in str(info.value)


def test_joint_order_checked_for_every_clip(clips_dir):
    with pytest.raises(AwdError, match="Joints"):
        load_dataset(clips_dir, JOINTS[::-1])
