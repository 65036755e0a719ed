"""pgexp's ascent updates equal torch.optim's, step for step."""

from __future__ import annotations

import pytest
import torch

from pgexp.config import Optimizer
from pgexp.optim import make_ascent


@pytest.mark.parametrize(
    ("name", "torch_optimizer"),
    [(Optimizer.sgd, torch.optim.SGD), (Optimizer.adam, torch.optim.Adam)],
)
def test_updates_equal_torch_optim_with_maximize(name: Optimizer, torch_optimizer: type) -> None:
    gen = torch.Generator().manual_seed(0)
    ours = [
        torch.randn(3, 4, dtype=torch.float64, generator=gen),
        torch.randn(5, dtype=torch.float64, generator=gen),
    ]
    ref = [p.clone().requires_grad_() for p in ours]
    ascent = make_ascent(name, lr=0.3)
    optimizer = torch_optimizer(ref, lr=0.3, maximize=True)
    for _ in range(20):
        grad = torch.randn(17, dtype=torch.float64, generator=gen)
        ascent.step(ours, grad)
        for p, g in zip(ref, grad.split([12, 5]), strict=True):
            p.grad = g.view_as(p).clone()
        optimizer.step()
        for a, b in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b.detach(), rtol=1e-15, atol=0)


def test_plain_ascent_is_theta_plus_lr_times_g() -> None:
    theta = [torch.zeros(2, dtype=torch.float64)]
    make_ascent(Optimizer.sgd, lr=30.0).step(theta, torch.tensor([1.0, -0.5], dtype=torch.float64))
    assert theta[0].tolist() == [30.0, -15.0]
