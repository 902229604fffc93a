"""The classifier probe (awd/style/classifier_probe.py): it records a policy as the style report does and blames the
feature group, or the held joints, where a motion differs from its clips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from awd import DATA_DIR
from awd.style.classifier_probe import format_rows, probe_rows, recorded_motions
from awd.style.judge import PolicyUnderTest, StyleSettings
from awd.style.recording import clip_gaits

SHORT = StyleSettings(settle_s=0.5, measure_s=1.5, threads=1, extreme_rollouts=1)


@pytest.fixture(scope="module")
def clip_holding_two_joints(spec):
    (gait,) = clip_gaits(spec, DATA_DIR / "motions" / "mini_bdx" / "forward_medium.json")[1]
    held = np.zeros(len(spec.joint_names), dtype=bool)
    held[[0, 1]] = True
    joints = gait.joint_pos.copy()
    joints[:, held] = joints[:, held].mean(axis=0)
    return dataclasses.replace(gait, joint_pos=joints), held


def test_a_motion_that_differs_only_in_the_held_joints_is_blamed_on_them(clip_holding_two_joints):
    clip, held = clip_holding_two_joints
    joints = clip.joint_pos.copy()
    joints[:, held] += 0.1
    motion = dataclasses.replace(clip, joint_pos=joints)
    rows = dict(probe_rows([motion], [clip], held, seeds=(0,), steps=120))
    assert rows["joints alone"][0] > 0.9 and rows["all but height"][0] > 0.9
    assert rows["all but joints"][0] < 0.7 and rows["height alone"][0] < 0.7
    assert rows["all groups, held joints as the clips'"][0] < 0.7
    assert "| joints alone | " in format_rows(list(rows.items()), 0.75)


def test_an_imitation_policy_is_recorded_free_against_every_clip_with_the_tasks_held_joints(spec):
    from awd.config import load_run_config

    env = load_run_config("DucklingAMP", overrides=["env.episode_length_s=3", "env.init.mode=Default"])["env"]
    still = lambda obs: torch.zeros(len(obs), len(spec.joint_names))  # noqa: E731
    policy = PolicyUnderTest("still", {"task": "DucklingAMP", "env": env, "source": "test"},
                             DATA_DIR / "motions" / "mini_bdx", still)
    motions, clips, held = recorded_motions(policy, SHORT)
    assert len(motions) == 1 and motions[0].num_frames == 125  # the rest of the 3-s episode after settling
    assert len(clips) == len(clip_gaits(spec, DATA_DIR / "motions" / "mini_bdx")[0])
    held_names = {name for name, h in zip(spec.joint_names, held) if h}
    assert held_names == {"neck_pitch", "head_pitch", "head_yaw", "head_roll", "left_antenna", "right_antenna"}


def test_against_a_second_policy_the_two_performances_are_told_apart_and_a_mismatch_is_refused(spec):
    from awd.config import load_run_config
    from awd.errors import AwdError
    from awd.style.classifier import held_out_accuracy
    from awd.style.classifier_probe import recorded_against

    def policy(name, task, offset=0.0):
        env = load_run_config(task, overrides=["env.episode_length_s=3", "env.init.mode=Default"])["env"]
        act = lambda obs: torch.full((len(obs), len(spec.joint_names)), offset)  # noqa: E731
        return PolicyUnderTest(name, {"task": task, "env": env, "source": "test"}, DATA_DIR / "motions" / "mini_bdx",
                               act)

    still, bent = policy("still", "DucklingAMP"), policy("bent", "DucklingAMP", offset=0.5)
    motions, others, held = recorded_against(still, bent, SHORT)
    assert held is None and len(motions) == len(others) == 1
    assert held_out_accuracy(motions, others, steps=120, parts=("joints",)) > 0.9
    assert held_out_accuracy(motions, motions, steps=120) < 0.7
    with pytest.raises(AwdError, match="same robot judged at the same commands"):
        recorded_against(still, policy("commanded", "DucklingCommand"), SHORT)
