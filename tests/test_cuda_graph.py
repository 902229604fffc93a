"""GraphedStep and SegmentedGraph (awd.utils.cuda_graphs): a captured, replayed training step updates a model
exactly as the same step run eagerly, and a replayed env step (torch graphs around MuJoCo Warp's) advances the
env as eager steps do. Needs a CUDA device (the agent uses graphs only there)."""

import importlib.util

import pytest
import torch

from awd.utils.cuda_graphs import GraphedStep, SegmentedGraph, launch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


def make_trainer(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ELU(), torch.nn.Linear(32, 1)).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True, capturable=True)

    def step(inputs):
        x = inputs["x"].requires_grad_(True)
        out = model(x)
        grad = torch.autograd.grad(out.sum(), x, create_graph=True)[0]   # a double backward, like the GP
        loss = (out - inputs["y"]).pow(2).mean() + 0.1 * grad.pow(2).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    return model, step


def test_replayed_steps_match_eager_steps():
    batches = [{"x": torch.randn(64, 8, device="cuda"), "y": torch.randn(64, 1, device="cuda")} for _ in range(8)]
    eager_model, eager_step = make_trainer(0)
    graph_model, graph_step = make_trainer(0)
    graphed = GraphedStep(graph_step, warmup_calls=2)
    for batch in batches:
        expected = eager_step({k: v.clone() for k, v in batch.items()})["loss"]
        got = graphed({k: v.clone() for k, v in batch.items()})["loss"]
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert graphed.graph is not None, "the step was never captured"
    for a, b in zip(eager_model.parameters(), graph_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_replayed_guarded_step_skips_a_non_finite_batch_and_steps_a_finite_one():
    from awd.learning.guarded_step import GuardedStep

    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1).cuda()
    guarded = GuardedStep(torch.optim.Adam(model.parameters(), lr=1e-2, fused=True, capturable=True), 1.0)

    def step(inputs):
        loss = (model(inputs["x"]) - inputs["y"]).pow(2).mean()
        guarded.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return {"skipped": guarded(loss)}

    graphed = GraphedStep(step, warmup_calls=2)
    finite = {"x": torch.randn(64, 8, device="cuda"), "y": torch.randn(64, 1, device="cuda")}
    for _ in range(3):
        assert not graphed(finite)["skipped"]
    assert graphed.graph is not None
    weights = [p.detach().clone() for p in model.parameters()]
    assert graphed({**finite, "y": torch.full((64, 1), float("nan"), device="cuda")})["skipped"]
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), weights))
    assert not graphed(finite)["skipped"]
    assert not any(torch.equal(a, b) for a, b in zip(model.parameters(), weights))


class Accumulator:
    """A holder like a task: a generator, a buffer updated in place, one rebound every step, and a buffer
    changed by a 'prebuilt graph' launched between torch ops."""

    def __init__(self, seed: int):
        self.generator = torch.Generator("cuda").manual_seed(seed)
        self.total = torch.zeros(4, device="cuda")
        self.previous = torch.zeros(4, device="cuda")
        self.scale = torch.ones(4, device="cuda")

    def step(self, x):
        noise = torch.rand(4, generator=self.generator, device="cuda")
        self.previous = self.total.clone()
        self.total += x + noise
        launch(lambda: self.scale.mul_(2.0))
        return self.total * self.scale


def test_segmented_replays_match_eager_steps():
    eager, graphed_holder = Accumulator(0), Accumulator(0)
    graphed = SegmentedGraph(graphed_holder.step, [graphed_holder], warmup_calls=2)
    previous, buffers = None, None
    for k in range(6):
        x = torch.full((4,), float(k), device="cuda")
        expected = eager.step(x.clone())
        got = graphed(x.clone())
        torch.testing.assert_close(got, expected)
        torch.testing.assert_close(graphed_holder.previous, eager.previous)
        if previous is not None:
            assert not torch.equal(got - previous, torch.zeros_like(got)), "each replay draws new noise"
        previous = got.clone()
        if graphed.captured:
            buffers = buffers or (graphed_holder.total, graphed_holder.previous)
            assert graphed_holder.total is buffers[0] and graphed_holder.previous is buffers[1], "same buffers"
    assert graphed.captured and len(graphed.segments) == 3   # torch graph, launch, torch graph


def test_a_step_adding_tensor_attributes_is_refused_and_rolled_back():
    holder = Accumulator(0)

    def step(x):
        holder.total = holder.total + x
        holder.extra = x * 2
        return holder.total

    graphed = SegmentedGraph(step, [holder], warmup_calls=0)
    total = holder.total
    with pytest.raises(RuntimeError, match="extra"):
        graphed(torch.ones(4, device="cuda"))
    assert holder.total is total and not hasattr(holder, "extra") and not graphed.captured


@pytest.mark.skipif(importlib.util.find_spec("mujoco_warp") is None, reason="mujoco_warp not installed")
@pytest.mark.xdist_group("warp")
def test_graphed_env_steps_match_eager_steps_on_mujoco_warp():
    """DucklingCommand on MuJoCo Warp with 0.2-s episodes (resets from reference motion every few steps) and the
    foot-tracker terms on: the same actions give the same observations, rewards and resets eagerly and replayed."""
    import yaml

    from awd import DATA_DIR
    from awd.engine import make_engine
    from awd.tasks.factory import build_env

    raw = yaml.safe_load((DATA_DIR / "cfg/mini_bdx/duckling_command.yaml").read_text())["env"]
    raw.update(episode_length_s=0.2, seed=3)
    for term in ("feet_air_time", "feet_swing_height", "feet_clearance"):
        raw["rewards"][term]["weight"] = 1.0

    def engine_factory(spec, num_envs, device, tracked_bodies):
        return make_engine("mujoco_warp", spec, num_envs, device, tracked_bodies)

    envs = [build_env(dict(raw), 64, "cuda", engine_factory=engine_factory) for _ in range(2)]
    eager, replayed = envs
    assert replayed.step_capturable
    graphed = SegmentedGraph(replayed.step, replayed.graph_holders)
    for env in envs:
        env.reset()
    generator, resets = torch.Generator("cuda").manual_seed(0), 0
    for _ in range(25):
        actions = torch.rand(64, eager.num_actions, device="cuda", generator=generator) * 2 - 1
        expected = eager.step(actions)
        got = graphed(actions)
        assert torch.equal(got[2], expected[2]), "the same envs end their episodes"
        torch.testing.assert_close(got[0], expected[0], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(got[1], expected[1], rtol=1e-3, atol=1e-3)
        torch.testing.assert_close(got[3]["amp_obs"], expected[3]["amp_obs"], rtol=1e-3, atol=1e-3)
        resets += int(expected[2].sum())
    assert graphed.captured and len(graphed.segments) == 5   # torch, physics, torch, position stage, torch
    assert resets >= 64 * 2, "every env ended at least two episodes"


def test_rebinding_a_carried_attribute_outside_the_step_is_refused():
    holder = Accumulator(0)
    graphed = SegmentedGraph(holder.step, [holder], warmup_calls=0)
    graphed(torch.ones(4, device="cuda"))
    holder.previous = torch.zeros(4, device="cuda")   # e.g. a reset that rebinds instead of copying
    with pytest.raises(RuntimeError, match="previous"):
        graphed(torch.ones(4, device="cuda"))
