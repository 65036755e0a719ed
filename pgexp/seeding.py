"""Explicit random-number streams of a run, all derived from the one ``seed``."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch


def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@dataclass
class RngStreams:
    """Independent generators for the parts of a run that draw random numbers.

    Attributes:
        init: CPU generator for initial parameters.
        sample: generator on the run's device for training rollouts.
        eval: generator on the run's device for the final evaluation rollouts.
        reference: generator on the run's device for the rollouts of ``train.reference_N``.
    """

    init: torch.Generator
    sample: torch.Generator
    eval: torch.Generator
    reference: torch.Generator

    @classmethod
    def from_seed(cls, seed: int, device: torch.device) -> RngStreams:
        """Seed python, numpy and torch globally and derive one stream per use from ``seed``."""
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        # generate_state is prefix-stable: adding a stream at the end changes none before it
        children = np.random.SeedSequence(seed).generate_state(4, dtype=np.uint64)
        init, sample, evaluation, reference = (int(c) & (2**63 - 1) for c in children)
        cpu = torch.device("cpu")
        return cls(
            _generator(init, cpu),
            _generator(sample, device),
            _generator(evaluation, device),
            _generator(reference, device),
        )
