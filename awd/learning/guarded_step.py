"""An optimiser step that a non-finite loss or gradient cannot poison: the update is skipped (parameters and
optimiser state left exactly as they were) and reported, without a host sync, so that it also runs inside a
captured CUDA graph. The gradients are clipped to `max_grad_norm` first when one is given.

A skipped step still calls the optimiser (with zeroed gradients, so its state stays finite) and then restores
what it changed; the caller reads the returned flag with its other statistics, once per epoch.
"""

from __future__ import annotations

import torch


class GuardedStep:
    def __init__(self, optimizer: torch.optim.Optimizer, max_grad_norm: float | None = None):
        self.optimizer, self.max_grad_norm = optimizer, max_grad_norm

    def _parameters(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]

    def _state(self, parameters) -> list[torch.Tensor]:
        return [value for p in parameters for value in self.optimizer.state.get(p, {}).values()
                if isinstance(value, torch.Tensor)]

    def __call__(self, loss: torch.Tensor) -> torch.Tensor:
        """Step on the gradients already in `.grad`; returns a 0-dim bool tensor: the step was skipped."""
        parameters = self._parameters()
        grads = [p.grad for p in parameters]
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else loss.new_zeros(())
        finite = torch.isfinite(loss.detach()) & torch.isfinite(norm)
        for grad in grads:
            grad.copy_(torch.where(finite, grad, 0.0))
        if self.max_grad_norm is not None and grads:
            scale = (self.max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
            torch._foreach_mul_(grads, torch.where(finite, scale, 1.0))
        before = [t.detach().clone() for t in [*parameters, *self._state(parameters)]]
        self.optimizer.step()
        with torch.no_grad():
            for now, was in zip([*parameters, *self._state(parameters)], before):
                now.copy_(torch.where(finite, now, was))
        return ~finite
