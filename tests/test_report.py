"""pgexp-report: statistics against scipy and closed forms, grouping and skipping on real sweeps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from pgexp.markdown import table
from pgexp.report.cli import main, report
from pgexp.report.frontier import climb, measured, path, reach, reach_level
from pgexp.report.runs import collect, config_values, group_runs, swept_keys
from pgexp.report.stats import loglog_slope, t_interval
from pgexp.run import run
from tests.helpers import compose, compose_raw, quiet


def test_t_interval_is_the_closed_form_and_covers_95_percent_at_three_seeds() -> None:
    low, high = t_interval([1.0, 2.0, 3.0])  # mean 2, s = 1
    t = 0.95 / np.sqrt(2 * 0.975 * 0.025)  # the 0.975 quantile of Student's t, 2 d.o.f.
    half = t / np.sqrt(3)
    assert (low, high) == pytest.approx((2 - half, 2 + half), rel=1e-12)
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(2000, 3))
    covered = [lo <= 5.0 <= hi for lo, hi in map(t_interval, x)]  # type: ignore[misc]
    assert abs(np.mean(covered) - 0.95) < 4 * np.sqrt(0.95 * 0.05 / 2000)
    assert t_interval([0.7]) is None


def test_loglog_slope_recovers_a_power_law() -> None:
    n = np.array([1, 4, 16, 64, 256])
    slope, intercept = loglog_slope(n, 3.0 * n**-0.5)
    assert slope == pytest.approx(-0.5, abs=1e-12) and 10**intercept == pytest.approx(3.0)


def test_a_markdown_table_keeps_its_columns_and_refuses_a_row_that_does_not_fit() -> None:
    text = table(["a", "b", "c"], [[1, "x", 2.5], ["–", "", "y"]], "lr")
    lines = ["| a | b | c |", "|---|---:|---|", "| 1 | x | 2.5 |", "| – |  | y |"]
    assert text.splitlines() == lines
    with pytest.raises(ValueError, match="a row of 2 cells under 3 columns"):
        table(["a", "b", "c"], [[1, 2]])
    with pytest.raises(ValueError, match="one of l/r"):
        table(["a"], [], "c")


def test_config_values_flatten_a_typed_config_with_each_option_named_by_its_group() -> None:
    values = config_values(compose(quiet(["env=garnet", "estimator=minibatch", "seed=3"])))
    assert values["env"] == "garnet" and values["estimator"] == "minibatch"
    assert values["estimator.N"] == "100" and values["estimator.baseline"] == "none"
    assert values["seed"] == "3" and "env.name" not in values


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep of N = 4 (3 seeds) and N = 16 (4 seeds) laid out as Hydra's basic launcher does
    (jobs run in-process, with the ``.hydra/`` files Hydra writes), then three N = 16 jobs
    broken as crashes would."""
    root = tmp_path_factory.mktemp("sweep")
    jobs = [(4, s) for s in range(3)] + [(16, s) for s in range(4)]
    for job, (n, seed) in enumerate(jobs):
        overrides = ["env.horizon=30", "estimator=minibatch", f"estimator.N={n}", f"seed={seed}"]
        raw = compose_raw([*quiet(overrides), "train.iters=4", "train.eval_episodes=10"])
        job_dir = root / str(job)
        run(OmegaConf.to_object(raw), job_dir, overrides=overrides)  # type: ignore[arg-type]
        (job_dir / ".hydra").mkdir()
        OmegaConf.save(raw, job_dir / ".hydra" / "config.yaml")
        OmegaConf.save(OmegaConf.create(overrides), job_dir / ".hydra" / "overrides.yaml")
    (root / "5" / "summary.json").unlink()  # still running, or killed
    summary = json.loads((root / "4" / "summary.json").read_text())
    (root / "4" / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    (root / "6" / "summary.json").unlink()  # failed before its first iteration
    (root / "6" / "metrics.jsonl").unlink()
    return root


def test_report_groups_by_swept_keys_and_skips_broken_jobs(sweep: Path) -> None:
    coll = collect([sweep])
    assert sorted(p.name for p, _ in coll.skipped) == ["4", "5", "6"]
    assert swept_keys(coll.runs) == ["estimator.N"]
    groups = group_runs(coll.runs, ["estimator.N"])
    assert {k: len(v) for k, v in groups.items()} == {("4",): 3, ("16",): 1}
    assert list(groups) == [("4",), ("16",)]  # numeric order, not string order


def test_report_writes_table_plots_and_provenance(sweep: Path, tmp_path: Path) -> None:
    lines = report([sweep], tmp_path)
    csv_rows = (tmp_path / "table.csv").read_text().splitlines()
    assert csv_rows[0].startswith("estimator.N,n,J_final,J_final_ci_low,J_final_ci_high")
    assert [r.split(",")[:2] for r in csv_rows[1:]] == [["4", "3"], ["16", "1"]]
    assert csv_rows[2].split(",")[3:5] == ["", ""]  # no interval from one seed
    figures = ["curves_vs_iter", "curves_vs_env_steps", "curves_vs_time", "gap_vs_iter", "frontier"]
    for png in [*figures, "grad_error_vs_N"]:
        assert (tmp_path / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    text = "\n".join(lines)
    assert "Gradient error vs N against the exact gradient: fitted slope" in text
    assert "| estimator.N=4 | " in text and "of the gap closed: env steps, s (seeds)" in text
    assert "status 'interrupted'" in text
    assert "5: no summary.json: still running, or killed after 4 iterations" in text
    assert "6: no metrics.jsonl nor summary.json: it failed before its first iteration" in text
    assert "pgexp env.horizon=30 estimator=minibatch estimator.N=4 seed=0" in text


def test_the_frontier_path_starts_free_and_ends_at_the_summary(sweep: Path) -> None:
    """θ⁰ costs nothing; θ^j costs what iterations 1..j spent; θ^K's gap is J* − J_final; a
    fraction of the gap is reached where the gap first falls to what is left of it."""
    for job in collect([sweep]).runs:
        points = path(job)
        assert points[0] == (job.metrics[0].gap, 0, 0.0)
        assert [p[1] for p in points[1:]] == [r.env_steps for r in job.metrics]
        assert points[-1][0] == job.summary.J_star - job.summary.J_final
        for fraction in (0.02, 0.5):
            first = next((p for p in points if p[0] <= (1 - fraction) * points[0][0]), None)
            assert reach(points, fraction) == (first[1:] if first else None)
        assert reach(points, 0.0) == (0, 0.0)


def test_levels_cost_what_the_first_theta_that_reached_them_cost(
    sweep: Path, tmp_path: Path
) -> None:
    """J(θ^j) is in the record of iteration j + 1 and J(θ^K) in the summary; θ^j cost what
    iterations 1..j spent. A level below J(θ⁰) costs nothing; one above every J is not reached."""
    runs = collect([sweep]).runs
    assert measured(runs) == "J"
    for job in runs:
        values = [*(r.J for r in job.metrics), job.summary.J_final]
        points = climb(job, "J")
        assert [p[0] for p in points] == values
        middle = sorted(values)[len(values) // 2]
        j = next(i for i, v in enumerate(values) if v is not None and v >= middle)
        assert reach_level(points, middle) == points[j][1:]
        before = job.metrics[j - 1] if j else None
        assert points[j][1:] == ((before.env_steps, before.time_s) if before else (0, 0.0))
    lines = report([sweep], tmp_path, levels=[0.0, 2.0])
    text = "\n".join(lines)
    assert "Compute to reach each level of J (median over the seeds that did):" in text
    assert "| J ≥ 0: env steps, s (seeds) | J ≥ 2: env steps, s (seeds) |" in text
    assert "| estimator.N=4 | 0, 0 (3/3) | not reached (0/3) |" in text


def test_levels_of_a_continuous_env_are_levels_of_the_sampled_return(tmp_path: Path) -> None:
    overrides = ["env=cartpole", "env.horizon=30", "policy=mlp", "estimator=minibatch",
                 "estimator.N=8", "train.iters=3", "train.eval_episodes=0"]  # fmt: skip
    raw = compose_raw(quiet(overrides))
    run(OmegaConf.to_object(raw), tmp_path / "0", overrides=overrides)  # type: ignore[arg-type]
    (tmp_path / "0" / ".hydra").mkdir()
    OmegaConf.save(raw, tmp_path / "0" / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), tmp_path / "0" / ".hydra" / "overrides.yaml")
    (job,) = collect([tmp_path]).runs
    assert measured([job]) == "return_mean"
    points = climb(job, "return_mean")  # no sampled return at θ^K
    assert [p[0] for p in points] == [r.return_mean for r in job.metrics]
    assert reach_level(points, 0.0) == (0, 0.0) and reach_level(points, 1e9) is None
    text = "\n".join(report([tmp_path], tmp_path / "report", levels=[1e9]))
    assert "each level of the mean sampled return" in text and "not reached (0/1)" in text


def copy_of_job_0(sweep: Path, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A copy of job 0 to damage: the copy's sweep folder, its metrics file and its lines."""
    copy = tmp_path / "sweep"
    shutil.copytree(sweep / "0", copy / "0")
    metrics = copy / "0" / "metrics.jsonl"
    return copy, metrics, metrics.read_text().splitlines()


def test_a_line_cut_short_keeps_the_records_before_it(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, metrics, whole = copy_of_job_0(sweep, tmp_path)
    metrics.write_text("\n".join(whole[:-1]) + "\n" + whole[-1][:25])  # killed mid-write
    lines = report([copy, tmp_path / "nowhere"], tmp_path / "out")
    (run,) = collect([copy]).runs
    assert len(run.metrics) == len(whole) - 1
    err = capsys.readouterr().err
    assert f"pgexp-report: warning: {metrics}: line {len(whole)} is not a record" in err
    assert f"kept the {len(whole) - 1} records before it, dropped 1 line" in err
    assert any(line.startswith(f"- {metrics}: line") for line in lines)


def test_a_missing_path_is_left_out_with_a_warning(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(tmp_path / "nowhere"), str(sweep), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert f"pgexp-report: warning: {tmp_path / 'nowhere'} is not a directory: left out" in (
        captured.err
    )
    assert "| estimator.N | n |" in captured.out
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nowhere")])


def test_a_gap_in_the_records_is_reported(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, metrics, lines = copy_of_job_0(sweep, tmp_path)
    metrics.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # iteration 2 lost
    report([copy], tmp_path / "out")
    assert (
        f"pgexp-report: warning: {metrics}: holds iterations 1, 3..4, not 1..4 as its summary "
        "says: iterations are missing or repeated"
    ) in capsys.readouterr().err
