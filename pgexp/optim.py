"""The update θ ← θ + step(g): plain gradient ascent (the seed's) or Adam ascent.

Written out rather than taken from ``torch.optim``: the updates are a few element-wise lines,
while constructing a ``torch.optim`` optimizer imports torch's compiler stack, about 2 s of
start-up in every process (every command-line job, every parallel worker). Both updates are
tested to equal ``torch.optim.SGD`` / ``torch.optim.Adam`` with ``maximize=True`` step by step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from pgexp.config import Optimizer


class Ascent(Protocol):
    """Applies one ascent step to parameters in place, given the flat gradient [P]."""

    def step(self, params: Sequence[torch.Tensor], grad: torch.Tensor) -> None: ...


def split_like(params: Sequence[torch.Tensor], flat: torch.Tensor) -> list[torch.Tensor]:
    """The flat vector [P] cut into views shaped like ``params``, in order."""
    sizes = [p.numel() for p in params]
    return [g.view_as(p) for p, g in zip(params, flat.split(sizes), strict=True)]


class SGDAscent:
    """θ ← θ + lr·g, exactly."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    @torch.no_grad()
    def step(self, params: Sequence[torch.Tensor], grad: torch.Tensor) -> None:
        for p, g in zip(params, split_like(params, grad), strict=True):
            p.add_(g, alpha=self.lr)


class AdamAscent:
    """Adam (Kingma and Ba, 2015) on −J, with torch's operation order and defaults
    (β = (0.9, 0.999), ε = 1e-8): moments of g, bias-corrected, θ ← θ + lr·m̂/(√v̂ + ε)."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = 0
        self.m: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []

    @torch.no_grad()
    def step(self, params: Sequence[torch.Tensor], grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        grads = split_like(params, grad)
        if not self.m:
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        correction2_sqrt = (1 - beta2**self.steps) ** 0.5
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / correction2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=step_size)


def make_ascent(optimizer: Optimizer, lr: float) -> Ascent:
    """The update ``train.optimizer`` names, with step size ``train.lr``."""
    match optimizer:
        case Optimizer.sgd:
            return SGDAscent(lr)
        case Optimizer.adam:
            return AdamAscent(lr)
