"""What a run's ``seed`` determines: its initial parameters and its random-number keys.

Sampling draws counter-based uniforms (:mod:`pgexp.counter_rng`) from keys derived from the seed;
the initial parameters come from a torch CPU generator seeded by the first child of
``numpy.random.SeedSequence(seed)``. Neither depends on which other runs share a batch, and
nothing in pgexp draws from the global random state of python, numpy or torch.
"""

from __future__ import annotations

import numpy as np
import torch


def init_generator(seed: int) -> torch.Generator:
    """The CPU generator of a run's initial parameters (it draws nothing else)."""
    child = np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(child) & (2**63 - 1))
