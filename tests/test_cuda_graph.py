"""GraphedStep (awd.learning.cuda_graph): a captured, replayed training step updates a model exactly as the
same step run eagerly. Needs a CUDA device (the agent uses graphs only there)."""

import pytest
import torch

from awd.learning.cuda_graph import GraphedStep

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
