"""What an exact resume puts back besides the weights: every tensor a task step changes is listed in its holder's
`state_attributes`; the demo buffer comes back from its keys alone; the generators come back."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from test_tasks import make_env, motion_lib, spec  # noqa: F401 (fixtures)

from awd.learning.demo_buffer import DemoBuffer
from awd.learning.resume_state import rng_states, set_rng_states


def _tensors(holder) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in vars(holder).items() if isinstance(value, torch.Tensor)}


def test_every_tensor_a_step_changes_is_part_of_the_saved_state(spec, motion_lib):  # noqa: F811
    delays = {"action_delay": {"enabled": True, "max_steps": 2}, "obs_delay": {"enabled": True, "max_steps": 2}}
    task, engine = make_env(spec, motion_lib, num_envs=3, domain_rand=delays)
    task.reset()
    holders = [h for h in task.graph_holders if h is not engine]
    before = [_tensors(h) for h in holders]
    for step in range(40):
        task.step(torch.rand(3, task.num_actions, generator=torch.Generator().manual_seed(step)) * 2 - 1)
    for holder, old in zip(holders, before):
        new = _tensors(holder)
        changed = {name for name in old if old[name].shape != new[name].shape or not torch.equal(old[name], new[name])}
        assert changed and changed <= set(holder.state_attributes), type(holder).__name__


class KeyedEnv:
    """Demo windows that are a function of their keys (clip id, time)."""

    def __init__(self):
        self.gen = torch.Generator().manual_seed(0)

    def amp_demo_keys(self, n):
        return torch.randint(0, 5, (n,), generator=self.gen), torch.rand(n, generator=self.gen, dtype=torch.float64)

    def amp_demo_windows(self, ids, times):
        return torch.stack([ids.float(), times.float(), (ids * times).float()], dim=-1)


def test_the_demo_buffer_comes_back_from_its_keys():
    original = DemoBuffer(10, KeyedEnv(), (3,), "cpu", "test")
    original.fill(4)
    original.fetch(3)  # wraps around: head 3
    restored = DemoBuffer(10, KeyedEnv(), (3,), "cpu", "test")
    assert restored.load_state_dict(original.state_dict())
    assert torch.equal(restored.windows.data, original.windows.data)
    assert (restored.windows.head, len(restored)) == (original.windows.head, len(original)) == (3, 10)
    assert original.state_dict()["data"].shape == (10, 2)  # keys, not windows


def test_random_generators_come_back():
    states = rng_states()
    drawn = (random.random(), np.random.rand(), torch.rand(()).item())
    set_rng_states(states)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == drawn


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (a checkpoint loaded onto the GPU)")
def test_random_generators_come_back_from_a_checkpoint_loaded_onto_the_gpu():
    torch.cuda.init()
    states = torch.utils._pytree.tree_map(lambda x: x.cuda() if isinstance(x, torch.Tensor) else x, rng_states())
    drawn = (np.random.rand(), torch.rand(()).item(), torch.rand((), device="cuda").item())
    set_rng_states(states)
    assert (np.random.rand(), torch.rand(()).item(), torch.rand((), device="cuda").item()) == drawn
