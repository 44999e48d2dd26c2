"""Sharpness-Aware Minimization (Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware Minimization for
Efficiently Improving Generalization", ICLR 2021, arXiv 2010.01412), the optimiser of Self-Blended
Images (Shiohara & Yamasaki, CVPR 2022: SAM over SGD, lr 0.001, momentum 0.9).

SAM minimises ``max_{‖ε‖₂ ≤ ρ} L(w + ε)``. Its first-order solution (Sec. 2, Eq. 2–3) is one gradient
ascent step to the worst nearby point, ``ε̂ = ρ · g / ‖g‖₂`` with ``g = ∇L(w)`` (the norm over *all*
parameters together), followed by a step of the base optimiser from ``w`` with the gradient taken at
``w + ε̂``. So each training step costs two forward/backward passes:

1. ``loss(w).backward()`` → :meth:`SAM.first_step` (moves to ``w + ε̂``, remembers ``ε̂``);
2. ``zero_grad()``, ``loss(w + ε̂).backward()`` → :meth:`SAM.second_step` (moves back to ``w``, then
   the base step with the new gradients).

:meth:`SAM.step` does both given a closure that recomputes the loss and its gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["SAM"]


class SAM(torch.optim.Optimizer):
    """SAM around a base optimiser (Foret et al., ICLR 2021, Algorithm 1).

    Args:
        params: parameters or parameter groups, as for any optimiser.
        base_optimizer: the optimiser class that takes the actual step (``torch.optim.SGD``).
        rho: radius ``ρ`` of the neighbourhood (0.05 in the paper's and SBI's settings).
        base_options: the base optimiser's options (``lr``, ``momentum``, ``weight_decay``, …).

    The parameter groups are shared with the base optimiser, so a learning-rate schedule set on this
    optimiser drives the base one; ``state_dict`` is the base optimiser's (its momentum buffers),
    so a run resumes exactly.
    """

    def __init__(
        self,
        params: Iterable[Any],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        **base_options: Any,
    ) -> None:
        if rho <= 0:
            raise ValueError(f"rho must be positive, got {rho}")
        super().__init__(params, {"rho": rho, **base_options})
        self.base_optimizer = base_optimizer(self.param_groups, **base_options)
        self.param_groups = self.base_optimizer.param_groups
        self.rho = rho

    @torch.no_grad()
    def _grad_norm(self) -> torch.Tensor:
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms = [g.norm(p=2) for g in grads]
        if not norms:
            return torch.zeros(())
        return torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]), ord=2)

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """``w ← w + ρ·g/‖g‖`` (the ascent step); ``g`` are the current gradients."""
        scale = self.rho / (self._grad_norm() + 1e-12)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                offset = p.grad * scale.to(p.device)
                p.add_(offset)
                self.state[p]["sam_offset"] = offset
        if zero_grad:
            self.zero_grad(set_to_none=True)

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Back to ``w``, then the base optimiser's step with the gradients taken at ``w + ε̂``."""
        for group in self.param_groups:
            for p in group["params"]:
                offset = self.state[p].pop("sam_offset", None)
                if offset is not None:
                    p.sub_(offset)
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad(set_to_none=True)

    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:  # type: ignore[override]
        """Both steps; ``closure`` must zero nothing, and compute the loss and call ``backward``.

        The gradients at ``w`` must already be there (the caller's first backward).
        """
        if closure is None:
            raise ValueError("SAM.step needs a closure that recomputes the loss and its gradients")
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            loss = closure()
        self.second_step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups
