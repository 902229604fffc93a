"""The reward audit (awd.style.reward_audit): clips played kinematically through the task, their rewards beside the
standing clip's and a policy's."""

from __future__ import annotations

import pytest
import torch

from awd.config import load_run_config
from awd.errors import AwdError
from awd.style.reward_audit import (AuditSettings, ClipPlayback, audit_rewards, build_audit_env, format_audit, main,
                                   overpaid_terms)


def env_config(task="DucklingCommand", overrides=()):
    config = load_run_config(task, overrides=overrides)
    return {"task": task, "env": config["env"], "source": config["sources"]["env"]}


def test_a_played_clip_is_the_clip_frame_by_frame_with_its_contacts():
    env = build_audit_env(env_config(), 2, 1.0, AuditSettings(threads=1))
    ids = torch.tensor([3, 5])
    env.engine = ClipPlayback(env.engine, env.motion_lib, ids, env.dt)
    env.reset()
    for _ in range(7):
        env.step(torch.zeros(2, env.spec.num_joints))
    clip = env.motion_lib.get_state(ids, torch.full((2,), 7 * env.dt, dtype=torch.float64))
    assert torch.allclose(env.engine.joint_pos, clip.joint_pos.float(), atol=1e-5)
    assert torch.allclose(env.engine.root_pos, clip.root_pos.float(), atol=1e-5)
    assert torch.equal(env.engine.foot_contacts, clip.foot_contacts > 0.5)


@pytest.fixture(scope="module")
def shipped_duck():
    return audit_rewards(env_config(), settings=AuditSettings(threads=2))


def test_the_shipped_duck_reward_pays_each_clips_gait_more_than_standing(shipped_duck):
    stepping = [row for row in shipped_duck["clips"] if row["stepping"]]
    assert len(stepping) == 32 and shipped_duck["motions"] == ["clip", "standing"]  # left_slow: 0.049 m/s, zeroed
    for row in stepping:
        assert sum(row["clip"].values()) > sum(row["standing"].values()) + 1.0, row["name"]
    means = shipped_duck["means"]
    assert means["clip"]["feet_swing_height"] > 0.3 and means["standing"]["feet_swing_height"] == 0.0
    assert means["clip"]["lin_vel_xy"] > 0.99
    assert overpaid_terms(means) == {"standing": {}}
    assert "| feet_swing_height |" in format_audit(shipped_duck)


def test_a_reward_that_pays_standing_is_shown(capsys):
    main(["--task", "DucklingCommand", "env.rewards.feet_swing_height.weight=-40"])
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("| forward_medium |")]
    assert rows and rows[0].endswith("| standing clip |")
    named = [line for line in out if line.startswith("terms that pay the standing clip more than the clip's gait: ")]
    assert named and named[0].split(": ")[1].startswith("feet_swing_height +")


def test_a_policy_is_audited_in_physics_and_a_task_without_commands_is_refused(trained_checkpoint):
    from awd.style.judge import load_policy_under_test

    policy = load_policy_under_test(trained_checkpoint)
    result = audit_rewards(policy.env_config, policy.act, AuditSettings(threads=2, settle_s=0.5, measure_s=0.5))
    assert result["motions"] == ["clip", "standing", "policy"]
    assert all(row["policy"] is None or row["policy"]["motion_match"] >= 0.0 for row in result["clips"])
    with pytest.raises(AwdError, match="takes no commands"):
        audit_rewards(env_config("DucklingAMP"))


def test_with_a_gait_clock_each_clip_is_played_in_phase_and_its_contacts_earn_what_the_clock_expects():
    clocked = ["env.commands.gait_period_s=0.43", "env.rewards.gait_contact.weight=1"]  # the duck clips' stride
    result = audit_rewards(env_config(overrides=clocked), settings=AuditSettings(threads=2, measure_s=1.0))
    means = result["means"]
    assert means["clip"]["gait_contact"] > 0.9  # left touchdown at phase 0, stance 0.55 of the stride
    assert 0.4 < means["standing"]["gait_contact"] < 0.65  # both feet down: half of what a stepping command expects


def test_at_the_extremes_each_is_audited_with_the_clip_that_walks_nearest_it():
    from awd.style.gait import gait_stats
    from awd.style.judge import judged_dataset
    from awd.style.recording import clip_gaits
    from awd.robot import load_robot_spec

    config = env_config()
    result = audit_rewards(config, settings=AuditSettings(threads=2, settle_s=1.0, measure_s=0.5), extremes=True)
    names, gaits = clip_gaits(load_robot_spec("mini_bdx"), judged_dataset(None, config, None))
    assert [row["name"].split(" (")[0] for row in result["clips"]] == [
        "lin_vel_x min", "lin_vel_x max", "lin_vel_y min", "lin_vel_y max", "ang_vel_z min", "ang_vel_z max"]
    for row in result["clips"]:
        axis = max(range(3), key=lambda i: abs(row["command"][i]))
        clip = row["name"].split(" (")[1].rstrip(")")
        assert gait_stats(gaits[names.index(clip)]).velocity[axis] * row["command"][axis] > 0, row["name"]
        assert sum(row["clip"].values()) > sum(row["standing"].values()), row["name"]
