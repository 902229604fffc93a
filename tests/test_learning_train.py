"""End-to-end AMP training through rl_games' Runner on a tiny random env (CPU, a few seconds)."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from awd.errors import AwdError
from awd.learning.amp_settings import resolve_minibatch_size
from awd.learning.checkpoint import load_checkpoint
from awd.learning.register import make_runner, register_env
from awd.utils.io import read_json

NUM_ENVS, OBS, ACT, AMP, EP_LEN = 8, 10, 4, 12, 20


class DummyAmpEnv:
    """Random linear dynamics; falls when |obs[0]| grows large, timeouts after EP_LEN steps."""

    def __init__(self, num_envs=NUM_ENVS, seed=0, joint_names=("a", "b", "c", "d"), **_):
        self.num_envs = num_envs
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32)
        self.amp_observation_space = gym.spaces.Box(-np.inf, np.inf, (AMP,), np.float32)
        self.joint_names = list(joint_names)
        self.gen = torch.Generator().manual_seed(int(seed) if seed is not None else 0)
        self.mix = torch.randn(ACT, OBS, generator=self.gen) * 0.3
        self.obs = torch.zeros(num_envs, OBS)
        self.t = torch.zeros(num_envs, dtype=torch.long)

    def get_layout(self):
        return {"joint_names": self.joint_names, "amp_frames": 2}

    def reset(self):
        self.obs = torch.randn(self.num_envs, OBS, generator=self.gen) * 0.1
        self.t.zero_()
        return self.obs.clone()

    def _amp(self, obs):
        return torch.cat([obs, obs[:, :2] ** 2], dim=1)

    def step(self, actions):
        actions = torch.as_tensor(actions, dtype=torch.float32)
        self.obs = 0.9 * self.obs + actions @ self.mix + 0.1 * torch.randn(self.num_envs, OBS, generator=self.gen)
        self.t += 1
        amp_obs = self._amp(self.obs)
        reward = -(self.obs ** 2).mean(dim=1)
        fall = self.obs[:, 0].abs() > 0.6
        timeout = self.t >= EP_LEN
        done = fall | timeout
        infos = {"amp_obs": amp_obs, "terminate": fall,
                 "episode": {"rew_alive": torch.tensor(1.0), "rew_track": reward.mean()}}
        if done.any():
            ids = done.nonzero().squeeze(1)
            self.obs[ids] = torch.randn(len(ids), OBS, generator=self.gen) * 0.1
            self.t[ids] = 0
        return self.obs.clone(), reward, done, infos

    def fetch_amp_obs_demo(self, n):
        return self._amp(torch.randn(n, OBS, generator=self.gen) * 0.3 + 0.5)


register_env("awd_test_dummy", lambda **kwargs: DummyAmpEnv(**kwargs))


def train_yaml(train_dir: Path, max_epochs: int, **overrides) -> dict:
    config = {
        "name": "dummy", "env_name": "awd_test_dummy", "env_config": {}, "device": "cpu", "device_name": "cpu",
        "num_actors": NUM_ENVS, "torch_compile": False, "reward_shaper": {"scale_value": 1},
        "normalize_input": True, "normalize_value": True, "normalize_advantage": True,
        "gamma": 0.95, "tau": 0.95, "learning_rate": 1e-3, "critic_learning_rate": 2e-3, "disc_learning_rate": 5e-4,
        "lr_schedule": "constant", "e_clip": 0.2, "clip_value": False, "entropy_coef": 0.0, "critic_coef": 5,
        "bounds_loss_coef": 10, "grad_norm": 1.0, "truncate_grads": True, "horizon_length": 16, "mini_epochs": 2,
        "minibatch_size": 50,  # does not divide 128: the agent must derive a valid one
        "num_minibatches": 2, "max_epochs": max_epochs, "save_frequency": 2, "save_latest_frequency": 1,
        "train_dir": str(train_dir), "full_experiment_name": "exp",
        "task_reward_w": 0.4, "disc_reward_w": 0.6, "disc_reward_scale": 2, "disc_coef": 5, "disc_logit_reg": 0.01,
        "disc_grad_penalty": 5, "disc_weight_decay": 1e-4, "amp_obs_demo_buffer_size": 500,
        "amp_replay_buffer_size": 300, "amp_replay_keep_prob": 0.5, "amp_batch_size": 64, "amp_minibatch_size": 32,
        "player": {"deterministic": True, "games_num": 1},
    }
    config.update(overrides)
    network = {"name": "amp", "actor": {"units": [32, 16], "activation": "elu"},
               "critic": {"units": [32, 16], "activation": "elu"}, "log_std": {"init": -1.0, "learnable": True},
               "disc": {"units": [32, 16], "activation": "relu"}}
    return {"params": {"seed": 3, "torch_threads": 1, "algo": {"name": "amp"}, "model": {"name": "amp"},
                       "network": network, "config": config}}


def run_training(yaml_config: dict, checkpoint: str | None = None):
    runner = make_runner()
    runner.load(yaml_config)
    runner.run({"train": True, "play": False, "checkpoint": checkpoint})
    return runner


def make_agent(yaml_config: dict):
    runner = make_runner()
    runner.load(yaml_config)
    return runner.algo_factory.create("amp", base_name="run", params=runner.params)


def scalars(summary_dir: Path) -> dict[str, list[float]]:
    acc = EventAccumulator(str(summary_dir))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train_dir = tmp_path_factory.mktemp("train")
    run_training(train_yaml(train_dir, max_epochs=3))
    return train_dir / "exp"


def test_training_logs_finite_losses_and_disc_scalars(trained):
    values = scalars(trained / "summaries")
    for tag in ["losses/disc_loss", "info/disc_agent_acc", "info/disc_demo_acc", "info/disc_grad_penalty",
                "info/disc_logit_loss", "info/disc_reward_mean", "info/disc_reward_std", "losses/a_loss",
                "losses/c_loss", "losses/entropy", "info/kl", "performance/play_time", "performance/update_time",
                "episode/rew_alive", "episode/rew_track", "info/episode_length", "info/fall_rate"]:
        assert tag in values, f"missing scalar {tag}"
        assert len(values[tag]) == 3, tag
        assert all(math.isfinite(v) for v in values[tag]), tag
    assert all(0.0 <= v <= 1.0 for v in values["info/disc_agent_acc"] + values["info/fall_rate"])
    assert values["episode/rew_alive"] == [1.0, 1.0, 1.0]
    assert all(v > 0 for v in values["info/disc_reward_mean"])


def test_checkpoints_are_weights_only_and_complete(trained):
    nn_dir = trained / "nn"
    assert sorted(p.name for p in nn_dir.glob("*.pth")) == ["dummy.pth", "dummy_ep000002.pth", "dummy_ep000003.pth"]
    state = torch.load(nn_dir / "dummy.pth", weights_only=True)
    assert state["epoch"] == 3 and state["frame"] == 3 * NUM_ENVS * 16
    assert state["layout"] == {"obs_size": OBS, "action_size": ACT, "amp_obs_size": AMP,
                               "joint_names": ["a", "b", "c", "d"], "amp_frames": 2}
    assert state["config"]["config"]["minibatch_size"] == 64  # 128 rows, 2 minibatches
    replay = state["amp_replay_buffer"]
    assert replay["count"] == 300 and replay["data"].shape == (300, AMP)
    for key in ["model", "optimizer", "running_mean_std", "reward_mean_std", "amp_input_mean_std"]:
        assert key in state
    assert len(state["optimizer"]["param_groups"]) == 3
    assert [g["lr"] for g in state["optimizer"]["param_groups"]] == [1e-3, 2e-3, 5e-4]
    numbered = torch.load(nn_dir / "dummy_ep000003.pth", weights_only=True)  # the same state but the replay buffer
    assert numbered["amp_replay_buffer"] is None and numbered["optimizer"] is None and numbered["epoch"] == 3
    assert all(torch.equal(numbered["model"][k], v) for k, v in state["model"].items())


def test_resume_from_a_numbered_checkpoint_starts_an_empty_replay(trained, tmp_path, capsys):
    agent = make_agent(train_yaml(tmp_path, max_epochs=5))
    agent.restore(str(trained / "nn" / "dummy_ep000003.pth"))
    assert agent.epoch_num == 3 and len(agent.replay_buffer) == 0
    assert "holds no replay buffer nor optimiser state" in capsys.readouterr().out


def test_resume_continues_epochs_and_restores_replay(trained, tmp_path):
    checkpoint = trained / "nn" / "dummy.pth"
    saved = load_checkpoint(checkpoint)
    yaml_config = train_yaml(tmp_path, max_epochs=5)
    agent = make_agent(copy.deepcopy(yaml_config))
    agent.restore(str(checkpoint))
    assert agent.epoch_num == 3 and agent.frame == saved["frame"]
    restored = agent.replay_buffer.state_dict()
    assert restored["head"] == saved["amp_replay_buffer"]["head"]
    assert torch.equal(restored["data"], saved["amp_replay_buffer"]["data"])

    run_training(yaml_config, checkpoint=str(checkpoint))
    resumed = torch.load(tmp_path / "exp" / "nn" / "dummy.pth", weights_only=True)
    assert resumed["epoch"] == 5 and resumed["frame"] == 5 * NUM_ENVS * 16
    epochs = scalars(tmp_path / "exp" / "summaries")["info/epochs"]
    assert epochs == [4.0, 5.0]


def test_layout_mismatch_names_the_differences(trained, tmp_path):
    yaml_config = train_yaml(tmp_path, max_epochs=1, env_config={"joint_names": ["a", "b", "x", "d"]})
    agent = make_agent(yaml_config)
    with pytest.raises(AwdError) as error:
        agent.restore(str(trained / "nn" / "dummy.pth"))
    message = str(error.value)
    assert "joint_names" in message and "'x'" in message and "'c'" in message
    assert "obs_size" not in message


def test_player_restores_and_acts_deterministically(trained):
    runner = make_runner()
    runner.load(train_yaml(trained.parent, max_epochs=1))
    player = runner.create_player()
    player.restore(str(trained / "nn" / "dummy.pth"))
    assert player.is_deterministic
    obs = torch.randn(NUM_ENVS, OBS)
    player.has_batch_dimension = True
    first, second = player.get_action(obs, True), player.get_action(obs, True)
    assert torch.equal(first, second) and first.shape == (NUM_ENVS, ACT)
    reward = player.disc_reward(torch.randn(5, AMP))
    assert reward.shape == (5, 1) and bool((reward >= 0).all())


def test_runner_play_runs_the_player(trained, capsys):
    runner = make_runner()
    runner.load(train_yaml(trained.parent, max_epochs=1))
    runner.run({"train": False, "play": True, "checkpoint": str(trained / "nn" / "dummy.pth")})
    summary = re.search(r"av reward: (\S+) av steps: (\S+)", capsys.readouterr().out)
    assert summary and float(summary[2]) > 0  # the player finished games of more than zero steps


@pytest.mark.parametrize("batch, requested, expected", [
    (128, 50, 64),            # does not divide: 2 minibatches
    (128, 64, 64),            # valid: kept
    (4096 * 32, 256, 32768),  # 512 minibatches (AWD leftover): replaced by 4
    (7 * 32, None, 56),       # odd env count: 4 minibatches of 56
    (5 * 3, 4, 5),            # no divisor 4 of 15: closest is 3 (or 5) -> 3 minibatches of 5
])
def test_minibatch_resolution(batch, requested, expected):
    size, _ = resolve_minibatch_size(batch, requested, num_minibatches=2 if batch == 128 else 4)
    assert size == expected and batch % size == 0


def shipped_train_yamls() -> list[Path]:
    from awd import DATA_DIR

    return sorted((DATA_DIR / "cfg").glob("*/train/amp_*.yaml"))


def test_every_task_names_a_shipped_template_and_every_template_is_used():
    from awd import DATA_DIR
    from awd.tasks import TASKS

    named = {DATA_DIR / "cfg" / task.train_cfg for task in TASKS.values() if task.train_cfg}
    assert named == set(shipped_train_yamls())


@pytest.mark.parametrize("path", shipped_train_yamls(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_yaml_template_trains_one_epoch(path, tmp_path):
    from awd.utils.io import read_yaml

    template = read_yaml(path)
    template["params"]["config"].update({
        "env_name": "awd_test_dummy", "num_actors": NUM_ENVS, "device": "cpu", "device_name": "cpu",
        "train_dir": str(tmp_path), "full_experiment_name": "tpl", "max_epochs": 1,
        "amp_obs_demo_buffer_size": 1000, "amp_replay_buffer_size": 1000})
    runner = make_runner()
    runner.load(template)
    runner.run({"train": True, "play": False, "checkpoint": None})
    name = template["params"]["config"]["name"]
    state = torch.load(tmp_path / "tpl" / "nn" / f"{name}.pth", weights_only=True)
    config = state["config"]["config"]
    assert config["minibatch_size"] == NUM_ENVS * config["horizon_length"] // config.get("num_minibatches", 4)
    sigma, network = state["model"]["a2c_network.sigma"], template["params"]["network"]["log_std"]
    assert network["learnable"] and not torch.equal(sigma, torch.full((ACT,), network["init"]))  # log-std trained
    assert [g["name"] for g in state["optimizer"]["param_groups"]] == ["actor", "critic", "disc"]


def test_disc_saturation_warns_once_per_streak():
    from awd.learning.watchdogs import Watchdogs

    lines = []
    watchdogs = Watchdogs(0.95, 3, lines.append)
    saturated = {"info/disc_agent_acc": 0.99, "info/disc_demo_acc": 0.97}
    healthy = {"info/disc_agent_acc": 0.99, "info/disc_demo_acc": 0.6}
    for epoch, stats in enumerate([saturated] * 5 + [healthy] + [saturated] * 3, start=1):
        watchdogs.after_epoch(stats, epoch)
    assert len(lines) == 2 and "at epoch 3" in lines[0] and "at epoch 9" in lines[1]


def test_a_robot_that_cannot_stand_is_warned_about_once():
    from awd.learning.watchdogs import FALL_WARN_EPOCHS, Watchdogs

    lines = []
    watchdogs = Watchdogs(0.95, 50, lines.append)
    falling = {"info/disc_agent_acc": 0.6, "info/disc_demo_acc": 0.6, "info/fall_rate": 1.0, "info/episode_length": 36}
    for epoch in range(1, 2 * FALL_WARN_EPOCHS):
        watchdogs.after_epoch(falling, epoch)
    watchdogs.after_epoch({**falling, "info/episode_length": 400}, 2 * FALL_WARN_EPOCHS)  # it learns to stand
    assert len(lines) == 1 and f"up to epoch {FALL_WARN_EPOCHS}" in lines[0] and "gains" in lines[0]


def test_exploding_physics_stops_the_run_with_one_line():
    from awd.learning.watchdogs import INVALID_STOP_EPOCHS, Watchdogs

    watchdogs = Watchdogs(0.95, 50, print)
    calm = {"info/disc_agent_acc": 0.6, "info/disc_demo_acc": 0.6, "episode/invalid_rate": 0.9}
    for epoch in range(1, INVALID_STOP_EPOCHS):  # one short of the limit, then a healthy epoch resets the count
        watchdogs.after_epoch(calm, epoch)
    watchdogs.after_epoch({**calm, "episode/invalid_rate": 0.1}, INVALID_STOP_EPOCHS)
    for epoch in range(1, INVALID_STOP_EPOCHS):
        watchdogs.after_epoch(calm, 100 + epoch)
    with pytest.raises(AwdError, match="90% of the episodes ended in an invalid .* check the robot's gains"):
        watchdogs.after_epoch(calm, 200)


def test_the_style_monitor_judges_a_checkpoint_in_the_background_and_keeps_the_best(trained_checkpoint, tmp_path):
    from awd.learning.style_monitor import StyleMonitor

    class Writer:
        def __init__(self):
            self.scalars = {}

        def add_scalar(self, key, value, step):
            self.scalars[key] = (value, step)

        def flush(self):
            pass

    state, writer, style = load_checkpoint(trained_checkpoint), Writer(), tmp_path / "style"
    style.mkdir()
    (style / "epoch000003.pth").write_bytes(b"left by a run killed while judging it")
    monitor = StyleMonitor(10, 1, style, writer,
                           judge_args=("--settle_s", "0.2", "--measure_s", "0.6", "--no_classifier"))
    assert not (style / "epoch000003.pth").exists()
    monitor.after_save(state, 5, 100)  # not due yet
    assert monitor.pending is None
    monitor.after_save(state, 10, 2000)
    monitor.after_save(state, 20, 4000)  # one judge at a time
    assert monitor.pending is not None and monitor.last_epoch == 10
    monitor.poll(wait=True)
    assert writer.scalars["style/extremes_passed"][1] == 2000 and 0.0 <= writer.scalars["style/clips_passed"][0] <= 1.0
    assert "style/classifier_accuracy" not in writer.scalars and writer.scalars["style/judge_s"][0] > 0
    assert sorted(p.name for p in style.iterdir()) == ["best_style.json", "best_style.pth", "epoch000010.json",
                                                        "epoch000010.log"]
    best = load_checkpoint(style / "best_style.pth")
    assert best["amp_replay_buffer"] is None and best["optimizer"] is None and best["layout"] == state["layout"]

    report = read_json(style / "best_style.json")
    more = {**report, "extremes": report["extremes"] + [{"pass": {"commanded_axis": True}}] * 40}
    for name, judged in (("epoch000030", more), ("epoch000040", report)):  # more passes kept, then fewer not
        resumed = StyleMonitor(10, 1, style, writer)  # a resumed run: the best so far read back from best_style.json
        (style / f"{name}.pth").write_bytes(name.encode())
        resumed._keep_if_best(style / f"{name}.pth", judged)
        assert not (style / f"{name}.pth").exists()
        assert (style / "best_style.pth").read_bytes() == b"epoch000030"
    assert len(read_json(style / "best_style.json")["extremes"]) == len(report["extremes"]) + 40


def test_sigterm_stops_after_the_epoch_with_the_latest_checkpoint_saved(tmp_path, capsys):
    import os
    import signal

    agent = make_agent(train_yaml(tmp_path, max_epochs=1000, save_latest_frequency=0, save_frequency=0))
    train_epoch = agent.train_epoch

    def epoch_then_signal():
        stats = train_epoch()
        if agent.epoch_num == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` on a nohup run
        return stats

    agent.train_epoch = epoch_then_signal
    handler = signal.getsignal(signal.SIGTERM)
    _, epoch = agent.train()
    assert epoch == 2 and "training stopped by SIGTERM at epoch 2" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "exp" / "nn" / "dummy.pth")["epoch"] == 2
    assert signal.getsignal(signal.SIGTERM) is handler  # the handler is restored


@pytest.mark.parametrize("interval, saved_at", [(0.0, [3]), (1e-9, [1, 2, 3])])
def test_the_latest_checkpoint_is_rewritten_by_time_between_epoch_counts(tmp_path, monkeypatch, interval, saved_at):
    import awd.learning.amp_agent as amp_agent

    epochs = []
    def record(path, state):
        if Path(path).name == "dummy.pth":  # the latest (the numbered ones are written at the end only)
            epochs.append(state["epoch"])

    monkeypatch.setattr(amp_agent, "save_checkpoint", record)
    agent = make_agent(train_yaml(tmp_path, max_epochs=3, save_latest_frequency=0, save_frequency=0,
                                  save_latest_interval_s=interval))
    agent.train()
    assert epochs == saved_at
