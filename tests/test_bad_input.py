"""Generated bad input: every leaf of the shipped env YAMLs, every AMP training setting and every field of a clip,
each given a value of the wrong kind (or removed), and every PPO/AMP number outside its range, must give a
one-line AwdError that names the file and the field, never a traceback or silent acceptance."""

import copy
import json
from pathlib import Path

import pytest

from awd import DATA_DIR
from awd.errors import AwdError
from awd.learning.amp_settings import PPO_KEYS, AMPSettings, check_ppo_keys
from awd.motion.clip import load_clip
from awd.tasks.config import env_config_from_mapping
from awd.utils.io import read_yaml

ENV_FILES = ("mini_bdx/duckling_command.yaml", "mini_bdx/duckling_stand.yaml", "g1/g1_command.yaml")
CLIP = DATA_DIR / "motions" / "mini_bdx" / "forward_medium.json"


def wrong_value(value):
    """A value of another kind than `value`."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "fast"
    if isinstance(value, str):
        return 3
    if isinstance(value, list):
        return "x"
    return [1, 2]  # null (optional): a list fits no scalar field


def leaves(mapping, prefix=()):
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def env_cases():
    for name in ENV_FILES:
        env = read_yaml(DATA_DIR / "cfg" / name)["env"]
        for path, value in leaves(env):
            yield pytest.param(name, path, wrong_value(value), id=f"{name}:{'.'.join(path)}")


def assert_one_line(error: AwdError, *words: str):
    text = str(error)
    assert "\n" not in text and all(word in text for word in words), text


@pytest.mark.parametrize("name, path, value", list(env_cases()))
def test_a_wrong_kind_of_env_value_names_its_key(name, path, value):
    env = copy.deepcopy(read_yaml(DATA_DIR / "cfg" / name)["env"])
    parent = env
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(AwdError) as caught:
        env_config_from_mapping(env, source=name)
    assert_one_line(caught.value, name, "env." + ".".join(path))


@pytest.mark.parametrize("key", [field for field in AMPSettings.__dataclass_fields__])
def test_a_wrong_kind_of_amp_setting_names_its_key(key):
    default = getattr(AMPSettings(), key)
    with pytest.raises(AwdError) as caught:
        AMPSettings.from_config({key: wrong_value(default if default is not None else 1.0)})
    assert_one_line(caught.value, "train config", f"config.{key}")


@pytest.mark.parametrize("key", sorted(PPO_KEYS))
def test_a_training_number_out_of_its_range_names_its_key(key):
    kind, low, low_allowed, high = PPO_KEYS[key]
    below = low - 1 if low_allowed else low
    for value in (below, *([high + 1] if high is not None else [])):
        with pytest.raises(AwdError) as caught:
            check_ppo_keys({key: kind(value)})
        assert_one_line(caught.value, "train config", f"config.{key}", "expected")


def clip_cases():
    document = json.loads(CLIP.read_text())
    required = ("Format", "SchemaVersion", "FPS", "MotionWeight", "Joints", "Frames", "Frame_offset", "Frame_size")
    for key in required:
        yield pytest.param(key, None, id=f"missing {key}")
    for key in ("Format", "SchemaVersion", "FPS", "FrameDuration", "LoopMode", "MotionWeight", "Joints", "Frames",
                "Frame_offset", "Frame_size", "EnableCycleOffsetPosition", "EnableCycleOffsetRotation", "Vel_x",
                "Vel_y", "Yaw", "Robot", "Placo", "Metadata"):
        yield pytest.param(key, wrong_value(document[key]), id=f"wrong {key}")
    for key, value in (("FPS", -50.0), ("MotionWeight", 0.0), ("Frames", []), ("Joints", ["neck"] * 16),
                       ("Vel_x", float("nan")), ("FrameDuration", 0.5), ("LoopMode", "Bounce")):
        yield pytest.param(key, value, id=f"bad {key}")


@pytest.mark.parametrize("key, value", list(clip_cases()))
def test_a_malformed_clip_names_its_file_and_field(tmp_path: Path, key, value):
    document = json.loads(CLIP.read_text())
    if value is None:
        del document[key]
    else:
        document[key] = value
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(document))
    with pytest.raises(AwdError) as caught:
        load_clip(path)
    assert_one_line(caught.value, str(path), key)


def test_the_generated_suite_has_at_least_a_hundred_cases():
    count = (len(list(env_cases())) + len(AMPSettings.__dataclass_fields__) + len(PPO_KEYS)
             + len(list(clip_cases())))
    assert count >= 100, count
