"""Run configuration: task defaults, config path resolution, dotted overrides."""

import pytest
import yaml

from awd.config import apply_override, load_run_config
from awd.errors import AwdError


def _files(tmp_path):
    env = tmp_path / "env.yaml"
    env.write_text(yaml.safe_dump({"env": {"num_envs": 4, "reward": {"lin_vel": 1.0}}}))
    train = tmp_path / "train.yaml"
    train.write_text(yaml.safe_dump({"params": {"config": {"gamma": 0.95}}}))
    return str(env), str(train)


def test_overrides_change_existing_keys_with_yaml_values(tmp_path):
    env, train = _files(tmp_path)
    config = load_run_config("Custom", env, train, ["env.reward.lin_vel=0.5", "train.params.config.gamma=0.99"])
    assert config["env"]["reward"]["lin_vel"] == 0.5
    assert config["train"]["params"]["config"]["gamma"] == 0.99


@pytest.mark.parametrize(
    "override, words",
    [
        ("env.reward.lin_vell=0.5", "no key 'lin_vell'"),
        ("env.rewards.lin_vel=0.5", "no section 'env.rewards'"),
        ("reward.lin_vel=0.5", "starting with 'env.' or 'train.'"),
        ("env.reward.lin_vel", "expected a dotted override"),
    ],
)
def test_bad_override_is_a_one_line_error(tmp_path, override, words):
    env, train = _files(tmp_path)
    config = load_run_config("Custom", env, train)
    with pytest.raises(AwdError, match=words):
        apply_override(config, override)


def test_unknown_task_and_missing_file():
    with pytest.raises(AwdError, match="unknown task 'Walk'"):
        load_run_config("Walk")
    with pytest.raises(AwdError, match="config file not found"):
        load_run_config("DucklingCommand", cfg_env="nowhere.yaml")
