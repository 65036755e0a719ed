"""Initial states drawn uniformly from a centred box, as gymnasium's classic-control envs do."""

from __future__ import annotations

import torch


class UniformReset:
    """Base of the torch envs: ``reset`` maps one uniform per coordinate i to [-h_i, h_i).

    Subclasses set ``reset_half_width`` (h, one entry per state coordinate).
    """

    reset_half_width: tuple[float, ...]

    @classmethod
    def reset(cls, u: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """[..., state_dim] initial states from uniforms ``u`` [..., state_dim] in (0, 1)."""
        half = torch.tensor(cls.reset_half_width, device=u.device, dtype=torch.float64)
        return ((2 * u - 1) * half).to(dtype)
