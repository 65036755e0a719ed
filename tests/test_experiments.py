"""Shipped experiment files do what their headers promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgexp.run import run
from tests.helpers import compose, quiet


@pytest.mark.slow
def test_cartpole_experiment_balances_the_pole(tmp_path: Path) -> None:
    """conf/experiment/cartpole.yaml, seed 0, cut to 40 of its 150 iterations: the mean return
    of 100 fresh episodes at θ^40 is >= 475 of 500 (it first reaches 475 at iteration ~21)."""
    cfg = compose([*quiet(["+experiment=cartpole", "train.iters=40"]),
                   "train.eval_episodes=100"])  # fmt: skip
    summary = run(cfg, tmp_path)
    assert summary["status"] == "ok"
    assert summary["return_final"] >= 475
