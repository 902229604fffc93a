"""The Duckling tasks' `step` is free of host<->device synchronisations (so that on a CUDA device the CPU can
queue a whole env step without waiting for the GPU), and the masked resets and episode statistics that make it
so behave like the id-based ones they replaced.

On CPU nothing actually synchronises, so `no_host_sync` forbids, while it is active, the Python-level
operations that would on a CUDA device: reading a tensor on the host (`bool`, `int`, `float`, `.item()`,
`.tolist()`, `.numpy()`, `.cpu()`), data-dependent shapes (`nonzero`, boolean-mask indexing, `masked_select`,
`unique`), host-data copies to the device (`torch.tensor` / `torch.as_tensor` of Python or numpy data,
indexing with a Python list, a Python number written through a tensor index or into a single element) and
host-side comparisons (`torch.equal`, `torch.allclose`). Which idioms wait was checked on an H200 with
`torch.cuda.set_sync_debug_mode("error")` (torch 2.11), under which the tasks' step ran too. Engine calls of
the CPU engine are let through (that engine works on the host by design; a GPU engine's own `step` and
`reset_where` are its business); the fake engine's `step` and `reset_where` are sync-free and stay checked.
The tasks run with `compact_resets` off, as they do on an accelerator."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pytest
import torch
from test_tasks import make_cfg, make_clip

from awd.motion.motion_lib import motion_lib_for_robot
from awd.engine import default_tracked_bodies as tracked_bodies
from awd.tasks import make_task
from awd.tasks.fake_engine import FakeEngine


class HostSync(AssertionError):
    pass


_ACTIVE = [False]
_HOST_READS = ("__bool__", "__int__", "__float__", "__index__", "item", "tolist", "numpy", "cpu", "nonzero",
               "argwhere", "masked_select", "unique")
_TORCH_FUNCTIONS = ("nonzero", "argwhere", "masked_select", "unique", "equal", "allclose", "tensor", "as_tensor")


def _is_host_index(index) -> bool:
    """Boolean-mask (needs the count), Python-list or numpy (copied to the device) indices."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) or (torch.is_tensor(p) and p.dtype == torch.bool) for p in parts)


def _is_host_write(index, value) -> bool:
    """A host index, or a Python number written through a tensor index or into one element (measured on an
    H200: `x[ids] = 0.0` and `x[i, j] = 0.0` copy the number to the device and wait; `x[:, j] = 0.0` does not)."""
    parts = index if isinstance(index, tuple) else (index,)
    one_element = all(isinstance(p, int) for p in parts) and len(parts) > 1
    return _is_host_index(index) or (not torch.is_tensor(value) and (one_element or any(map(torch.is_tensor, parts))))


def _guard(name: str, original, check=None):
    @functools.wraps(original)
    def guarded(*args, **kwargs):
        if _ACTIVE[0] and (check is None or check(*args, **kwargs)):
            raise HostSync(f"host sync in step: {name}")
        return original(*args, **kwargs)

    return guarded


def _host_data(data, *args, **kwargs) -> bool:
    return not torch.is_tensor(data)


@contextlib.contextmanager
def _suspended():
    active, _ACTIVE[0] = _ACTIVE[0], False
    try:
        yield
    finally:
        _ACTIVE[0] = active


@contextlib.contextmanager
def no_host_sync():
    _ACTIVE[0] = True
    try:
        yield
    finally:
        _ACTIVE[0] = False


@pytest.fixture
def guard(monkeypatch):
    """Installs the guards (inactive until `no_host_sync()`)."""
    for name in _HOST_READS:
        monkeypatch.setattr(torch.Tensor, name, _guard(f"Tensor.{name}", getattr(torch.Tensor, name)))
    for name in _TORCH_FUNCTIONS:
        check = _host_data if name in ("tensor", "as_tensor") else None
        monkeypatch.setattr(torch, name, _guard(f"torch.{name}", getattr(torch, name), check))
    get_item, set_item = torch.Tensor.__getitem__, torch.Tensor.__setitem__
    monkeypatch.setattr(torch.Tensor, "__getitem__", _guard("Tensor.__getitem__ (host index)", get_item,
                                                            lambda self, index: _is_host_index(index)))
    monkeypatch.setattr(torch.Tensor, "__setitem__", _guard("Tensor.__setitem__ (host index or write)", set_item,
                                                            lambda self, index, value: _is_host_write(index, value)))
    return no_host_sync


def test_the_guard_catches_syncs(guard):
    x, mask, ids = torch.arange(4.0), torch.tensor([True, False, True, False]), torch.tensor([0, 2])
    reintroduced = [lambda: mask.nonzero(), lambda: bool(mask.any()), lambda: x[mask], lambda: x.sum().item(),
                    lambda: int(x.sum()), lambda: torch.tensor([0.0, 0.0, -1.0]), lambda: x[[0, 2]],
                    lambda: x.__setitem__(mask, 0.0), lambda: float(x[0]), lambda: x.__setitem__(ids, 0.0),
                    lambda: x.view(2, 2).__setitem__((1, 0), 0.5)]
    with guard():
        for operation in reintroduced:
            with pytest.raises(HostSync):
                operation()
        torch.where(mask, 0.0, x), x.masked_fill(mask, 1.0), x[ids], x.index_put((ids,), x[:2] + 1)  # allowed
        x.view(2, 2)[:, 0] = 0.5


