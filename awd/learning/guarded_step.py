"""An optimiser step that a non-finite loss or gradient cannot poison: the update is skipped (parameters and
optimiser state left exactly as they were) and reported. The gradients are clipped to `max_grad_norm` first when
one is given.

A fused Adam (the agent's on CUDA) skips in its own kernel: the flag goes in as the optimiser's `found_inf`, the
hook torch's GradScaler uses, so there is no host sync and no copy of the weights, and the step runs inside a
captured CUDA graph. Any other optimiser is stepped only when the flag, read on the host, says so.
"""

from __future__ import annotations

import torch


class GuardedStep:
    def __init__(self, optimizer: torch.optim.Optimizer, max_grad_norm: float | None = None):
        self.optimizer, self.max_grad_norm = optimizer, max_grad_norm
        self._found_inf: torch.Tensor | None = None

    def _parameters(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]

    def _fused(self) -> bool:
        return all(group.get("fused") for group in self.optimizer.param_groups)

    def __call__(self, loss: torch.Tensor) -> torch.Tensor:
        """Step on the gradients already in `.grad`; returns a 0-dim bool tensor: the step was skipped."""
        grads = [p.grad for p in self._parameters()]
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else loss.new_zeros(())
        skipped = ~(torch.isfinite(loss.detach()) & torch.isfinite(norm))
        if self.max_grad_norm is not None and grads:
            torch._foreach_mul_(grads, (self.max_grad_norm / (norm + 1e-6)).clamp(max=1.0))
        if self._fused():
            self._skip_flag(loss.device).copy_(skipped)
            self.optimizer.step()
        elif not skipped.item():
            self.optimizer.step()
        return skipped

    def _skip_flag(self, device: torch.device) -> torch.Tensor:
        """One float tensor for the optimiser's whole life (a captured graph keeps its address)."""
        if self._found_inf is None:
            self._found_inf = torch.zeros((), dtype=torch.float32, device=device)
            self.optimizer.found_inf = self._found_inf
        return self._found_inf
