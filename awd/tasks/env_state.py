"""The env's exact state, so that a resumed run continues bit for bit: the mutable tensors its step reads (each
CUDA-graph holder's `state_attributes`), its random generator and the engine's state (`Engine.get_state`).
Tensors are put back in place (`copy_`), so views and captured CUDA graphs stay valid.
"""

from __future__ import annotations

import torch


def _state_tensors(task) -> dict[str, torch.Tensor]:
    """`<holder class>.<attribute>` -> the live tensor, for every holder's `state_attributes`."""
    return {f"{type(holder).__name__}.{name}": getattr(holder, name)
            for holder in task.graph_holders for name in getattr(holder, "state_attributes", ())}


def capture(task) -> dict | None:
    """The state as tensors (None where the engine cannot give an exact state)."""
    engine = task.engine.get_state()
    if engine is None:
        return None
    tensors = {key: tensor.clone() for key, tensor in _state_tensors(task).items()}
    return {"num_envs": task.num_envs, "tensors": tensors, "generator": task.generator.get_state(), "engine": engine}


def restore(task, state: dict | None) -> str | None:
    """Put `state` back; returns why it could not (then nothing was changed), None when it did."""
    if state is None:
        return "the checkpoint holds no exact env state"
    if state.get("num_envs") != task.num_envs:
        return f"the checkpoint's env count {state.get('num_envs')} differs from {task.num_envs}"
    targets = _state_tensors(task)
    saved = state["tensors"]
    if set(saved) != set(targets) or any(saved[k].shape != targets[k].shape for k in targets):
        return "the checkpoint's env buffers differ from this env's (another task or config)"
    for key, target in targets.items():
        target.copy_(saved[key].to(target.device))
    task.generator.set_state(state["generator"].to(torch.uint8))
    task.engine.set_state(state["engine"])
    return None