def _step_envs(env, engine, steps: int, falls: bool, guard):
    env.compact_resets = False  # the accelerator path (on CPU the task may read masks on the host)
    env.reset()
    actions = torch.zeros(env.num_envs, env.num_actions)
    done_seen = torch.zeros(env.num_envs, dtype=torch.bool)
    for step in range(steps):
        if falls:  # outside the guard: some envs fall during this step (the fake engine never falls itself)
            engine.root_pos[step % env.num_envs, 2] = 0.05
        with guard():
            obs, rewards, dones, infos = env.step(actions)
        done_seen |= dones
    assert done_seen.any()  # resets ran inside the guarded steps
    assert torch.isfinite(obs).all() and torch.isfinite(rewards).all()


@pytest.mark.parametrize("task, sections", [
    ("DucklingCommand", {}),  # the shipped config: Hybrid init
    ("DucklingCommand", {"init": {"mode": "Random"}, "commands": {"resample_s": 0.04, "clip_command_prob": 0.5,
                                                                     "clip_draw_prob": 0.5},
                         "domain_rand": {"action_delay": {"enabled": True, "max_steps": 2},
                                         "obs_delay": {"enabled": True, "max_steps": 2},
                                         "obs_noise": {"enabled": True}}}),
    ("DucklingCommand", {"init": {"mode": "Start"}}),
    ("DucklingCommand", {"init": {"mode": "Default"}}),
    ("DucklingCommand", {"commands": {"gait_period_s": 1.05},
                         "rewards": {"gait_pose": {"weight": 1.0, "ramp": [0, 1.0e6]}}}),
    ("DucklingStand", {"stand": {"height_offset_range": [-0.02, 0.0], "target_obs": True}}),
    ("DucklingAMP", {}),
])
def test_step_is_free_of_host_syncs_on_the_fake_engine(spec, motion_lib, guard, task, sections):
    cfg = make_cfg(task, episode_length_s=0.1, **sections)  # timeouts every 5 steps, falls in between
    engine = FakeEngine(spec, 8, tracked_bodies=tracked_bodies(spec))
    env = make_task(task, cfg, engine, motion_lib, spec)
    _step_envs(env, engine, 12, falls=True, guard=guard)


def test_step_is_free_of_host_syncs_on_the_cpu_engine(spec, motion_lib, guard):
    mujoco_cpu = pytest.importorskip("awd.engine.mujoco_cpu")
    engine = mujoco_cpu.MujocoCpuEngine(spec, 4, "cpu", tracked_bodies=tracked_bodies(spec), num_threads=1)
    for name in ("step", "reset", "reset_where"):
        method = getattr(engine, name)
        setattr(engine, name, lambda *args, _method=method: _run_suspended(_method, *args))
    env = make_task("DucklingCommand", make_cfg(episode_length_s=0.06), engine, motion_lib, spec)
    _step_envs(env, engine, 7, falls=False, guard=guard)


def _run_suspended(method, *args):
    with _suspended():
        return method(*args)


# ---------------------------------------------------------------------------------------------------- semantics


def make_env(spec, motion_lib, num_envs, **sections):
    engine = FakeEngine(spec, num_envs, tracked_bodies=tracked_bodies(spec))
    return make_task("DucklingCommand", make_cfg(**sections), engine, motion_lib, spec), engine


def test_masked_reset_touches_only_the_masked_envs_and_blends_default_and_reference(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, 64, init={"mode": "Hybrid", "hybrid_prob": 0.5})
    env.reset()
    reference = env.last_reset_was_reference.clone()
    assert 0 < int(reference.sum()) < 64
    history = env.amp_history
    assert torch.equal(history[~reference, 0], history[~reference, -1])  # default: the frame repeated
    assert not torch.allclose(history[reference, 0], history[reference, -1])  # reference: the clip's past
    assert torch.allclose(engine.joint_pos[~reference], env.default_joint_pos.expand(int((~reference).sum()), -1))
    for _ in range(3):
        env.step(torch.full((64, env.num_actions), 0.3))
    before = {name: getattr(env, name).clone() for name in ("progress", "actions", "commands", "amp_history")}
    joints = engine.joint_pos.clone()
    mask = torch.zeros(64, dtype=torch.bool)
    mask[[3, 40]] = True
    env.reset_where(mask)
    assert env.progress[mask].eq(0).all() and env.actions[mask].eq(0).all()
    for name, value in before.items():
        assert torch.equal(getattr(env, name)[~mask], value[~mask]), name
    assert torch.equal(engine.joint_pos[~mask], joints[~mask])
    assert torch.equal(env.randomization.obs_buffer_stale, mask)


