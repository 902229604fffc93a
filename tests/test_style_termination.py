"""Early termination on a sustained low style reward (awd.learning.style_termination): the per-env count, the env
side (a requested termination ends the episode as a termination), and a training run that uses it."""

from __future__ import annotations

import pytest
import torch
from test_learning_train import DummyAmpEnv, run_training, scalars, train_yaml
from test_tasks import make_env, motion_lib, spec  # noqa: F401 (fixtures)

from awd.errors import AwdError
from awd.learning.register import register_env
from awd.learning.style_termination import StyleTermination


class RecordingEnv:
    def __init__(self):
        self.requests = []

    def request_termination(self, mask):
        self.requests.append(mask.tolist())


def test_an_env_is_asked_to_end_after_the_set_number_of_consecutive_low_steps():
    env, styles = RecordingEnv(), iter([[0.0, 0.9, 0.0], [0.0, 0.0, 0.9], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    guard = StyleTermination(0.5, 2, lambda amp_obs: torch.tensor(next(styles)).unsqueeze(-1), env, 3, "cpu")
    never_done = torch.zeros(3, dtype=torch.uint8)
    for dones in (never_done, never_done, never_done, torch.tensor([1, 0, 0], dtype=torch.uint8)):
        guard.observe(torch.zeros(3, 4), dones)
    # env 0: low, low -> asked; its episode then ends (count reset); env 1 low from step 2; env 2 from step 3
    assert env.requests == [[False, False, False], [True, False, False], [True, True, False], [False, True, True]]
    assert guard.rollout_stats(torch.tensor(2.0)) == {"info/style_termination_rate": 0.5}
    assert guard.rollout_stats(torch.tensor(2.0)) == {"info/style_termination_rate": 0.0}


def test_off_at_threshold_zero_and_refused_for_an_env_that_cannot_end_episodes():
    off = StyleTermination(0.0, 2, lambda amp_obs: pytest.fail("no style reward computed when off"), None, 3, "cpu")
    off.observe(torch.zeros(3, 4), torch.zeros(3))
    assert off.rollout_stats(torch.tensor(1.0)) == {}
    with pytest.raises(AwdError, match="style_termination_threshold: the env has no request_termination"):
        StyleTermination(0.5, 2, None, object(), 3, "cpu")


def test_a_requested_termination_ends_the_episode_on_the_next_step_as_a_termination(spec, motion_lib):  # noqa: F811
    task, _ = make_env(spec, motion_lib, num_envs=3)
    task.reset()
    task.request_termination(torch.tensor([False, True, False]))
    _, _, dones, infos = task.step(torch.zeros(3, task.num_actions))
    assert dones.tolist() == [False, True, False] and infos["terminate"].tolist() == [False, True, False]
    assert float(infos["episode"]["fall_rate"]) == 0.0


class EndableDummyEnv(DummyAmpEnv):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.requested = torch.zeros(self.num_envs, dtype=torch.bool)

    def request_termination(self, mask):
        self.requested = mask.clone()

    def step(self, actions):
        obs, reward, done, infos = super().step(actions)
        ids = (self.requested & ~done).nonzero().squeeze(1)
        self.t[ids] = 0
        infos["terminate"] = infos["terminate"] | self.requested
        return obs, reward, done | self.requested, infos


register_env("awd_test_endable", lambda **kwargs: EndableDummyEnv(**kwargs))


def test_training_with_a_threshold_no_step_reaches_ends_episodes_by_style(tmp_path):
    run_training(train_yaml(tmp_path, max_epochs=1, env_name="awd_test_endable", style_termination_threshold=1e9,
                            style_termination_steps=3))
    assert scalars(tmp_path / "exp" / "summaries")["info/style_termination_rate"][0] > 0.5
