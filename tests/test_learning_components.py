"""Replay buffer semantics, style reward, discriminator loss and gradient penalty (CPU, no rl_games run)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from awd.learning.discriminator import (DiscLossWeights, Discriminator, discriminator_loss, gradient_penalty,
                                        style_reward)
from awd.learning.replay_buffer import ReplayBuffer


def rows(start: int, n: int, width: int = 3) -> torch.Tensor:
    """Rows whose first column is their id (start, start+1, ...)."""
    ids = torch.arange(start, start + n, dtype=torch.float32).unsqueeze(1)
    return ids.repeat(1, width)


# ---------------------------------------------------------------- replay buffer
def test_fill_then_wrap_overwrites_oldest():
    buf = ReplayBuffer(5)
    assert buf.store(rows(0, 3)) == 3 and len(buf) == 3 and not buf.is_full
    buf.store(rows(3, 4))  # ids 3..6: 3, 4 fill, 5, 6 overwrite 0, 1
    assert len(buf) == 5 and buf.is_full and buf.head == 2
    assert buf.data[:, 0].tolist() == [5, 6, 2, 3, 4]


def test_batch_larger_than_capacity_keeps_newest_rows():
    buf = ReplayBuffer(4)
    buf.store(rows(0, 10))
    assert sorted(buf.data[:, 0].tolist()) == [6, 7, 8, 9]


def test_keep_prob_applies_only_once_full():
    torch.manual_seed(0)
    buf = ReplayBuffer(1000, keep_prob=0.1)
    assert buf.store(rows(0, 1000)) == 1000  # filling: every row kept
    written = buf.store(rows(1000, 10000))
    assert 800 < written < 1200  # ~10 % of 10000
    new = (buf.data[:, 0] >= 1000).sum().item()
    assert new == min(written, 1000)


def test_keep_prob_zero_freezes_full_buffer_and_split_batches():
    buf = ReplayBuffer(4, keep_prob=0.0)
    buf.store(rows(0, 2))
    assert buf.store(rows(2, 5)) == 2  # two free slots filled, the 3 late rows dropped
    assert buf.data[:, 0].tolist() == [0, 1, 2, 3]
    assert buf.store(rows(10, 5)) == 0
    assert buf.data[:, 0].tolist() == [0, 1, 2, 3]


def test_sampling_without_and_with_replacement():
    buf = ReplayBuffer(10)
    with pytest.raises(RuntimeError):
        buf.sample(1)
    buf.store(rows(0, 6))
    sample = buf.sample(6)[:, 0]
    assert sorted(sample.tolist()) == [0, 1, 2, 3, 4, 5]  # n <= count: a permutation, no duplicates
    big = buf.sample(50)[:, 0]
    assert big.shape == (50,) and set(big.tolist()) <= {0, 1, 2, 3, 4, 5}
    assert len(set(big.tolist())) < 50  # more rows than stored: drawn with replacement


def test_successive_samples_walk_one_shuffled_pass():
    buf = ReplayBuffer(12)
    buf.store(rows(0, 12))
    passes = [torch.cat([buf.sample(4)[:, 0] for _ in range(3)]).tolist() for _ in range(2)]
    assert all(sorted(seen) == list(range(12)) for seen in passes)  # each pass reads every row once
    assert passes[0] != passes[1]  # then reshuffles (equal orders: chance 1 / 12!)
    buf.sample(5)
    assert len(set(buf.sample(5)[:, 0].tolist())) == 5  # 2 rows left of the pass: a new one, no duplicates
    growing = ReplayBuffer(12)
    growing.store(rows(0, 6))
    growing.sample(3)
    growing.store(rows(6, 6))  # a store starts a new pass, over the new rows too
    assert sorted(torch.cat([growing.sample(3)[:, 0] for _ in range(4)]).tolist()) == list(range(12))


def test_state_round_trip_is_exact_and_weights_only_safe(tmp_path):
    buf = ReplayBuffer(5, keep_prob=0.5)
    buf.store(rows(0, 7))
    path = tmp_path / "replay.pt"
    torch.save(buf.state_dict(), path)
    other = ReplayBuffer(5)
    other.load_state_dict(torch.load(path, weights_only=True))
    assert other.head == buf.head and len(other) == len(buf) and other.keep_prob == 0.5
    assert torch.equal(other.data, buf.data)
    partial = ReplayBuffer(8)
    partial.store(rows(0, 3))
    restored = ReplayBuffer(8)
    restored.load_state_dict(partial.state_dict())
    assert restored.head == 3 and restored.data[:3, 0].tolist() == [0, 1, 2]


def test_shape_mismatch_and_bad_arguments_raise():
    buf = ReplayBuffer(4)
    buf.store(rows(0, 2, width=3))
    with pytest.raises(ValueError):
        buf.store(rows(0, 2, width=4))
    with pytest.raises(ValueError):
        ReplayBuffer(0)
    with pytest.raises(ValueError):
        ReplayBuffer(4, keep_prob=1.5)


# ---------------------------------------------------------------- discriminator
def test_style_reward_values_and_clamp():
    logits = torch.tensor([[0.0], [100.0], [-100.0], [math.log(3.0)]])
    reward = style_reward(logits, scale=2.0)
    assert reward[0].item() == pytest.approx(2 * math.log(2.0))
    assert reward[1].item() == pytest.approx(-2 * math.log(1e-4), rel=1e-5)  # 1 - p clamped at 1e-4
    assert reward[2].item() == pytest.approx(0.0, abs=1e-6)
    assert reward[3].item() == pytest.approx(-2 * math.log(0.25), rel=1e-5)  # p = 0.75


def test_lsgan_style_reward_is_bounded_and_peaks_at_the_demo_target():
    scores = torch.tensor([[1.0], [-1.0], [0.0], [-5.0], [3.0]])
    reward = style_reward(scores, scale=2.0, loss="lsgan")
    assert reward.flatten().tolist() == pytest.approx([2.0, 0.0, 1.5, 0.0, 0.0])


def test_lsgan_loss_on_hand_built_scores():
    disc = Discriminator(2, [4])
    with torch.no_grad():
        for p in disc.parameters():
            p.zero_()
    agent, demo = torch.randn(8, 2), torch.randn(8, 2)
    loss, _ = discriminator_loss(disc, agent, demo, DiscLossWeights(0.0, 0.0, 0.0, loss="lsgan"))
    assert loss.item() == pytest.approx(1.0)  # scores 0: (0 + 1)^2 and (0 - 1)^2
    with torch.no_grad():
        disc.logit.bias.fill_(-1.0)  # agent side exact, demo side 2 away
    loss, info = discriminator_loss(disc, agent, demo, DiscLossWeights(0.0, 0.0, 0.0, loss="lsgan"))
    assert loss.item() == pytest.approx(2.0)
    assert info["disc_agent_acc"].item() == 1.0 and info["disc_demo_acc"].item() == 0.0


def test_unknown_disc_loss_is_a_config_error():
    from awd.errors import AwdError
    from awd.learning.amp_settings import AMPSettings

    import typing

    from awd.learning.discriminator import DISC_LOSSES

    assert typing.get_args(typing.get_type_hints(AMPSettings)["disc_loss"]) == DISC_LOSSES
    settings = AMPSettings.from_config({"disc_loss": "lsgan", "disc_learning_rate": None, "horizon_length": 4})
    assert settings.disc_loss == "lsgan" and settings.disc_learning_rate is None
    with pytest.raises(AwdError, match=r"^train config: config.disc_loss: expected one of \['bce', 'lsgan'\]"):
        AMPSettings.from_config({"disc_loss": "wgan"})
    with pytest.raises(AwdError, match="config.amp_batch_size: expected an integer, got 512.5"):
        AMPSettings.from_config({"amp_batch_size": 512.5})


def test_gradient_penalty_nonnegative_and_zero_for_constant_network():
    torch.manual_seed(0)
    disc = Discriminator(6, [16, 8])
    x = torch.randn(32, 6, requires_grad=True)
    assert gradient_penalty(disc(x), x).item() > 0
    const = Discriminator(6, [16, 8])
    with torch.no_grad():
        for p in const.parameters():
            p.zero_()
        const.logit.bias.fill_(3.0)
    x = torch.randn(32, 6, requires_grad=True)
    assert gradient_penalty(const(x), x).item() == 0.0


def test_gradient_penalty_matches_linear_weights():
    layer = torch.nn.Linear(4, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 0.0, -2.0]]))
    x = torch.randn(10, 4, requires_grad=True)
    assert gradient_penalty(layer(x), x).item() == pytest.approx(9.0)


def test_disc_loss_pure_bce_on_hand_built_logits():
    disc = Discriminator(2, [4])
    with torch.no_grad():
        for p in disc.parameters():
            p.zero_()
    agent, demo = torch.randn(8, 2), torch.randn(8, 2)
    loss, info = discriminator_loss(disc, agent, demo, DiscLossWeights(0.0, 0.0, 0.0))
    assert loss.item() == pytest.approx(math.log(2.0))  # logits 0: BCE = ln 2 for both classes
    assert info["disc_agent_acc"].item() == 0.0 and info["disc_demo_acc"].item() == 0.0
    with torch.no_grad():
        disc.logit.bias.fill_(-5.0)  # every window called "agent"
    loss, info = discriminator_loss(disc, agent, demo, DiscLossWeights(0.0, 0.0, 0.0))
    expected = 0.5 * (math.log1p(math.exp(-5.0)) + math.log1p(math.exp(5.0)))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert info["disc_agent_acc"].item() == 1.0 and info["disc_demo_acc"].item() == 0.0


def test_disc_loss_regularisers_add_up():
    torch.manual_seed(1)
    disc = Discriminator(3, [5], logit_init_scale=0.5)
    agent, demo = torch.randn(16, 3), torch.randn(16, 3)
    base, _ = discriminator_loss(disc, agent, demo, DiscLossWeights(0.0, 0.0, 0.0))
    full, info = discriminator_loss(disc, agent, demo, DiscLossWeights(0.01, 5.0, 1e-4))
    logit_sq = disc.logit.weight.pow(2).sum().item()
    decay = sum(w.pow(2).sum().item() for w in disc.all_weights())
    expected = base.item() + 0.01 * logit_sq + 5.0 * info["disc_grad_penalty"].item() + 1e-4 * decay
    assert full.item() == pytest.approx(expected, rel=1e-5)
    assert info["disc_logit_loss"].item() == pytest.approx(logit_sq, rel=1e-6)
    full.backward()
    assert disc.logit.weight.grad is not None and torch.isfinite(disc.logit.weight.grad).all()


@pytest.mark.parametrize("form", ["bce", "lsgan"])
def test_training_the_discriminator_separates_classes(form):
    torch.manual_seed(2)
    disc = Discriminator(2, [32, 16])
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    for _ in range(150):
        agent, demo = torch.randn(64, 2) - 1.5, torch.randn(64, 2) + 1.5
        loss, info = discriminator_loss(disc, agent, demo, DiscLossWeights(0.01, 0.1, 1e-4, loss=form))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert info["disc_agent_acc"].item() > 0.85 and info["disc_demo_acc"].item() > 0.85
    demo_reward = style_reward(disc(torch.randn(64, 2) + 1.5), 2.0, form).mean()
    agent_reward = style_reward(disc(torch.randn(64, 2) - 1.5), 2.0, form).mean()
    assert demo_reward > agent_reward


def test_input_noise_hides_a_feature_that_separates_the_classes_exactly():
    """A demo feature held at exactly 0 while the agent's jitters (a clip's rigid trunk; +-1 once normalised):
    without noise the discriminator separates them; with instance noise of std 1 on both sides it cannot."""
    accuracies = {}
    for noise in (0.0, 1.0):
        torch.manual_seed(3)
        disc = Discriminator(1, [32, 16])
        opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
        for _ in range(200):
            agent, demo = torch.randn(128, 1).sign(), torch.zeros(128, 1)
            loss, info = discriminator_loss(disc, agent, demo, DiscLossWeights(0.0, 0.0, 0.0, noise))
            opt.zero_grad()
            loss.backward()
            opt.step()
        accuracies[noise] = 0.5 * (info["disc_agent_acc"].item() + info["disc_demo_acc"].item())
    assert accuracies[0.0] > 0.95 and accuracies[1.0] < 0.75


def test_in_place_normaliser_matches_rl_games_and_keeps_its_tensors():
    from rl_games.algos_torch.running_mean_std import RunningMeanStd

    from awd.learning.network import InPlaceRunningMeanStd

    reference, in_place = RunningMeanStd((3,)), InPlaceRunningMeanStd((3,))
    tensors = (in_place.running_mean, in_place.running_var, in_place.count)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        batch = torch.randn(16, 3, generator=generator) * 2 + 1
        reference(batch), in_place(batch)
    now = (in_place.running_mean, in_place.running_var, in_place.count)
    assert all(after is before for after, before in zip(now, tensors))
    for name in ("running_mean", "running_var", "count"):
        torch.testing.assert_close(getattr(in_place, name), getattr(reference, name))


def test_rollout_actions_follow_the_policy_distribution():
    from awd.learning.network import AMPNetworkBuilder, ModelAMPContinuous

    builder = AMPNetworkBuilder()
    builder.load({"actor": {"units": [8], "activation": "elu"}, "critic": {"units": [8], "activation": "elu"},
                  "log_std": {"init": -1.0, "learnable": True}, "disc": {"units": [8]}})
    model = ModelAMPContinuous(builder).build({"input_shape": (3,), "actions_num": 2, "amp_input_shape": (4,),
                                               "normalize_input": True, "value_size": 1})
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        out = model({"is_train": False, "obs": torch.zeros(20000, 3)})
    noise = (out["actions"] - out["mus"]) / out["sigmas"]
    assert abs(float(noise.mean())) < 0.02 and abs(float(noise.std()) - 1.0) < 0.02
    expected = torch.distributions.Normal(out["mus"], out["sigmas"]).log_prob(out["actions"]).sum(-1)
    torch.testing.assert_close(out["neglogpacs"], -expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("key, value, words", [
    ("learning_rate", "fast", "config.learning_rate: expected a number > 0, found 'fast'"),
    ("learning_rate", 0.0, "expected a number > 0"),
    ("learning_rate", float("nan"), "expected a number > 0"),
    ("horizon_length", -5, "config.horizon_length: expected an integer >= 1, found -5"),
    ("horizon_length", 2.5, "expected an integer"),
    ("mini_epochs", [1, 2], "config.mini_epochs: expected an integer >= 1, found [1, 2]"),
    ("num_minibatches", True, "expected an integer"),
    ("gamma", 1.5, "config.gamma: expected a number >= 0 and <= 1"),
    ("e_clip", -0.2, "config.e_clip: expected a number > 0"),
    ("max_epochs", -2, "config.max_epochs: expected an integer >= -1"),
])
def test_ppo_keys_of_the_wrong_type_or_range_are_one_line_errors(key, value, words):
    from awd.errors import AwdError
    from awd.learning.amp_settings import check_ppo_keys

    check_ppo_keys({"learning_rate": 3e-4, "horizon_length": 32, "gamma": 0.99, "max_epochs": -1})
    with pytest.raises(AwdError, match=re.escape(words)):
        check_ppo_keys({key: value})


class _RunsCode:
    """Unpickling this would call `marker.touch()`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_with_code_in_it_is_refused_in_one_line_without_running_it(tmp_path):
    from awd.errors import AwdError
    from awd.learning.checkpoint import load_checkpoint

    marker = tmp_path / "ran"
    torch.save({"model": _RunsCode(marker)}, tmp_path / "evil.pth")
    with pytest.raises(AwdError) as info:
        load_checkpoint(tmp_path / "evil.pth")
    assert "refused: the file holds Python objects" in str(info.value) and "\n" not in str(info.value)
    assert "weights_only" not in str(info.value) and not marker.exists()


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_is_kept(tmp_path, monkeypatch):
    import errno

    import awd.utils.io as io
    from awd.errors import AwdError
    from awd.learning.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "latest.pth", {"model": {"w": torch.ones(3)}, "epoch": 1})
    before = path.read_bytes()

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", no_space)
    with pytest.raises(AwdError) as info:
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "epoch": 2})
    assert str(info.value) == f"{path}: could not write (No space left on device); the file there before, if any, " \
                              "is kept"
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["latest.pth"]


