"""The update θ ← θ + step(g) of R runs at once: plain gradient ascent (the seed's) or Adam ascent,
each run with its own learning rate.

Written out rather than taken from ``torch.optim``: the updates are a few element-wise lines,
while constructing a ``torch.optim`` optimizer imports torch's compiler stack, seconds of
start-up in every process (every command-line job, every parallel worker; measured in
docs/benchmarks.md). Both updates are
tested to equal ``torch.optim.SGD`` / ``torch.optim.Adam`` with ``maximize=True`` step by step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from pgexp.config import Optimizer


class Ascent(Protocol):
    """Applies one ascent step in place to parameters [R, ...], given flat gradients [R, P]."""

    def step(self, params: Sequence[torch.Tensor], grad: torch.Tensor) -> None: ...

    def select(self, runs: torch.Tensor) -> None:
        """Keep only the runs ``runs`` (int64 indices), in that order."""
        ...

    def run_state(self, row: int) -> dict[str, Any]:
        """Run ``row``'s state (CPU tensors), for a checkpoint."""
        ...

    def load_run_states(self, states: Sequence[dict[str, Any]]) -> None:
        """Take up the states of :meth:`run_state`, one per run in order (same step count)."""
        ...


def split_like(params: Sequence[torch.Tensor], flat: torch.Tensor) -> list[torch.Tensor]:
    """The flat gradients [R, P] cut into views shaped like ``params`` [R, ...], in order."""
    sizes = [p[0].numel() for p in params]
    return [g.view_as(p) for p, g in zip(params, flat.split(sizes, dim=1), strict=True)]


def per_run(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[R] values shaped [R, 1, ...] to broadcast over a parameter [R, ...]."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class SGDAscent:
    """θ_r ← θ_r + lr_r·g_r, exactly."""

    def __init__(self, lr: torch.Tensor) -> None:
        self.lr = lr  # [R]

    @torch.no_grad()
    def step(self, params: Sequence[torch.Tensor], grad: torch.Tensor) -> None:
        for p, g in zip(params, split_like(params, grad), strict=True):
            p.addcmul_(g, per_run(self.lr.to(p), p))

    def select(self, runs: torch.Tensor) -> None:
        self.lr = self.lr[runs]

    def run_state(self, row: int) -> dict[str, Any]:
        return {}

    def load_run_states(self, states: Sequence[dict[str, Any]]) -> None:
        pass


class AdamAscent:
    """Adam (Kingma and Ba, 2015) on −J, with torch's operation order and defaults
    (β = (0.9, 0.999), ε = 1e-8): moments of g, bias-corrected, θ ← θ + lr·m̂/(√v̂ + ε)."""

    def __init__(
        self, lr: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.lr, self.betas, self.eps = lr, betas, eps  # lr: [R]
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
        correction2_sqrt = (1 - beta2**self.steps) ** 0.5
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            step_size = per_run(self.lr.to(p) / (1 - beta1**self.steps), p)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / correction2_sqrt).add_(self.eps)
            p.addcmul_(m / denom, step_size)

    def select(self, runs: torch.Tensor) -> None:
        self.lr = self.lr[runs]
        self.m = [m[runs.to(m.device)] for m in self.m]
        self.v = [v[runs.to(v.device)] for v in self.v]

    def run_state(self, row: int) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "m": [m[row].cpu().clone() for m in self.m],
            "v": [v[row].cpu().clone() for v in self.v],
        }

    def load_run_states(self, states: Sequence[dict[str, Any]]) -> None:
        self.steps = states[0]["steps"]
        device = self.lr.device
        count = len(states[0]["m"])
        self.m = [torch.stack([s["m"][i] for s in states]).to(device) for i in range(count)]
        self.v = [torch.stack([s["v"][i] for s in states]).to(device) for i in range(count)]


def make_ascent(optimizer: Optimizer, lr: torch.Tensor) -> Ascent:
    """The update ``train.optimizer`` names, with step sizes ``train.lr`` [R] (one per run)."""
    match optimizer:
        case Optimizer.sgd:
            return SGDAscent(lr)
        case Optimizer.adam:
            return AdamAscent(lr)
