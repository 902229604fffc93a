"""Fall rules fit the robot: each rule that is on is proven against the robot standing at its default pose before
an env is built, and a run says which rules are on."""

import pytest

from awd import DATA_DIR
from awd.errors import AwdError
from awd.robot import load_robot_spec
from awd.tasks.config import env_config_from_mapping
from awd.tasks.terminations import check_standing, describe
from awd.utils.io import read_yaml

CONFIG = DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml"


def termination(**values):
    env = read_yaml(CONFIG)["env"]
    env["termination"].update(values)
    return env_config_from_mapping(env, "my_env.yaml").termination


@pytest.mark.parametrize("values, field, words", [
    ({"trunk_height": 0.3}, "termination.trunk_height", "above the trunk standing at its default pose (0.22"),
    ({"head_height": 0.5}, "termination.head_height", "above the head body 'head'"),
])
def test_a_rule_the_standing_robot_already_breaks_is_refused(values, field, words):
    with pytest.raises(AwdError) as error:
        check_standing(termination(**values), load_robot_spec("mini_bdx"), "my_env.yaml")
    message = str(error.value)
    assert "my_env.yaml" in message and field in message and words in message and "\n" not in message


def test_the_shipped_rules_hold_standing_and_say_which_are_on():
    spec = load_robot_spec("mini_bdx")
    check_standing(termination(), spec, "my_env.yaml")
    assert describe(termination(), spec) == ("falls: trunk below 0.12 m; head (head) below 0.18 m; a body other "
                                             "than the feet touching the floor (after 2 steps)")
    assert describe(termination(enabled=False), spec).startswith("falls: off")


def test_a_head_body_on_a_leg_link_and_a_robot_without_a_head(tmp_path):
    import dataclasses

    spec = load_robot_spec("mini_bdx")
    with pytest.raises(AwdError, match="head body 'left_knee_link'.*is it the head"):
        check_standing(termination(), dataclasses.replace(spec, head_body="left_knee_link"), "my_env.yaml")
    headless = dataclasses.replace(spec, head_body=None)
    check_standing(termination(), headless, "my_env.yaml")
    assert "head_height off: the robot spec names no head body" in describe(termination(), headless)


def test_a_body_touching_the_floor_standing_is_refused():
    import dataclasses

    sunk = dataclasses.replace(load_robot_spec("mini_bdx"), init_root_height=0.12)
    with pytest.raises(AwdError, match="termination.non_foot_contact: body '.*' touches the floor"):
        check_standing(termination(trunk_height=0.05), sunk, "my_env.yaml")


def test_building_an_env_checks_its_rules_first():
    from awd.tasks import build_env

    env = read_yaml(CONFIG)["env"]
    env["termination"]["trunk_height"] = 0.3
    with pytest.raises(AwdError, match="termination.trunk_height"):
        build_env(env, 1, source="my_env.yaml")