def test_episode_stats_are_means_over_ended_episodes_and_zero_without_any(spec, motion_lib):
    env, engine = make_env(spec, motion_lib, 4, init={"mode": "Default"}, termination={"grace_steps": 0},
                           rewards={"alive": {"weight": 1.0}})
    env.reset()
    _, _, _, infos = env.step(torch.zeros(4, env.num_actions))
    assert all(value.item() == 0.0 for value in infos["episode"].values())
    engine.root_pos[[0, 2], 2] = 0.05
    _, _, dones, infos = env.step(torch.zeros(4, env.num_actions))
    episode = infos["episode"]
    assert dones.tolist() == [True, False, True, False] and episode["episodes_finished"].item() == 2
    assert episode["rew_alive"].item() == pytest.approx(2.0) and episode["fall_rate"].item() == 1.0
    assert episode["invalid_rate"].item() == 0.0


def test_compact_and_full_resets_agree(spec):
    """The CPU shortcut (reference states built for the envs that start from one only, no reset work on steps
    where no env is done) gives the states of the accelerator path (one clip, Start init, zero commands: no
    random draw matters)."""
    lib = motion_lib_for_robot(spec, [make_clip(spec)])
    runs = []
    for compact in (True, False):
        env, engine = make_env(spec, lib, 6, init={"mode": "Start"}, episode_length_s=0.1,
                               termination={"grace_steps": 0}, commands={"zero_prob": 1.0})
        env.compact_resets = compact
        env.reset()
        idle = 0
        for step in range(7):
            if step in (0, 3):
                engine.root_pos[step, 2] = 0.05
            obs, rewards, dones, infos = env.step(torch.full((6, env.num_actions), 0.1 * step))
            idle += not dones.any()
        assert 0 < idle < 7
        runs.append((obs, rewards, dones, infos["amp_obs"], env.amp_history, engine.joint_pos, engine.root_pos))
    for compact, full in zip(*runs):  # batches of other sizes may round differently in the last bit
        assert torch.allclose(compact.float(), full.float(), atol=1e-6)


def test_agent_weights_episode_means_by_episodes_finished():
    from awd.learning.episode_stats import episode_means, record_episode_infos

    stats = {}
    for count, length in ((0, 0.0), (3, 1.0), (0, 0.0), (1, 5.0)):
        episode = {"episode_length_s": torch.tensor(length), "episodes_finished": torch.tensor(float(count))}
        record_episode_infos({"episode": episode}, stats)
    record_episode_infos({"episode": {}}, stats)
    means = episode_means(stats)
    assert means["episode/episode_length_s"] == pytest.approx((3 * 1.0 + 1 * 5.0) / 4)  # per episode
    assert means["episode/episodes_finished"] == pytest.approx(1.0)  # per step
    none_ended = {}
    record_episode_infos({"episode": {"fall_rate": torch.tensor(0.0),
                                                       "episodes_finished": torch.tensor(0.0)}}, none_ended)
    assert "episode/fall_rate" not in episode_means(none_ended)
    plain = {}  # an env without `episodes_finished`: plain means over steps
    for value in (1.0, 3.0):
        record_episode_infos({"episode": {"rew_alive": torch.tensor(value)}}, plain)
    assert episode_means(plain) == {"episode/rew_alive": 2.0}


@pytest.mark.parametrize("randomisation", ["push", "friction", "torque_scale", "trunk_mass"])
def test_step_is_capturable_only_on_a_capturable_engine_without_host_reads(spec, motion_lib, randomisation):
    env, engine = make_env(spec, motion_lib, 4)
    env.compact_resets = False
    assert not env.step_capturable, "the fake engine does not say it can be captured"
    engine.capturable = True
    assert env.step_capturable and env.graph_holders == (env, engine, env.feet, env.randomization)
    env.compact_resets = True
    assert not env.step_capturable
    randomised, engine = make_env(spec, motion_lib, 4, domain_rand={randomisation: {"enabled": True}})
    randomised.compact_resets, engine.capturable = False, True
    assert not randomised.step_capturable


def test_every_object_whose_tensors_a_step_rebinds_is_a_graph_holder(spec, motion_lib):
    """A CUDA graph replays a step's reads of the tensors its attributes held at capture: an object that rebinds
    a tensor attribute (`self.x = f(self.x)`) outside `graph_holders` would be replayed from stale buffers."""
    env, engine = make_env(spec, motion_lib, 4, rewards={"feet_air_time": {"weight": 1.0},
                                                         "feet_clearance": {"weight": -1.0}})
    env.compact_resets = False
    env.reset()
    objects = [env, engine, *(value for value in vars(env).values() if hasattr(value, "__dict__"))]
    before = [{name: value for name, value in vars(obj).items() if torch.is_tensor(value)} for obj in objects]
    for _ in range(3):
        env.step(torch.zeros(4, env.num_actions))
    rebinding = [obj for obj, tensors in zip(objects, before)
                 if any(getattr(obj, name) is not value for name, value in tensors.items())]
    assert env.feet in rebinding and all(any(obj is holder for holder in env.graph_holders) for obj in rebinding)
