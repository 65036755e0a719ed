"""pgexp-report: statistics against scipy and closed forms, grouping and skipping on real sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pgexp.report.cli import report
from pgexp.report.runs import collect, group_runs, parse_overrides, swept_keys
from pgexp.report.stats import bootstrap_ci, loglog_slope

PGEXP = str(Path(sys.executable).with_name("pgexp"))


def test_bootstrap_interval_matches_scipy() -> None:
    x = np.random.default_rng(0).exponential(size=25)
    low, high = bootstrap_ci(x)
    ref = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=10_000, random_state=1)
    width = high - low
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.05 * width)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.05 * width)


def test_bootstrap_interval_of_many_normals_is_the_normal_interval() -> None:
    x = np.random.default_rng(1).normal(3.0, 2.0, size=400)
    low, high = bootstrap_ci(x)
    half = 1.959964 * x.std() / np.sqrt(x.size)
    assert (low, high) == pytest.approx((x.mean() - half, x.mean() + half), abs=0.05 * half)
    assert bootstrap_ci([0.7]) == (0.7, 0.7)


def test_loglog_slope_recovers_a_power_law() -> None:
    n = np.array([1, 4, 16, 64, 256])
    slope, intercept = loglog_slope(n, 3.0 * n**-0.5)
    assert slope == pytest.approx(-0.5, abs=1e-12) and 10**intercept == pytest.approx(3.0)


def test_overrides_parse_into_keys() -> None:
    assert parse_overrides(["estimator.N=10", "+experiment=x", "seed=2"]) == {
        "estimator.N": "10",
        "experiment": "x",
        "seed": "2",
    }


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2 N × 3 seeds multirun, with three of its jobs then broken as crashes would."""
    root = tmp_path_factory.mktemp("sweep")
    out = subprocess.run(
        [PGEXP, "-m", "estimator=minibatch", "estimator.N=4,16", "seed=0,1,2", "train.iters=4",
         "logger=none", "train.eval_episodes=10", "train.progress=false",
         f"hydra.sweep.dir={root}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (root / "5" / "summary.json").unlink()  # still running, or killed
    summary = json.loads((root / "4" / "summary.json").read_text())
    (root / "4" / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    return root


def test_report_groups_by_swept_keys_and_skips_broken_jobs(sweep: Path) -> None:
    coll = collect([sweep])
    assert sorted(p.name for p, _ in coll.skipped) == ["4", "5"]
    assert swept_keys(coll.runs) == ["estimator.N"]
    groups = group_runs(coll.runs, ["estimator.N"])
    assert {k: len(v) for k, v in groups.items()} == {("4",): 3, ("16",): 1}
    assert list(groups) == [("4",), ("16",)]  # numeric order, not string order


def test_report_writes_table_plots_and_provenance(sweep: Path, tmp_path: Path) -> None:
    lines = report([sweep], tmp_path)
    csv_rows = (tmp_path / "table.csv").read_text().splitlines()
    assert csv_rows[0].startswith("estimator.N,seeds,J_final,J_final_ci_low,J_final_ci_high")
    assert [r.split(",")[:2] for r in csv_rows[1:]] == [["4", "3"], ["16", "1"]]
    for png in ["curves_vs_iter", "curves_vs_env_steps", "curves_vs_time", "grad_error_vs_N"]:
        assert (tmp_path / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    text = "\n".join(lines)
    assert "Gradient error vs N against the exact gradient: fitted slope" in text
    assert "status 'interrupted'" in text and "no summary.json" in text
    assert "pgexp estimator=minibatch estimator.N=4 seed=0" in text
