"""Initial states drawn uniformly from a centred box, as gymnasium's classic-control envs do."""

from __future__ import annotations

import torch


class UniformReset:
    """Base of the torch envs: ``reset`` draws coordinate i uniformly in [-h_i, h_i).

    Subclasses set ``reset_half_width`` (h, one entry per state coordinate).
    """

    reset_half_width: tuple[float, ...]

    @classmethod
    def reset(
        cls,
        n: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """[n, len(reset_half_width)] initial states."""
        half = torch.tensor(cls.reset_half_width, device=device, dtype=dtype)
        u = torch.rand((n, half.numel()), generator=generator, device=device, dtype=dtype)
        return (2 * u - 1) * half
