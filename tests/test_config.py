"""Run configuration: task defaults, config path resolution, dotted overrides."""

import pytest
import yaml

from awd.config import apply_override, load_run_config
from awd.errors import AwdError


def test_overrides_change_the_shipped_config():
    shipped = load_run_config("DucklingCommand")
    config = load_run_config("DucklingCommand", overrides=["env.rewards.lin_vel_xy.weight=0.5",
                                                           "train.params.config.gamma=0.95",
                                                           "env.commands.lin_vel_x=[-0.1, 0.3]"])
    assert shipped["env"]["rewards"]["lin_vel_xy"]["weight"] != 0.5
    assert shipped["train"]["params"]["config"]["gamma"] != 0.95
    assert config["env"]["rewards"]["lin_vel_xy"]["weight"] == 0.5
    assert config["train"]["params"]["config"]["gamma"] == 0.95
    assert config["env"]["commands"]["lin_vel_x"] == [-0.1, 0.3]  # values parse as YAML


def test_custom_files_load_with_overrides(tmp_path):
    env, train = tmp_path / "env.yaml", tmp_path / "train.yaml"
    env.write_text(yaml.safe_dump({"env": {"task": "DucklingCommand", "seed": 3}}))
    train.write_text(yaml.safe_dump({"params": {"config": {"gamma": 0.9}}}))
    config = load_run_config("Custom", str(env), str(train), ["env.seed=4"])
    assert config["env"]["seed"] == 4 and config["train"]["params"]["config"]["gamma"] == 0.9
    assert config["sources"] == {"env": str(env), "train": str(train)}


@pytest.mark.parametrize(
    "override, words",
    [
        ("env.rewards.lin_vel_xy.weigth=0.5", "no key 'weigth'"),
        ("env.reward.lin_vel_xy.weight=0.5", "no section 'env.reward'"),
        ("rewards.lin_vel_xy.weight=0.5", "starting with 'env.' or 'train.'"),
        ("env.rewards.lin_vel_xy.weight", "expected a dotted override"),
        ("env.seed=[1", "could not parse value"),
    ],
)
def test_bad_override_is_a_one_line_error(override, words):
    config = load_run_config("DucklingCommand")
    with pytest.raises(AwdError, match=words):
        apply_override(config, override)


def test_a_config_older_than_a_reward_term_or_parameter_takes_an_override_of_it():
    config = load_run_config("G1Command")
    rewards = config["env"]["rewards"]
    del rewards["gait_swing_height"], rewards["gait_contact"]["stance"]  # as a checkpoint written before them
    apply_override(config, "env.rewards.gait_swing_height.arc=1")
    apply_override(config, "env.rewards.gait_contact.stance=0.6")
    assert rewards["gait_swing_height"] == {"weight": 0.0, "arc": 1} and rewards["gait_contact"]["stance"] == 0.6
    for override, words in (("env.rewards.gait_swing_height.arcs=1", "no key 'arcs'"),
                            ("env.rewards.gait_swing.weight=1", "no section 'env.rewards.gait_swing'")):
        with pytest.raises(AwdError, match=words):
            apply_override(config, override)


def test_unknown_task_and_missing_file():
    with pytest.raises(AwdError, match="unknown task 'Walk'"):
        load_run_config("Walk")
    with pytest.raises(AwdError, match="config file not found"):
        load_run_config("DucklingCommand", cfg_env="nowhere.yaml")


def test_numbers_in_exponent_notation_are_numbers_on_the_command_line_and_in_files(tmp_path):
    from awd.utils.io import read_yaml

    config = load_run_config("DucklingCommand", overrides=["train.params.config.learning_rate=1.0e-4",
                                                           "train.params.config.disc_learning_rate=1e-5",
                                                           "train.params.config.max_epochs=3E4"])
    run = config["train"]["params"]["config"]
    assert (run["learning_rate"], run["disc_learning_rate"], run["max_epochs"]) == (1e-4, 1e-5, 30000.0)
    path = tmp_path / "numbers.yaml"
    path.write_text("a: 1.0e12\nb: 5e-3\nc: 0.5e\nd: '1e3'\n")
    assert read_yaml(path) == {"a": 1e12, "b": 5e-3, "c": "0.5e", "d": "1e3"}  # a quoted number stays a string


def test_g1command_trains_symmetric_and_a_dotted_override_still_wins():
    from awd.run import build_run_config, parse_args

    def run_params(*words):
        return build_run_config(*parse_args(["--task", *words]))["train"]["params"]

    def symmetric(*words):
        return run_params(*words)["network"]["actor"]["symmetric"]

    assert symmetric("G1Command") is True
    assert symmetric("G1AMP") is False
    assert symmetric("G1Command", "train.params.network.actor.symmetric=false") is False
    assert run_params("G1Command", "train.params.config.symmetry_coef=1")["config"]["symmetry_coef"] == 1.0
    # every entry point (benchmarks, play, audits) reads the task's train settings, not only training
    assert load_run_config("G1Command")["train"]["params"]["network"]["actor"]["symmetric"] is True
    assert load_run_config("G1AMP")["train"]["params"]["config"]["task_reward_w"] == 0.0
