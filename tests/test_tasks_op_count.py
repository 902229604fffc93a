"""The Duckling step issues few torch ops on the accelerator path: on a GPU each op costs some microseconds of
CPU launch time, more than most of its kernels take, so the op count sets the env's speed there. Counted here
on CPU with the fake engine (its own ops left out), with `compact_resets` off as on an accelerator: the aten
ops that reach the dispatcher, views excluded (they launch nothing). A guard against a large regression (the
shipped DucklingCommand step took about 730 before the count was cut to about 265), not an exact budget."""

from __future__ import annotations

import pytest
import torch
from test_tasks import make_cfg, make_clip
from torch.utils._python_dispatch import TorchDispatchMode

from awd.robot import load_robot_spec
from awd.motion.motion_lib import motion_lib_for_robot
from awd.engine import default_tracked_bodies as tracked_bodies
from awd.tasks import make_task
from awd.tasks.fake_engine import FakeEngine


class CountOps(TorchDispatchMode):
    """Counts the non-view aten ops dispatched while `counting` is true."""

    def __init__(self):
        super().__init__()
        self.count, self.counting = 0, True

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.counting and not func.is_view:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _uncounted(counter: CountOps, method):
    def call(*args):
        counter.counting = False
        try:
            return method(*args)
        finally:
            counter.counting = True
    return call


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.mark.parametrize("task, sections, budget", [
    ("DucklingCommand", {}, 340),  # the shipped config: Hybrid init, reference windows for all envs every step
    ("DucklingCommand", {"init": {"mode": "Default"}}, 260),
])
def test_step_op_count_stays_low(spec, task, sections, budget):
    lib = motion_lib_for_robot(spec, [make_clip(spec), make_clip(spec, speed=-0.1, yaw_rate=-0.3)])
    engine = FakeEngine(spec, 16, tracked_bodies=tracked_bodies(spec))
    env = make_task(task, make_cfg(task, **sections), engine, lib, spec)
    env.compact_resets = False
    env.reset()
    actions = torch.zeros(16, env.num_actions)
    env.step(actions)
    counter = CountOps()
    engine.step, engine.reset_where = _uncounted(counter, engine.step), _uncounted(counter, engine.reset_where)
    with counter:
        for _ in range(5):
            env.step(actions)
    per_step = counter.count / 5
    assert per_step <= budget, f"{task} step issues {per_step:.0f} torch ops (budget {budget})"