def _adam_pair(fused, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(4, 3)
    twin = torch.nn.Linear(4, 3)
    twin.load_state_dict(net.state_dict())
    return ((net, torch.optim.Adam(net.parameters(), lr=0.1, fused=fused)),
            (twin, torch.optim.Adam(twin.parameters(), lr=0.1, fused=fused)))


@pytest.mark.parametrize("fused", [False, True])
def test_a_guarded_step_is_adams_step_and_skips_a_non_finite_one_exactly(fused):
    from awd.learning.guarded_step import GuardedStep

    (net, adam), (twin, plain) = _adam_pair(fused)
    guarded = GuardedStep(adam, max_grad_norm=0.5)
    x = torch.randn(8, 4)
    for _ in range(3):
        for model, optimizer in ((net, adam), (twin, plain)):
            optimizer.zero_grad()
            loss = (model(x) ** 2).sum()
            loss.backward()
            if model is net:
                assert not guarded(loss)
            else:
                torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5)
                plain.step()
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), twin.parameters()))
    weights = [p.detach().clone() for p in net.parameters()]
    moments = [v.clone() for state in adam.state.values() for v in state.values()]
    adam.zero_grad()
    loss = (net(x) * float("nan")).sum()
    loss.backward()
    assert guarded(loss)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), weights))
    assert all(torch.equal(a, b) for a, b in zip([v for s in adam.state.values() for v in s.values()], moments))
    adam.zero_grad()
    (net(x) ** 2).sum().backward()
    assert not guarded(loss.new_ones(()))
    assert not any(torch.equal(a, b) for a, b in zip(net.parameters(), weights))   # the flag was lowered again


