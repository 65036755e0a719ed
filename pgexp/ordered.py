"""Sums whose order of addition is fixed, so that a run's numbers never depend on what it is
computed with.

A reduction kernel chooses its order of addition from the shapes it sees: how many runs share
the tensor, how long a padded dimension is, whether the length reaches a vector width, how many
threads split it. Every sum here adds in index order instead, one term after the other:

- :func:`ordered_sum` scans with ``cumsum``, whose CPU kernel adds along the dimension in index
  order for every other index, in the accumulation type (float64 for float32 and float64), on
  one thread per line; trailing zeros (a padded dimension) leave the sum unchanged.
- :class:`RunningSum` continues such a sum across pieces (chunks of trajectories) from a float64
  carry, so that a sum taken piece by piece is the sum taken whole.
- :func:`sum_in_order` adds the slices of a short dimension (actions) one at a time.

On a GPU ``cumsum`` is a parallel scan: sums there repeat to rounding, not bit for bit.
"""

from __future__ import annotations

import torch


def ordered_sum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Σ of ``x`` over ``dim`` (removed), added in index order; zeros for an empty ``dim``."""
    if x.shape[dim] == 0:
        return x.sum(dim)
    return x.cumsum(dim).select(dim, -1)


def ordered_norm(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Euclidean norm over ``dim`` (removed), its squares added in index order."""
    return ordered_sum(x * x, dim).sqrt()


class RunningSum:
    """Σ over dimension 1 of tensors [R, n, ...] given piece by piece, in index order.

    Each piece's terms are added to a float64 carry [R, ...] one after the other, so the total
    of pieces of any sizes equals the total of their concatenation, bit for bit (on the CPU).
    """

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        """Add the terms of ``x`` [R, n, ...] in order of index n."""
        x = x.to(torch.float64)
        if self.total is not None:
            x = torch.cat([self.total.unsqueeze(1), x], dim=1)
        self.total = ordered_sum(x, 1)

    def value(self, dtype: torch.dtype) -> torch.Tensor:
        """The sum so far, in ``dtype`` (raises before the first :meth:`add`)."""
        if self.total is None:
            raise RuntimeError("nothing was added")
        return self.total.to(dtype)


def sum_in_order(x: torch.Tensor, dim: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Σ of ``x`` over a short ``dim``, added one slice at a time in index order, into ``out``
    if given (in ``x``'s dtype: no float64 accumulator, a loop of whole-slice additions)."""
    total = x.select(dim, 0).clone() if out is None else out.copy_(x.select(dim, 0))
    for i in range(1, x.shape[dim]):
        total += x.select(dim, i)
    return total
