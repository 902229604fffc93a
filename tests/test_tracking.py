"""The motion tracker (DucklingTrack, G1Track) and the performed clips it records (awd.style.perform)."""

import shutil

import numpy as np
import pytest
import torch

from awd import DATA_DIR
from awd.errors import AwdError
from awd.utils.io import read_yaml
from awd.utils.rotations import quat_to_matrix

CLIPS = ("forward_medium", "standing")
TRACKING = ("track_joint_pos", "track_joint_vel", "track_lin_vel", "track_yaw_rate", "track_height", "track_key_bodies",
            "track_feet_height", "track_root_pos")


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    for name in CLIPS:
        shutil.copy(DATA_DIR / "motions" / "mini_bdx" / f"{name}.json", folder)
    return folder


def track_mapping(two_clips) -> dict:
    mapping = read_yaml(DATA_DIR / "cfg" / "mini_bdx" / "duckling_track.yaml")["env"]
    return {**mapping, "motion_file": str(two_clips)}


def tracker(two_clips, num_envs=2):
    from awd.tasks import build_env

    return build_env(track_mapping(two_clips), num_envs, seed=0)


def term_values(env) -> dict[str, np.ndarray]:
    _, terms = env.compute_reward(quat_to_matrix(env.engine.root_quat))
    return {name: (terms[name] / env.cfg.rewards[name].weight).numpy() for name in TRACKING}


def test_tracking_terms_peak_in_the_clip_state_and_drop_in_the_default_pose(two_clips):
    env = tracker(two_clips)
    env.play_clips([0, 0], start_s=1.0)  # forward_medium mid-stride, as the clip has it
    in_clip = term_values(env)
    for name, values in in_clip.items():
        assert values.min() > 0.97, (name, values)
    env.engine.reset_where(torch.tensor([True, False]), *env.reset_states.split(env.reset_states.default))
    away = term_values(env)
    assert away["track_joint_pos"][0] < 0.9 and away["track_joint_vel"][0] < 0.9
    assert away["track_lin_vel"][0] < 0.1  # the clip walks at 0.185 m/s, the default pose stands
    assert away["track_key_bodies"][0] < in_clip["track_key_bodies"][0]
    assert away["track_feet_height"][0] < 0.3  # the clip's right foot is 20 mm up in its swing, the robot's is down
    assert away["track_joint_pos"][1] == pytest.approx(in_clip["track_joint_pos"][1])


def test_root_position_is_tracked_from_where_the_episode_started(two_clips):
    env = tracker(two_clips)
    env.play_clips([0, 0], start_s=1.0)
    moved = env.reset_states.blend(torch.tensor([True, True]), env.reset_states.reference(env.clip_ids,
                                                                                          env.clip_times)[0])
    moved[0, 1] += 0.1
    env.engine.reset_where(torch.tensor([True, False]), *env.reset_states.split(moved))
    values = term_values(env)["track_root_pos"]
    assert values[0] == pytest.approx(np.exp(-4.0), rel=0.05) and values[1] > 0.99
    names = [name for name, _ in env.obs_parts]
    begin = sum(size for name, size in env.obs_parts[:names.index("reference_offset")])
    offsets = env.observations.compute(env, quat_to_matrix(env.engine.root_quat))[:, begin:begin + 2]
    assert torch.linalg.norm(offsets[0]).item() == pytest.approx(0.1, abs=1e-3) and offsets[1].abs().max() < 1e-3


def test_contacts_score_the_share_of_feet_in_the_clips_contact_state():
    from types import SimpleNamespace

    from awd.tasks.tracking import track_contacts

    clip = SimpleNamespace(foot_contacts=torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]))
    engine = SimpleNamespace(foot_contacts=torch.tensor([[True, False], [True, False], [False, False]]))
    inputs = SimpleNamespace(task=SimpleNamespace(reference=lambda: clip, engine=engine), joint_pos=torch.zeros(3, 1))
    assert track_contacts(inputs, {}).tolist() == [1.0, 0.5, 0.0]


def test_the_observation_holds_the_next_frame_and_steps_advance_the_clip(two_clips):
    env = tracker(two_clips)
    env.play_clips([0, 1], start_s=0.5)
    lib, dt = env.motion_lib, env.dt
    start = env.observations.compute(env, quat_to_matrix(env.engine.root_quat))
    obs, _, _, _ = env.step(torch.zeros(2, env.num_actions))
    names = [name for name, _ in env.obs_parts]
    begin = sum(size for name, size in env.obs_parts[:names.index("reference_joint_pos")])
    n = env.num_actions
    for observed, time in ((start, 0.5 + dt), (obs, 0.5 + 2 * dt)):
        clip = lib.get_state(torch.tensor([0, 1]), torch.tensor([time, time]))
        expected = clip.joint_pos - env.default_joint_pos
        assert torch.allclose(observed[:, begin:begin + n], expected, atol=1e-5)
    assert torch.allclose(env.clip_times, torch.tensor([0.5 + dt] * 2, dtype=torch.float64))