def test_updates_skipped_for_non_finite_values_warn_then_stop_the_run():
    from awd.errors import AwdError
    from awd.learning.watchdogs import SKIPPED_STOP_EPOCHS, Watchdogs

    lines = []
    dogs = Watchdogs(0.95, 50, lines.append)
    quiet = {"info/disc_agent_acc": 0.5, "info/disc_demo_acc": 0.5}
    dogs.after_epoch({**quiet, "info/skipped_updates": 0.25}, 1)
    assert len(lines) == 1 and "25% of the updates of epoch 1 were skipped" in lines[0]
    with pytest.raises(AwdError, match=f"every update of {SKIPPED_STOP_EPOCHS} epochs in a row"):
        for epoch in range(2, 2 + SKIPPED_STOP_EPOCHS):
            dogs.after_epoch({**quiet, "info/skipped_updates": 1.0}, epoch)
    assert len(lines) == 1


def test_a_run_states_its_threads_and_openmp_threads_sleep_while_waiting():
    import os
    from types import SimpleNamespace

    import awd  # noqa: F401  (sets the wait policy unless the user did)
    from awd.learning.progress import threads_line

    env = SimpleNamespace(env=SimpleNamespace(engine=SimpleNamespace(num_threads=3)))
    line = threads_line(env)
    assert line.startswith(f"threads: torch {torch.get_num_threads()} ") and "physics 3," in line
    assert f"wait policy {os.environ['OMP_WAIT_POLICY'].lower()}" in line


