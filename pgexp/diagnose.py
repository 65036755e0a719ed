"""What a finished run should tell its user although it ended ``ok``."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from pgexp.records import IterationRecord


def J_falls(records: Sequence[IterationRecord]) -> str | None:
    """A warning when J fell after an exact gradient step: a small enough step of exact ascent
    never lowers J, so a fall says the learning rate is too large."""
    values = [(r.iter, r.J) for r in records if r.J is not None]
    falls = [(k, a, b) for (_, a), (k, b) in pairwise(values) if b < a - 1e-12 * max(1, abs(a))]
    if not falls:
        return None
    k, before, after = falls[0]
    return (
        f"J fell after {len(falls)} of {len(values) - 1} steps (first before iteration {k}: "
        f"{before:.6g} -> {after:.6g}): train.lr may be too large"
    )


def frozen(records: Sequence[IterationRecord]) -> str | None:
    """A warning when the exact gradient has been exactly zero to the end: the softmax has
    saturated (probabilities of exactly 0 or 1 in floating point) and no step can move θ."""
    if not records or records[-1].grad_norm != 0.0:
        return None
    since = len(records)
    while since > 1 and records[since - 2].grad_norm == 0.0:
        since -= 1
    return (
        f"the gradient has been exactly 0 since iteration {records[since - 1].iter}: the policy "
        "saturated (probabilities of exactly 0 or 1 in floating point) and can no longer move: "
        "fine at an optimum, otherwise lower train.lr"
    )


def run_warnings(records: Sequence[IterationRecord]) -> list[str]:
    """The warnings of the records of a run whose gradients were exact. (With estimates neither
    sign means much: a noisy step often lowers J, and an estimate is exactly 0 whenever no
    sampled trajectory earned a reward; callers do not ask then.)"""
    return [w for w in (J_falls(records), frozen(records)) if w is not None]
