"""fakescan.train.sam: SAM's two-step update against a hand computation, and that it minimises."""

from __future__ import annotations

import torch

from fakescan.train.config import load_config
from fakescan.train.engine import build_optimizer, build_scheduler
from fakescan.train.sam import SAM

A = torch.tensor([[3.0, 0.5], [0.5, 1.0]])


def quadratic(w: torch.Tensor) -> torch.Tensor:
    """``½ wᵀAw``, gradient ``Aw``."""
    return 0.5 * w @ A @ w


def test_one_step_matches_the_hand_computation() -> None:
    """Foret et al. 2021, Eq. 2–3: ε̂ = ρ g/‖g‖, then the base (plain SGD) step with ∇L(w + ε̂)."""
    w0 = torch.tensor([1.0, -2.0])
    rho, lr = 0.1, 0.05
    g = A @ w0
    epsilon = rho * g / g.norm()
    expected = w0 - lr * (A @ (w0 + epsilon))

    w = torch.nn.Parameter(w0.clone())
    optimizer = SAM([w], torch.optim.SGD, rho=rho, lr=lr)
    quadratic(w).backward()
    seen = []

    def closure() -> torch.Tensor:
        seen.append(w.detach().clone())
        loss = quadratic(w)
        loss.backward()
        return loss

    optimizer.step(closure)
    torch.testing.assert_close(seen[0], w0 + epsilon)  # the second gradient is taken at w + ε̂
    torch.testing.assert_close(w.detach(), expected)
    assert not torch.allclose(expected, w0 - lr * g)  # and it is not plain SGD


def test_sam_with_momentum_minimises_and_resumes_exactly() -> None:
    def run(steps: int, resume_at: int | None = None) -> tuple[torch.Tensor, list[float]]:
        w = torch.nn.Parameter(torch.tensor([2.0, 2.0]))
        optimizer = SAM([w], torch.optim.SGD, rho=0.05, lr=0.05, momentum=0.9)
        losses = []
        for step in range(steps):
            if step == resume_at:
                saved = optimizer.state_dict()
                w = torch.nn.Parameter(w.detach().clone())
                optimizer = SAM([w], torch.optim.SGD, rho=0.05, lr=0.05, momentum=0.9)
                optimizer.load_state_dict(saved)
            optimizer.zero_grad()
            loss = quadratic(w)
            losses.append(loss.item())
            loss.backward()
            optimizer.step(lambda w=w: _backward(quadratic(w)))
        return w.detach(), losses

    final, losses = run(60)
    assert losses[-1] < 1e-3 * losses[0]
    resumed, _ = run(60, resume_at=25)
    torch.testing.assert_close(resumed, final)


def _backward(loss: torch.Tensor) -> torch.Tensor:
    loss.backward()
    return loss


def test_the_sbi_optimiser_and_schedule_from_a_config() -> None:
    """SAM over SGD at lr 0.001, momentum 0.9; constant for the first half, then a linear decay."""
    config = load_config(
        overrides={
            "epochs": 8,
            "optim": {"optimizer": "sam", "lr": 1e-3, "scheduler": "linear", "linear_decay_start": 0.5},
        }
    )
    model = torch.nn.Linear(2, 1)
    optimizer = build_optimizer(model, config)
    assert isinstance(optimizer, SAM) and isinstance(optimizer.base_optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.9
    scheduler = build_scheduler(optimizer, config)
    rates = []
    for _ in range(8):
        rates.append(optimizer.base_optimizer.param_groups[0]["lr"])
        scheduler.step()
    torch.testing.assert_close(
        torch.tensor(rates), torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]) * 1e-3
    )
