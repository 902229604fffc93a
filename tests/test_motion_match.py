"""The motion_match reward: distance to the nearest window of a clip at the commanded velocity."""

import shutil

import pytest
import torch

from awd import DATA_DIR
from awd.utils.io import read_yaml


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from awd.tasks import build_env

    folder = tmp_path_factory.mktemp("clips")
    for name in ("forward_medium", "standing"):
        shutil.copy(DATA_DIR / "motions" / "mini_bdx" / f"{name}.json", folder)
    mapping = read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml")["env"]
    mapping = {**mapping, "motion_file": str(folder), "init": {"mode": "Default"}}
    mapping["rewards"] = {"motion_match": {"weight": 1.0, "std": 0.5, "frames": 2, "command_weight": 3.0}}
    return build_env(mapping, 2, seed=0)


def reward(env, commands):
    env.set_commands(torch.as_tensor(commands, dtype=torch.float32))
    total, _ = env.compute_reward(torch.eye(3).expand(env.num_envs, 3, 3))
    return total


def test_the_clips_own_windows_score_one_and_standing_scores_by_the_command(env):
    from awd.tasks.amp_features import window_from_motion

    lib = env.motion_lib
    env.reset()
    walking = window_from_motion(env.amp_layout, lib, torch.tensor([0, 0]), torch.tensor([1.0, 2.0]), env.dt)
    env.amp_history = walking.to(env.dtype)
    first = reward(env, [[0.185, 0.0, 0.0]] * 2)
    forward = env.motion_bank.bank[0, -3:] / env.motion_bank.scale[-3:]
    assert forward[0] == pytest.approx(0.185, abs=0.005)  # forward_medium's mean velocity sits beside its windows
    assert torch.allclose(reward(env, forward.expand(2, 3)), torch.ones(2), atol=1e-4)
    assert bool((first > 0.9).all())
    standing = window_from_motion(env.amp_layout, lib, torch.tensor([1, 1]), torch.tensor([1.0, 1.0]), env.dt)
    env.amp_history = standing.to(env.dtype)
    still, asked_to_walk = reward(env, [[0.0, 0.0, 0.0], [0.185, 0.0, 0.0]])
    assert still > 0.99 and asked_to_walk < 0.5 * still


def test_it_needs_clips_and_judging_envs_switch_it_off():
    from awd.errors import AwdError
    from awd.loader import policy_env
    from awd.tasks import env_config_from_mapping

    mapping = read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml")["env"]
    mapping["rewards"] = {**mapping["rewards"], "motion_match": {"weight": 1.0}}
    with pytest.raises(AwdError, match="env.rewards.motion_match: this term reads the clips"):
        env_config_from_mapping({**mapping, "motion_file": None, "init": {"mode": "Default"}}, "cfg.yaml")
    judged = policy_env("DucklingCommand", mapping, "cfg.yaml")  # a policy trained with it is judged without clips
    assert judged.motion_lib is None and judged.cfg.rewards["motion_match"].weight == 0.0
    judged.reset()
    judged.step(torch.zeros(1, judged.num_actions))



def env_on_two_clips(folder, names, stand_at_zero: int):
    """An env of 2 envs on the clips `names` (copied into `folder`; clip ids in name order), whose AMP history is
    each clip's window at 1 s."""
    from awd.tasks import build_env
    from awd.tasks.amp_features import window_from_motion

    for name in names:
        shutil.copy(DATA_DIR / "motions" / "mini_bdx" / f"{name}.json", folder)
    mapping = read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_command.yaml")["env"]
    term = {"weight": 1.0, "std": 0.5, "frames": 2, "command_weight": 3.0, "stand_at_zero": stand_at_zero}
    env = build_env({**mapping, "motion_file": str(folder), "init": {"mode": "Default"},
                     "rewards": {"motion_match": term}}, 2, seed=0)
    env.reset()
    windows = window_from_motion(env.amp_layout, env.motion_lib, torch.tensor([0, 1]), torch.tensor([1.0, 1.0]), env.dt)
    env.amp_history = windows.to(env.dtype)
    return env


def test_stand_at_zero_leaves_the_clips_that_step_in_place_out_of_the_zero_command(tmp_path):
    scores = {saz: reward(env_on_two_clips(tmp_path, ("in_place", "standing"), saz), [[0.0, 0.0, 0.0]] * 2)
              for saz in (0, 1)}  # clips 0 and 1: both at zero velocity, one steps
    assert scores[0][0] > 0.95 and scores[0][1] > 0.99  # stepping in place matches in_place
    assert scores[1][0] < 0.1 and scores[1][1] > 0.99  # only standing is left for the zero command


def test_stand_at_zero_matches_the_zero_command_against_standing_alone(tmp_path):
    at_zero, at_its_velocity = {}, {}
    for saz in (0, 1):
        env = env_on_two_clips(tmp_path, ("standing", "turn_left_slow"), saz)  # clips 0 and 1
        at_zero[saz] = reward(env, [[0.0, 0.0, 0.0]] * 2)
        turn = env.motion_bank.bank[-1, -3:] / env.motion_bank.scale[-3:]
        at_its_velocity[saz] = reward(env, turn.expand(2, 3))
    assert at_zero[0][0] > 0.99 and at_zero[1][0] > 0.99  # standing at the zero command
    assert at_zero[1][1] < 0.1 * at_zero[0][1]  # a slow turn no longer passes for standing
    assert torch.allclose(at_its_velocity[0], at_its_velocity[1])  # other commands: the same bank
