"""train.reference_N: an estimated reference gradient, checked against the exact one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgexp.errors import ConfigError
from pgexp.metrics import read_metrics
from pgexp.run import run
from tests.helpers import compose, quiet

CHAIN_RUN = [
    "env=chain",
    "policy.init=normal",
    "estimator=minibatch",
    "estimator.N=8",
    "train.lr=0.01",
    "train.iters=3",
]


def test_estimated_reference_agrees_with_the_exact_one(tmp_path: Path) -> None:
    """Same seed, same training stream: the error of each N=8 estimate g, measured against the
    exact gradient r (a) and against a 40 000-trajectory estimate r̂ (b), agrees to within what
    ε = ‖r̂ − r‖/‖r‖ allows: |b − a| ≤ ε(1 + a)/(1 − ε) and |cos_b − cos_a| ≤ ε/(1 − ε).
    ε ≤ 0.05 is checked (it is about 0.01 here)."""
    eps = 0.05
    exact = run(compose(quiet(CHAIN_RUN)), tmp_path / "exact")
    estimated_overrides = [*CHAIN_RUN, "train.exact_metrics=false", "train.reference_N=40000",
                           "train.reference_every=1"]  # fmt: skip
    estimated = run(compose(quiet(estimated_overrides)), tmp_path / "estimated")
    assert (exact.grad_reference, estimated.grad_reference) == ("exact", "estimate (N=40000)")
    for a, b in zip(
        read_metrics(tmp_path / "exact" / "metrics.jsonl"),
        read_metrics(tmp_path / "estimated" / "metrics.jsonl"),
        strict=True,
    ):
        # the reference draws from its own stream: training is bit for bit the same
        assert a.grad_norm == b.grad_norm and a.return_mean == b.return_mean
        assert b.J is None
        err_a, err_b = a.grad_rel_err, b.grad_rel_err
        assert abs(err_b - err_a) <= eps * (1 + err_a) / (1 - eps)
        assert abs(b.grad_cos - a.grad_cos) <= eps / (1 - eps)


def test_reference_every_leaves_the_other_iterations_empty(tmp_path: Path) -> None:
    overrides = [
        "env=cartpole",
        "env.horizon=50",
        "policy=mlp",
        "estimator=minibatch",
        "estimator.N=8",
        "train.optimizer=adam",
        "train.lr=0.001",
        "train.iters=5",
        "train.reference_N=64",
        "train.reference_every=2",
    ]
    run(compose(quiet(overrides)), tmp_path)
    records = read_metrics(tmp_path / "metrics.jsonl")
    measured = [r.iter for r in records if r.grad_cos is not None]
    assert measured == [1, 3, 5]
    # the reference's rollouts are diagnostics: env_steps counts training steps only
    assert records[-1].trajectories == 5 * 8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.reference_N=100"], "train.reference_N is for envs without an exact gradient"),
        (["train.reference_N=1"], "train.reference_N must be 0 .off. or >= 2"),
        (["train.reference_every=0"], "train.reference_every must be an integer >= 1"),
    ],
)
def test_bad_reference_settings_are_config_errors(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        run(compose(quiet([*CHAIN_RUN, *overrides])), tmp_path)
    assert not tmp_path.joinpath("metrics.jsonl").exists()


def test_a_natural_run_measures_itself_against_a_natural_estimate(tmp_path: Path) -> None:
    """CartPole, MLP, natural gradient: the reference is the natural gradient of 512
    trajectories, and a batch of 64 points along it (cos > 0) at every iteration it is drawn."""
    overrides = ["env=cartpole", "env.horizon=40", "policy=mlp", "estimator=minibatch",
                 "estimator.N=64", "estimator.natural=true", "train.iters=2",
                 "train.reference_N=512", "train.reference_every=1",
                 "train.eval_episodes=0"]  # fmt: skip
    summary = run(compose(quiet(overrides)), tmp_path)
    assert summary.grad_reference == "estimate natural (N=512)"
    cosines = [rec.grad_cos for rec in read_metrics(tmp_path / "metrics.jsonl")]
    assert all(c is not None and c > 0 for c in cosines), cosines
