"""Shipped experiment files do what their headers promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgexp.records import Status
from pgexp.run import run
from tests.helpers import compose, compose_raw, quiet


@pytest.mark.slow
def test_cartpole_experiment_balances_the_pole(tmp_path: Path) -> None:
    """conf/experiment/cartpole.yaml, seed 0, cut to 40 of its 150 iterations: the mean return
    of 100 fresh episodes at θ^40 is >= 475 of 500 (it first reaches 475 at iteration 23)."""
    cfg = compose([*quiet(["+experiment=cartpole", "train.iters=40"]),
                   "train.eval_episodes=100"])  # fmt: skip
    summary = run(cfg, tmp_path)
    assert summary.status is Status.ok
    assert summary.return_final >= 475


EXPERIMENTS = sorted(
    p.stem for p in (Path(__file__).parents[1] / "conf" / "experiment").glob("*.yaml")
)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_with_each_swept_value(name: str) -> None:
    """The experiment composes and validates, and so does each value of each swept key (a key
    that does not exist fails to compose)."""
    from omegaconf import OmegaConf

    swept = compose_raw([f"+experiment={name}"], with_hydra=True).hydra.sweeper.params
    params = OmegaConf.to_container(swept) if swept is not None else {}
    assert isinstance(params, dict)
    compose([f"+experiment={name}"])  # typed: every value checked
    for key, values in params.items():
        for value in swept_values(f"{key}={values}"):
            compose([f"+experiment={name}", f"{key}={value}"])


def swept_values(override: str) -> list[str]:
    """The values a sweep override takes (``a,b``, ``choice(a, b)``), or the ends of an
    ``interval(a, b)`` (Optuna's ranges, tagged or not)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    parsed = OverridesParser.create().parse_overrides([override])[0]
    sweep = parsed.value()
    if isinstance(sweep, IntervalSweep):
        return [str(sweep.start), str(sweep.end)]
    return list(parsed.sweep_string_iterator())