def test_resets_start_inside_the_clip_with_an_episode_left(two_clips):
    env = tracker(two_clips, num_envs=64)
    env.reset()
    lengths = env.motion_lib.lengths[env.clip_ids]
    assert bool((env.clip_times <= lengths - env.cfg.episode_length_s + 1e-9).all())
    assert len(set(env.clip_ids.tolist())) == 2
    assert bool(env.last_reset_was_reference.all())


def test_a_tracker_needs_clips(two_clips):
    from awd.tasks import build_env

    with pytest.raises(AwdError, match="motion_file"):
        build_env({**track_mapping(two_clips), "motion_file": None, "init": {"mode": "Default"}}, 1)


class StandStill:
    name = "stand-still tracker"

    def __init__(self, two_clips, task="DucklingTrack"):
        self.env_config = {"env": {**track_mapping(two_clips), "task": task}, "source": "test"}
        self.motion_file = two_clips

    @staticmethod
    def act(obs):
        return torch.zeros(obs.shape[0], 16)


def test_perform_records_each_clip_and_writes_a_dataset_that_loads(two_clips, tmp_path, spec):
    from awd.motion.dataset import load_dataset
    from awd.style.perform import perform, write_dataset

    sources = load_dataset(two_clips, spec.joint_names)
    results = perform(StandStill(two_clips), list(CLIPS), sources, settle_s=0.2)
    assert [r["name"] for r in results] == list(CLIPS)
    walked, stood = results
    assert walked["clip"].num_frames == sources[0].num_frames - 10
    assert walked["source_velocity"][0] == pytest.approx(0.185, abs=0.01)
    assert abs(walked["velocity"][0]) < 0.05  # zero actions hold the default pose: no walking
    assert stood["joint_rms"] < walked["joint_rms"]
    assert walked["source_feet"]["clearance"] == pytest.approx(0.030, abs=0.002)  # the clip lifts its feet 30 mm
    assert walked["feet"]["clearance"] < 0.005 and walked["feet"]["double_support"] > 0.9  # held pose: feet down
    output = tmp_path / "performed"
    write_dataset(results, output, "tracker.pth")
    loaded = load_dataset(output, spec.joint_names)
    assert len(loaded) == 2 and loaded[0].metadata["Performed"]["source_clip"] == "forward_medium"
    assert np.allclose(loaded[1].root_pos[0], stood["clip"].root_pos[0], atol=1e-6)


def test_perform_refuses_another_task_and_writes_nothing_when_every_clip_fell(two_clips, tmp_path, spec):
    from awd.style.perform import perform, write_dataset

    with pytest.raises(AwdError, match="expected a tracker"):
        perform(StandStill(two_clips, task="DucklingCommand"), list(CLIPS), [], settle_s=0.0)
    output = tmp_path / "none"
    with pytest.raises(AwdError, match="every performance fell"):
        write_dataset([{"name": "standing", "clip": None, "fell_at_s": 0.3}], output, "tracker.pth")
    assert not output.exists() and not list(tmp_path.glob(".none.*"))


def test_the_g1_tracker_sees_its_clip_and_is_performed(tmp_path):
    from awd.motion.dataset import load_dataset
    from awd.robot import load_robot_spec
    from awd.style.perform import perform
    from awd.tasks import build_env

    shutil.copy(DATA_DIR / "motions" / "g1" / "standing.json", tmp_path)
    mapping = {**read_yaml(DATA_DIR / "cfg" / "g1" / "g1_track.yaml")["env"], "motion_file": str(tmp_path)}
    env = build_env(mapping, 1, seed=0)
    layout = env.get_layout()
    assert layout["task"] == "G1Track" and len(layout["action_joints"]) == 29
    assert layout["obs"][-4:] == [["reference_joint_pos", 29], ["reference_velocity", 3], ["reference_height", 1],
                                  ["reference_offset", 2]]
    env.play_clips([0])
    assert sum(size for _, size in layout["obs"]) == env.compute_observations().shape[1]

    class HoldDefault:
        name, motion_file = "G1 tracker", tmp_path
        env_config = {"env": mapping, "source": "test"}

        @staticmethod
        def act(obs):
            return torch.zeros(obs.shape[0], 29)

    clips = load_dataset(tmp_path, load_robot_spec("g1").joint_names)
    [result] = perform(HoldDefault(), ["standing"], clips, settle_s=0.2)
    assert result["name"] == "standing"
