"""Runs that end ``ok`` but went wrong say so in their summary."""

from __future__ import annotations

from pathlib import Path

from pgexp.diagnose import run_warnings
from pgexp.metrics import read_metrics
from pgexp.records import IterationRecord
from pgexp.run import run
from tests.helpers import compose, quiet


def record(k: int, J: float, grad_norm: float) -> IterationRecord:
    return IterationRecord(k, J, None, grad_norm, None, None, 0, 0, 0.0)


def test_a_fall_of_J_after_an_exact_step_is_reported_with_its_first_place() -> None:
    records = [record(1, 0.5, 1.0), record(2, 0.6, 1.0), record(3, 0.55, 1.0), record(4, 0.7, 1.0)]
    (warning,) = run_warnings(records)
    assert warning.startswith("J fell after 1 of 3 steps (first before iteration 3: 0.6 -> 0.55)")
    assert run_warnings(records[:2] + records[3:]) == []


def test_a_run_of_estimates_gets_no_warning_although_its_J_falls(tmp_path: Path) -> None:
    """A noisy estimate's step may lower J, and is no sign of a too large learning rate."""
    cfg = compose(quiet(["env=garnet", "train.lr=3", "estimator=minibatch", "estimator.N=2",
                         "train.iters=20"]))  # fmt: skip
    summary = run(cfg, tmp_path)
    assert run_warnings(read_metrics(tmp_path / "metrics.jsonl"))  # J did fall
    assert summary.warnings == []


def test_a_saturated_softmax_is_reported_from_the_real_run(tmp_path: Path) -> None:
    """The chain at lr = 1000: after one exact step every probability is 0 or 1 in float64,
    and every later gradient is exactly 0."""
    summary = run(compose(quiet(["env=chain", "estimator=exact", "train.lr=1000",
                                 "train.iters=6"])), tmp_path)  # fmt: skip
    (warning,) = summary.warnings
    assert warning.startswith("the gradient has been exactly 0 since iteration 2: the policy")
    moderate = run(
        compose(quiet(["env=chain", "estimator=exact", "train.iters=6"])), tmp_path / "b"
    )
    assert moderate.warnings == []
