"""CUDA graph capture: a step replayed as one captured graph (`GraphedStep`, the AMP agent's minibatch step
and policy inference), and a step whose torch ops surround launches of graphs that another library captured
(MuJoCo Warp's physics) replayed as alternating torch graphs and those launches (`SegmentedGraph`, the env
step).

On a GPU these steps are hundreds of small kernels; launched one by one from Python they take longer than the
GPU needs to run them (benchmarks/throughput.py --profile), so the training loop is bound by the CPU. A
captured graph is launched in one call.

`GraphedStep` runs the step eagerly for a few calls (on a side stream, so lazily created state such as Adam's
moments and cuBLAS workspaces exists before capture), then captures it once and afterwards only copies each
call's inputs into its static buffers and replays the graph. The step must be capturable: no host
synchronisation, fixed input shapes, and an optimiser built with `capturable=True`.

`SegmentedGraph` does the same for a step that calls `launch(run)` for each launch of a prebuilt graph: run at
once normally; while the step is being captured, the torch capture is cut there and `run` becomes a step of
the replay between two torch graphs (all in one memory pool, replayed in capture order). A step that rebinds
tensor attributes of its `holders` (`self.x = f(self.x)`) would read the old tensors at every replay, so the
capture ends by copying each rebound tensor into the one the attribute held before and restoring the
attribute: every replay reads and advances the same buffers. CUDA generators held by the holders are
registered with every graph, so each replay draws new random numbers. Besides being capturable, the step's
Python control flow must not depend on anything that changes between calls, and the prebuilt graphs must
exist before capture (the eager warm-up calls create them).

Outputs of both are static tensors that the next call overwrites: read them before calling again.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch


class GraphedStep:
    """`step(inputs) -> outputs` on CUDA tensors: eager for `warmup_calls` calls, then captured and replayed.
    A step with NCCL collectives (`collectives`) is captured after the device has finished earlier work and in
    thread-local capture mode, so that the process group's watchdog thread may query its events meanwhile."""

    def __init__(self, step: Callable[[dict[str, torch.Tensor]], Any], collectives: bool = False,
                 warmup_calls: int = 3):
        self.step = step
        self.collectives = collectives
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
        if self.collectives:
            torch.cuda.synchronize()
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local" if self.collectives else "global"):
            self.outputs = self.step(self.inputs)


_capturing: "SegmentedGraph | None" = None


def launch(run: Callable[[], None]) -> None:
    """Launch a prebuilt graph (`run`): now, or, while a SegmentedGraph captures, as a step of its replay."""
    if _capturing is None:
        run()
    else:
        _capturing.cut(run)


class SegmentedGraph:
    """`step(*inputs) -> outputs` on CUDA tensors, eager for `warmup_calls` calls, then captured (cut at each
    `launch`) and replayed; tensor attributes of `holders` that the step rebinds are carried in place."""

    def __init__(self, step: Callable[..., Any], holders: Sequence[object], warmup_calls: int = 3):
        self.step = step
        self.holders = tuple(holders)
        self.warmup_calls = warmup_calls
        self.calls = 0
        self.segments: list[torch.cuda.CUDAGraph | Callable[[], None]] = []
        self.inputs: list[torch.Tensor] = []
        self.outputs: Any = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._stream: torch.cuda.Stream | None = None
        self._generators: list[torch.Generator] = []
        self._pool = None
        self._bound: dict = {}

    @property
    def captured(self) -> bool:
        return bool(self.segments)

    def __call__(self, *inputs: torch.Tensor) -> Any:
        if not self.segments and self.calls < self.warmup_calls:
            self.calls += 1
            return self.step(*inputs)
        caller = torch.cuda.current_stream()
        stream = self._stream or self._capture_stream(caller)
        if stream != caller:
            stream.wait_stream(caller)
        with torch.cuda.stream(stream):
            if not self.segments:
                self._capture(inputs)
            self._check_bound()
            with torch.no_grad():
                for static, value in zip(self.inputs, inputs):
                    static.copy_(value)
            for segment in self.segments:
                if isinstance(segment, torch.cuda.CUDAGraph):
                    segment.replay()
                else:
                    segment()
        if stream != caller:
            caller.wait_stream(stream)
        return self.outputs

    def _capture_stream(self, caller: torch.cuda.Stream) -> torch.cuda.Stream:
        """The caller's stream (where MuJoCo Warp launches, as the engine makes it torch's current stream),
        or a side stream when the caller is on the default stream, on which CUDA cannot capture."""
        on_default = caller == torch.cuda.default_stream(caller.device)
        self._stream = torch.cuda.Stream(caller.device) if on_default else caller
        return self._stream

    def cut(self, run: Callable[[], None]) -> None:
        """End the torch graph being captured, record `run`, begin the next torch graph."""
        self._end_segment()
        self.segments.append(run)
        self._begin_segment()

    def _capture(self, inputs) -> None:
        global _capturing
        self.inputs = [value.detach().clone() for value in inputs]
        bound = self._tensor_attributes()
        self._generators = [value for holder in self.holders for value in vars(holder).values()
                            if isinstance(value, torch.Generator) and value.device.type == "cuda"]
        self._pool = torch.cuda.graph_pool_handle()
        torch.cuda.synchronize()
        self._begin_segment()
        _capturing = self
        try:
            self.outputs = self.step(*self.inputs)
            self._carry(bound)
            self._end_segment()
            self._bound = bound
        except BaseException:
            self._abandon(bound)
            raise
        finally:
            _capturing = None

    def _tensor_attributes(self) -> dict[tuple[int, str], tuple[object, torch.Tensor]]:
        return {(index, name): (holder, value) for index, holder in enumerate(self.holders)
                for name, value in vars(holder).items() if isinstance(value, torch.Tensor)}

    def _carry(self, bound: dict) -> None:
        added = sorted(name for (index, name) in self._tensor_attributes() if (index, name) not in bound)
        if added:
            raise RuntimeError(f"a captured step must not add tensor attributes: {added}")
        for (_, name), (holder, before) in bound.items():
            value = getattr(holder, name)
            if value is before:
                continue
            if not isinstance(value, torch.Tensor) or value.shape != before.shape or value.dtype != before.dtype:
                raise RuntimeError(f"{type(holder).__name__}.{name} changed type, shape or dtype in a captured step")
            before.copy_(value)
            setattr(holder, name, before)

    def _check_bound(self) -> None:
        """The graphs read and write the buffers the attributes held at capture: refuse to replay once code
        outside the step (a reset, a restore) has rebound one of them."""
        moved = [name for (_, name), (holder, tensor) in self._bound.items() if getattr(holder, name) is not tensor]
        if moved:
            raise RuntimeError(f"tensor attributes {moved} were rebound outside the captured step; "
                               "update them in place (copy_) instead")

    def _abandon(self, bound: dict) -> None:
        """After a failed capture: end it, drop the segments and restore every attribute (nothing captured ran)."""
        try:
            if self._graph is not None:
                self._graph.capture_end()
        except RuntimeError:
            pass
        self._graph, self.segments = None, []
        for index, name in self._tensor_attributes():
            if (index, name) not in bound:
                delattr(self.holders[index], name)
        for (_, name), (holder, before) in bound.items():
            setattr(holder, name, before)

    def _begin_segment(self) -> None:
        graph = torch.cuda.CUDAGraph()
        for generator in self._generators:
            graph.register_generator_state(generator)
        graph.capture_begin(pool=self._pool)
        self._graph = graph

    def _end_segment(self) -> None:
        self._graph.capture_end()
        self.segments.append(self._graph)
        self._graph = None