def test_style_scalars_skip_ratios_to_a_clip_value_of_zero():
    from awd.learning.style_monitor import style_scalars

    def clip(clearance, policy_clearance, joint_error, baseline):
        gait = {"stride_period": 0.43, "double_support": 0.2}
        return {"fell": False, "pass": {"survived": True}, "held_rms": 0.01, "joint_error": joint_error,
                "baseline_error": baseline, "clip": {**gait, "clearance": clearance},
                "policy": {**gait, "clearance": policy_clearance}}

    report = {"wall_s": 1.0, "extremes": [], "clips": [clip([0.0, 0.03], [0.01, 0.015], 0.05, 0.0),
                                                        clip([0.03, 0.03], [0.03, 0.03], 0.05, 0.1)]}
    scalars = style_scalars(report)  # a performed clip whose left foot never lifts: clearance 0
    assert scalars["style/clearance_ratio"] == 0.75  # mean of 0.5 (the foot that lifts) and 1.0
    assert scalars["style/joint_error_ratio"] == 0.5  # the clip with a zero baseline is left out


def test_amp_infos_give_falls_only_where_done_and_name_a_bad_field():
    from awd.errors import AwdError
    from awd.learning.vecenv import read_amp_infos

    dones = torch.tensor([1, 1, 0], dtype=torch.uint8)
    infos = {"amp_obs": torch.zeros(3, 4), "terminate": torch.tensor([True, False, True])}
    amp_obs, falls = read_amp_infos(infos, dones, (4,), "cpu", "env")
    assert amp_obs.shape == (3, 4) and falls.tolist() == [True, False, False]
    with pytest.raises(AwdError, match=r"infos\.amp_obs.*expected shape \(3, 5\)"):
        read_amp_infos(infos, dones, (5,), "cpu", "env")
    with pytest.raises(AwdError, match="'amp_obs' and 'terminate'"):
        read_amp_infos({"amp_obs": infos["amp_obs"]}, dones, (4,), "cpu", "env")


def test_the_startup_report_splits_the_time_to_the_first_epoch_into_its_phases_once():
    from awd.learning.progress import StartupClock, process_age_s

    times = iter([2.0, 5.5, 9.0, 12.5])
    clock, lines = StartupClock(clock=lambda: next(times)), []
    clock.mark("config")
    clock.mark("engine")
    clock.mark("networks")
    clock.report(lines.append)
    clock.report(lines.append)
    assert lines == ["start-up: the first epoch ended 12.5 s after the process started: config 2.0 s, engine 3.5 s, "
                     "networks 3.5 s, first epoch 3.5 s"]
    silent = StartupClock(clock=lambda: None)
    silent.mark("config")
    silent.report(lines.append)
    assert len(lines) == 1
    assert 0.0 < process_age_s() < 3600.0
