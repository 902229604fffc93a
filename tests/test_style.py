"""The style benchmark (awd/style): a clip replayed kinematically in the engine passes every per-clip criterion
and fools the style classifier; a synthetic shuffle with the issue's numbers (small steps, feet barely lifted,
both feet down half the time) fails them; the benchmark judges a checkpoint and an export folder end to end."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from awd import DATA_DIR
from awd.errors import AwdError
from awd.style.classifier import held_out_accuracy, one_motion_accuracies
from awd.style.gait import Gait, gait_stats
from awd.style.judge import (PolicyUnderTest, StyleSettings, clip_passes, compare, export_policy, format_report,
                             held_joints, judge_style, load_policy_under_test, main, offset_joints, style_verdict,
                             worst_joints)
from awd.style.recording import clip_gaits
from awd.tasks import build_env
from awd.tasks.config import VerdictConfig, env_config_from_mapping

CLIP = DATA_DIR / "motions" / "mini_bdx" / "forward_medium.json"
SHORT = StyleSettings(settle_s=0.5, measure_s=1.5, threads=1, extreme_rollouts=1)


@pytest.fixture(scope="module")
def clip(spec) -> Gait:
    (gait,) = clip_gaits(spec, CLIP)[1]
    return gait


@pytest.fixture(scope="module")
def replayed(spec) -> Gait:
    """forward_medium played kinematically through the CPU engine (DucklingViewMotion), as the engine sees it."""
    env = build_env({"task": "DucklingViewMotion", "motion_file": str(CLIP)}, 1, task="DucklingViewMotion", seed=0)
    engine, feet = env.engine, [env.engine.body_index(b) for b in spec.foot_bodies]
    env.reset()
    frames = []
    for _ in range(140):
        env.step()
        frames.append([t[0].double().numpy().copy() for t in (engine.root_pos, engine.root_quat, engine.root_lin_vel,
                       engine.root_ang_vel, engine.joint_pos, engine.body_pos[:, feet], engine.foot_contacts)])
    arrays = [np.stack([f[i] for f in frames]) for i in range(7)]
    return Gait(env.dt, *arrays[:6], arrays[6] > 0.5)


def shuffle(clip: Gait, default_pose: np.ndarray) -> Gait:
    """The issue's shuffle: joints at a third of the clip's excursion, feet lifted 2 mm, both down half the time."""
    feet = clip.foot_pos.copy()
    feet[..., 2] *= 0.07
    down = clip.foot_contacts | (np.arange(clip.num_frames) % 4 < 2)[:, None]
    return dataclasses.replace(clip, joint_pos=default_pose + 0.3 * (clip.joint_pos - default_pose), foot_pos=feet,
                               foot_contacts=down, root_lin_vel=0.5 * clip.root_lin_vel)


def judged(policy: Gait, clip: Gait, spec) -> dict:
    result = {"fell": False, **compare(policy, clip, spec.default_joint_pos)}
    return clip_passes(result, VerdictConfig())


def test_the_clip_has_the_gait_its_generator_planned(clip):
    stats = gait_stats(clip)
    assert stats.stride_period == pytest.approx(0.432, abs=0.01)  # Placo period 0.432 s
    assert stats.clearance == pytest.approx((0.03, 0.03), abs=0.002)  # walk_foot_height 0.03 m
    assert 0.1 < stats.double_support < 0.25 and stats.flight == 0.0
    assert stats.velocity[0] == pytest.approx(0.185, abs=0.01) and stats.pitch_deg == pytest.approx(-3.0, abs=0.01)
    assert stats.step_phase == pytest.approx(0.5, abs=0.05) and stats.clearance_symmetry > 0.95


def test_a_clip_replayed_kinematically_passes_every_criterion(replayed, clip, spec):
    checks = judged(replayed, clip, spec)
    assert set(checks) == {"survived", "double_support", "stride_period", "clearance", "joint_error", "held_joints"}
    assert all(checks.values()), checks
    result = compare(replayed, clip, spec.default_joint_pos)
    assert result["joint_error"] < 0.01 < 0.05 < result["baseline_error"]


def test_a_synthetic_shuffle_fails(clip, spec):
    fake = shuffle(clip, spec.default_joint_pos)
    stats = gait_stats(fake)
    assert max(stats.clearance) < 0.003 and stats.double_support > 0.5
    checks = judged(fake, clip, spec)
    assert not checks["clearance"] and not checks["double_support"] and not checks["joint_error"]
    assert checks["held_joints"]  # the head is held as the clip holds it: only the legs give it away


def test_the_joint_a_policy_holds_still_is_named_furthest_from_the_clip(replayed, clip, spec):
    knee = spec.joint_names.index("left_knee")
    stiff = replayed.joint_pos.copy()
    stiff[:, knee] = spec.default_joint_pos[knee]
    result = compare(dataclasses.replace(replayed, joint_pos=stiff), clip, spec.default_joint_pos,
                     joint_names=spec.joint_names)
    error, baseline = result["joint_errors"]["left_knee"]
    assert error == pytest.approx(baseline, rel=0.05) and baseline > 0.02  # the knee is the still pose's
    offsets = result["joint_offsets"]
    still_offset = spec.default_joint_pos[knee] - clip.joint_pos[:, knee].mean()
    assert offsets["left_knee"] == pytest.approx(still_offset, abs=0.01)
    assert abs(offsets["left_knee"]) > 0.02 and max(abs(v) for n, v in offsets.items() if n != "left_knee") < 0.01
    assert result["joint_error"] == pytest.approx(np.mean([e for e, _ in result["joint_errors"].values()]))
    (first, ratio), (_, second) = worst_joints([result], count=2)
    assert first == "left_knee" and ratio == pytest.approx(1.0, abs=0.05) and second < 0.1
    [(name, median, largest, clip_name)] = offset_joints([result | {"name": "stiff"}], count=1)
    assert name == "left_knee" and median == largest == pytest.approx(still_offset, abs=0.01) and clip_name == "stiff"


def test_the_tasks_held_joints_are_held_even_where_a_performed_clip_wiggles_them(replayed, clip, spec):
    head = {"exclude_joints": ["neck_pitch", "head_*", "*_antenna"]}
    held = held_joints(spec, env_config_from_mapping({"init": {"mode": "Default"}, "amp": head}))
    assert [name for name, h in zip(spec.joint_names, held) if h] == ["neck_pitch", "head_pitch", "head_yaw",
                                                                       "head_roll", "left_antenna", "right_antenna"]
    wiggle = 0.03 * np.sin(np.arange(clip.num_frames) * 0.7)[:, None] * held  # a tracker's head, std 0.02
    performed = dataclasses.replace(clip, joint_pos=clip.joint_pos + wiggle)
    by_spread, by_task = compare(replayed, performed, spec.default_joint_pos), compare(
        replayed, performed, spec.default_joint_pos, held)
    assert by_spread["moved_joints"] > 10 and by_task["moved_joints"] == 10  # the head only counts as held
    assert by_task["held_rms"] < 0.01 and by_task["joint_error"] < 0.01
    assert held_joints(spec, env_config_from_mapping({"init": {"mode": "Default"}})) is None


def test_the_classifier_is_fooled_by_the_replay_and_not_by_the_shuffle(replayed, clip, spec):
    assert held_out_accuracy([replayed], [clip]) <= 0.75
    assert held_out_accuracy([shuffle(clip, spec.default_joint_pos)], [clip]) > 0.9


def test_the_classifier_by_one_feature_group_sees_only_that_group(clip, spec):
    fake = shuffle(clip, spec.default_joint_pos)  # the trunk keeps the clip's height: the legs give it away
    assert held_out_accuracy([fake], [clip], parts=("joints",)) > 0.9
    assert held_out_accuracy([fake], [clip], parts=("height",)) < 0.75


def test_a_perfect_imitator_of_one_clip_is_told_from_a_dataset_of_two(clip, spec):
    (standing,) = clip_gaits(spec, DATA_DIR / "motions" / "mini_bdx" / "standing.json")[1]
    assert clip.repeated(3).num_frames == 3 * clip.num_frames
    alone = one_motion_accuracies(["forward_medium"], [clip])
    pair = dict(one_motion_accuracies(["forward_medium", "standing"], [clip, standing]))
    assert alone[0][1] <= 0.6  # its own dataset: indistinguishable
    assert pair["forward_medium"] > 0.65 and pair["standing"] > 0.65  # half the dataset is something else


def test_a_checkpoint_is_judged_at_each_clip_and_extreme(trained_checkpoint, tmp_path, capsys):
    json_path = tmp_path / "style.json"
    report = main([str(trained_checkpoint), "--settle_s", "0.5", "--measure_s", "1.5", "--threads", "1",
                   "--no_classifier", "--extreme_rollouts", "2", "--json", str(json_path)])
    names = [c["name"] for c in report["clips"]]
    assert "standing" in names and "forward_medium" in names
    skipped = {s["clip"]: s["reason"] for s in report["skipped"]}
    assert "vx" in skipped["forward_fast"] and "standing" in skipped["in_place"]  # 0.28 m/s > 0.25; zero command
    assert len(names) + len(skipped) == 46 and len(report["extremes"]) == 6
    forward = report["clips"][names.index("forward_medium")]
    assert forward["policy"]["pitch_deg"] != forward["clip"]["pitch_deg"]
    assert {clip["moved_joints"] for clip in report["clips"]} == {10}  # all but the head and antennas it holds
    barely_trained = forward
    assert not all(barely_trained["pass"].values())  # one epoch does not walk
    assert report["pass"]["clips"] is False and report["classifier_accuracy"] is None
    assert json.loads(json_path.read_text())["extremes"][1]["extreme"] == "lin_vel_x max"
    for extreme in report["extremes"]:  # judged on the mean of its two envs
        assert len(extreme["achieved_each"]) == 2
        assert np.allclose(extreme["achieved"], np.mean(extreme["achieved_each"], axis=0))
    with pytest.raises(SystemExit):
        main([str(trained_checkpoint), "--extreme_rollouts", "0"])
    assert "style: FAIL" in capsys.readouterr().out
    told = {**report, "classifier_accuracy": 0.99, "pass": {**report["pass"], "classifier": False}}
    assert "classifier_probe.py" in format_report(told) and "classifier_probe" not in format_report(report)
    verdict = style_verdict({"pass": {"survival": True}}, report)
    assert verdict["passed"] is False and verdict["parts"]["tracking_survival"] is True


def test_an_export_folder_is_judged_against_its_hashed_dataset(trained_checkpoint, tmp_path):
    from awd.export import export_checkpoint

    folder = export_checkpoint(trained_checkpoint, tmp_path / "export")
    metadata = json.loads((folder / "policy.json").read_text())
    assert metadata["dataset"]["path"].endswith("motions/mini_bdx_performed")
    assert len(metadata["dataset"]["sha256"]) == 64
    from_export = judge_style(load_policy_under_test(folder), dataclasses.replace(SHORT, classifier=False))
    from_checkpoint = judge_style(load_policy_under_test(trained_checkpoint), dataclasses.replace(SHORT,
                                                                                                  classifier=False))
    for a, b in zip(from_export["extremes"], from_checkpoint["extremes"]):
        assert np.allclose(a["achieved"], b["achieved"], atol=1e-4)
    assert "extreme" in format_report(from_export)
    metadata["dataset"]["sha256"] = "0" * 64
    (folder / "policy.json").write_text(json.dumps(metadata))
    with pytest.raises(AwdError, match="dataset differs"):
        export_policy(folder)


def test_verdict_thresholds_live_in_the_task_config_and_are_checked():
    cfg = env_config_from_mapping({"init": {"mode": "Default"}, "verdict": {"planar_error": 0.08}})
    assert cfg.verdict.planar_error == 0.08 and cfg.verdict.max_classifier_accuracy == 0.75
    with pytest.raises(AwdError, match="env.verdict.held_joint_rms"):
        env_config_from_mapping({"init": {"mode": "Default"}, "verdict": {"held_joint_rms": -1}})
    with pytest.raises(AwdError, match="env.verdict.typo"):
        env_config_from_mapping({"init": {"mode": "Default"}, "verdict": {"typo": 1}})


def test_the_rollout_records_each_frame_and_not_the_last_one_again(trained_checkpoint):
    from awd.style.recording import build_style_env, rollout

    policy = load_policy_under_test(trained_checkpoint)
    env = build_style_env(policy.env_config, 2, SHORT, 2.0)
    (gait, _), fell = rollout(env, policy.act, np.array([[0.2, 0.0, 0.0], [0.0, 0.0, 0.0]]), SHORT)
    assert gait.num_frames == 75 and fell.shape == (2,)
    assert not np.allclose(gait.joint_pos[0], gait.joint_pos[-1]) and not np.allclose(gait.root_pos[0],
                                                                                      gait.root_pos[-1])


def test_the_physics_check_finds_what_separates_kinematic_clips_from_physics():
    from awd.style.physics_check import Drive, format_replay, replay_clips

    env_config = {"env": {"robot": "mini_bdx", "motion_file": "motions/mini_bdx"}, "source": "test"}
    result = replay_clips(env_config, ["standing", "forward_medium"], [Drive(0.25), Drive(), Drive(None, 10.0, True)])
    rows = {(r["clip"], r["drive"]): r for r in result["rows"]}
    assert not rows["standing", "clip"]["fell"] and rows["standing", "clip"]["replay"]["double_support"] == 1.0
    shuffled = rows["forward_medium", "+-0.25"]["replay"]  # PD lag at a quarter radian of reach: the shuffle
    assert max(shuffled["clearance"]) < 0.015 < 0.025 < min(rows["forward_medium", "+-0.25"]["clip_stats"]["clearance"])
    assert shuffled["double_support"] > 0.4 and abs(shuffled["velocity"][0]) < 0.1
    tracked = rows["forward_medium", "clip, tracked (10x gains and limits)"]
    assert abs(tracked["replay"]["velocity"][0] - 0.185) < 0.03  # tracked without lag, the clip's speed...
    assert tracked["roll_swing_deg"][0] > 3.0 > tracked["roll_swing_deg"][1]  # ... but the trunk rocks; the clip's not
    assert tracked["torque_demand"][1] > 1.5 > 0.5 > rows["standing", "clip"]["torque_demand"][1]
    top = result["feature_gaps"][0]  # the clips' rigid trunk: a constant the physics never holds
    assert top["feature"].startswith("root_rot_tan_norm") and top["demo_spread"] < 1e-3 < top["engine_spread"]
    assert "| forward_medium | 2." in format_replay(result)
    with pytest.raises(AwdError, match="no clip named"):
        replay_clips(env_config, ["moonwalk"], [Drive()])


def test_the_feature_probe_watches_an_imitation_policy_run_free_for_the_rest_of_its_episode(spec):
    from awd.style.feature_probe import policy_and_demo_frames

    env = {"robot": "mini_bdx", "motion_file": "motions/mini_bdx", "episode_length_s": 3.0, "init": {"mode": "Default"}}
    still = lambda obs: torch.zeros(len(obs), len(spec.joint_names))  # noqa: E731
    policy = PolicyUnderTest("still", {"task": "DucklingAMP", "env": env, "source": "test"},
                             DATA_DIR / "motions" / "mini_bdx", still)
    agent, demo, names = policy_and_demo_frames(policy, SHORT)
    assert agent.shape == demo.shape == (125, len(names))  # 3 s - 0.5 s settling at 50 Hz, not SHORT's 1.5 s
    assert torch.isfinite(agent).all() and not torch.allclose(agent, demo[:1].expand_as(demo))


def test_feature_probe_blames_the_group_that_differs():
    from awd.style.feature_probe import probe

    generator = torch.Generator().manual_seed(0)
    demo = torch.randn(2000, 3, generator=generator)
    agent = torch.randn(2000, 3, generator=generator)
    agent[:, 0] = agent[:, 0] * 0.3 + 3.0  # "sway": only the first group differs
    result = probe(agent, demo, ["sway[0]", "calm[0]", "calm[1]"], steps=60)
    groups = {row["group"]: row for row in result["groups"]}
    assert result["all"] > 0.95 and groups["sway"]["alone"] > 0.95
    assert groups["calm"]["alone"] < 0.6 and groups["sway"]["without"] < 0.6
    assert result["features"][0]["feature"] != "sway[0]"  # the sway is a narrower spread than the demos
