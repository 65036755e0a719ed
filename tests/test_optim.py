"""pgexp's ascent updates equal torch.optim's, step for step, each run with its own rate."""

from __future__ import annotations

import pytest
import torch

from pgexp.config import Optimizer
from pgexp.optim import make_ascent

LRS = (0.3, 0.07)


@pytest.mark.parametrize(
    ("name", "torch_optimizer"),
    [(Optimizer.sgd, torch.optim.SGD), (Optimizer.adam, torch.optim.Adam)],
)
def test_updates_equal_torch_optim_with_maximize(name: Optimizer, torch_optimizer: type) -> None:
    """Two runs in one batch, each against its own torch optimizer with its own lr."""
    gen = torch.Generator().manual_seed(0)
    ours = [
        torch.randn(2, 3, 4, dtype=torch.float64, generator=gen),
        torch.randn(2, 5, dtype=torch.float64, generator=gen),
    ]
    refs = [[p[r].clone().requires_grad_() for p in ours] for r in range(2)]
    ascent = make_ascent(name, lr=torch.tensor(LRS, dtype=torch.float64))
    optimizers = [torch_optimizer(refs[r], lr=LRS[r], maximize=True) for r in range(2)]
    for _ in range(20):
        grad = torch.randn(2, 17, dtype=torch.float64, generator=gen)
        ascent.step(ours, grad)
        for r in range(2):
            for p, g in zip(refs[r], grad[r].split([12, 5]), strict=True):
                p.grad = g.view_as(p).clone()
            optimizers[r].step()
            for a, b in zip(ours, refs[r], strict=True):
                torch.testing.assert_close(a[r], b.detach(), rtol=1e-14, atol=1e-15)  # a few ulps


def test_plain_ascent_is_theta_plus_lr_times_g() -> None:
    theta = [torch.zeros(2, 2, dtype=torch.float64)]
    lr = torch.tensor([30.0, 2.0], dtype=torch.float64)
    make_ascent(Optimizer.sgd, lr).step(theta, torch.tensor([[1.0, -0.5], [1.0, -0.5]]))
    assert theta[0].tolist() == [[30.0, -15.0], [2.0, -1.0]]


def test_a_dropped_run_takes_its_rate_and_moments_with_it() -> None:
    """After ``select``, the remaining run steps exactly as it would have in the full batch."""
    grads = torch.randn(3, 2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    full, kept = [torch.zeros(2, 4, dtype=torch.float64)], [torch.zeros(2, 4, dtype=torch.float64)]
    a = make_ascent(Optimizer.adam, torch.tensor([0.1, 0.5], dtype=torch.float64))
    b = make_ascent(Optimizer.adam, torch.tensor([0.1, 0.5], dtype=torch.float64))
    for k, g in enumerate(grads):
        a.step(full, g)
        if k == 1:
            b.select(torch.tensor([1]))
            kept[0] = kept[0][1:]
        b.step(kept, g[1:] if k >= 1 else g)
    assert torch.equal(kept[0][0], full[0][1])
