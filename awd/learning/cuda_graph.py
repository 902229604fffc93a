"""A training step replayed as one captured CUDA graph (PyTorch whole-network capture).

The AMP agent's minibatch step (PPO and discriminator losses, their backward pass, the optimiser step) is a
few hundred small kernels; launched one by one from Python they take longer than the GPU needs to run them
(benchmarks/throughput.py --profile). `GraphedStep` runs the step eagerly for a few calls (on a side stream,
so lazily created state such as Adam's moments and cuBLAS workspaces exists before capture), then captures it
once and afterwards only copies each call's inputs into its static buffers and replays the graph.

The step must be capturable: no host synchronisation, fixed input shapes, and an optimiser built with
`capturable=True`. Its outputs are static tensors that the next call overwrites: read them before calling
again.
"""

from __future__ import annotations

from typing import Any, Callable

import torch


class GraphedStep:
    """`step(inputs) -> outputs` on CUDA tensors: eager for `warmup_calls` calls, then captured and replayed."""

    def __init__(self, step: Callable[[dict[str, torch.Tensor]], Any], warmup_calls: int = 3):
        self.step = step
        self.warmup_calls = warmup_calls
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: dict[str, torch.Tensor] = {}
        self.outputs: Any = None

    def __call__(self, inputs: dict[str, torch.Tensor]) -> Any:
        if self.graph is None and self.calls < self.warmup_calls:
            self.calls += 1
            return self._eager_on_side_stream(inputs)
        if self.graph is None:
            self._capture(inputs)
        with torch.no_grad():
            for name, value in inputs.items():
                self.inputs[name].copy_(value)
        self.graph.replay()
        return self.outputs

    def _eager_on_side_stream(self, inputs: dict[str, torch.Tensor]) -> Any:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            outputs = self.step(inputs)
        torch.cuda.current_stream().wait_stream(stream)
        return outputs

    def _capture(self, inputs: dict[str, torch.Tensor]) -> None:
        self.inputs = {name: value.detach().clone() for name, value in inputs.items()}
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = self.step(self.inputs)
