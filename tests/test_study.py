"""pgexp-study: its statistics on draws of known law, its draws against estimates made one by
one, and the command end to end (files, checkpoints, W&B offline, one-line errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pgexp.envs import make_chain
from pgexp.estimators.natural import CG
from pgexp.policies import TabularSoftmax
from pgexp.run import run
from pgexp.study.cli import main
from pgexp.study.estimates import VARIANTS, draw_keys, estimates
from pgexp.study.stats import describe, n_needed
from tests.helpers import compose, quiet


def test_the_statistics_of_gaussian_draws_are_their_closed_forms() -> None:
    """M = 400 draws of N(μ, diag σ²), P = 5: tr Cov and MSE near Σσ² (and + ‖μ − g‖²),
    Hotelling's test accepts μ = g and rejects a shift of half a standard deviation."""
    rng = np.random.default_rng(0)
    sigma, target = np.array([0.5, 1.0, 2.0, 0.1, 1.5]), np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    draws = target + sigma * rng.standard_normal((400, 5))
    row = describe(draws, target)
    total = float((sigma**2).sum())
    assert row["trace_cov"] == pytest.approx(total, rel=0.15)
    assert row["mse"] == pytest.approx(total, rel=0.15)
    assert row["rel_rmse"] == pytest.approx(np.sqrt(row["mse"]) / np.linalg.norm(target))
    assert row["hotelling_p"] > 1e-3
    shifted = describe(draws + 0.5 * sigma, target)
    assert shifted["hotelling_p"] < 1e-6
    assert shifted["mse"] == pytest.approx(total + 0.25 * total, rel=0.15)
    assert -1 <= row["cos_q10"] <= row["cos_q50"] <= row["cos_q90"] <= 1
    assert describe(draws[:4], target)["hotelling_p"] is None  # M ≤ P: untestable


def test_n_needed_is_the_smallest_n_whose_tenth_percentile_of_cosines_clears_0_9() -> None:
    rows = [{"N": 10, "cos_q10": 0.5}, {"N": 1000, "cos_q10": 0.95}, {"N": 100, "cos_q10": 0.91}]
    assert n_needed(rows) == 100
    assert n_needed(rows[:1]) is None


@pytest.mark.parametrize(
    "name", ["reinforce", "rtg_leave_one_out", "optimal_constant", "rtg_value", "natural"]
)
def test_the_m_draws_are_one_batch_and_each_is_the_estimate_it_gets_alone(name: str) -> None:
    mdp = make_chain(5, 0.2, 2.0, 10.0, horizon=6, discount=0.9)
    M, variant = 6, VARIANTS[name]
    gen = [torch.Generator().manual_seed(3) for _ in range(M)]
    batch = TabularSoftmax(mdp.n_states, mdp.n_actions, mdp.n_policy_states, generators=gen)
    keys = draw_keys(7, 2, M, torch.device("cpu"))
    together = estimates(mdp, batch, variant, 40, keys, CG(10, 1e-3))
    one = TabularSoftmax(mdp.n_states, mdp.n_actions, mdp.n_policy_states)
    for m in range(M):
        assert torch.equal(
            estimates(mdp, one, variant, 40, keys[m : m + 1], CG(10, 1e-3))[0], together[m]
        )
    assert not torch.equal(together[0], together[1])  # independent draws


def test_the_command_writes_its_table_figures_and_checkpoint_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run(compose(quiet(["env=chain", "train.iters=5", "train.checkpoint_every=5"])), run_dir)
    out = tmp_path / "study"
    main(["env=chain", "logger=none", "--n", "2", "20", "200", "--draws", "30",
          "--checkpoint", str(run_dir / "checkpoint.pt"), "--out", str(out)])  # fmt: skip
    data = json.loads((out / "study.json").read_text())
    rows = data["rows"]
    assert {r["theta"] for r in rows} == {"θ0", str(run_dir / "checkpoint.pt")}
    assert {r["estimator"] for r in rows} == set(VARIANTS)
    assert len(rows) == 2 * len(VARIANTS) * 3
    assert all(r["target"] == ("exact natural" if r["estimator"] == "natural" else "exact")
               for r in rows)  # fmt: skip
    before, after = (next(r for r in rows if r["theta"] == t and r["N"] == 200
                          and r["estimator"] == "reinforce")["target_norm"]
                     for t in ("θ0", str(run_dir / "checkpoint.pt")))  # fmt: skip
    assert before != after  # the checkpoint's θ is another point
    for png in ["error_vs_N", "cosine_vs_N", "variance", "error_vs_N_1"]:
        assert (out / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "| θ0 | reinforce | 2 |" in printed and "N needed for cos ≥ 0.9" in printed
    for row in (r for r in rows if r["estimator"] != "natural" and r["N"] == 200):
        assert row["hotelling_p"] is None or row["hotelling_p"] > 1e-4  # unbiased estimators


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["env=cartpole", "policy=mlp", "--estimators", "reinforce", "rtg_value"],
            "--estimators rtg_value needs",
        ),
        (["env=chain", "--checkpoint", "missing.pt"], "--checkpoint"),
        (["env=nowhere"], "overrides"),
    ],
)
def test_a_mistake_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["logger=none", *args, "--n", "2", "--draws", "2", "--out", str(tmp_path)])
    text = str(stopped.value)
    assert text.startswith(f"pgexp-study: error: {message}") and "\n" not in text


def test_a_network_studies_its_natural_gradient_against_a_large_n_natural_estimate(
    tmp_path: Path,
) -> None:
    main(["env=cartpole", "policy=mlp", "env.horizon=20", "logger=none", "--n", "4", "32",
          "--draws", "6", "--estimators", "reinforce", "natural", "--reference-n", "256",
          "--out", str(tmp_path)])  # fmt: skip
    rows = json.loads((tmp_path / "study.json").read_text())["rows"]
    kinds = {r["estimator"]: r["target"] for r in rows}
    assert kinds == {"reinforce": "estimate (N=256)", "natural": "estimate natural (N=256)"}
    natural = {r["N"]: r["rel_rmse"] for r in rows if r["estimator"] == "natural"}
    assert natural[32] < natural[4]  # closer to the reference with more trajectories


def test_wandb_offline_records_the_study(tmp_path: Path) -> None:
    main(["env=bandit", "logger.mode=offline", "--n", "2", "--draws", "3",
          "--estimators", "reinforce", "--out", str(tmp_path)])  # fmt: skip
    assert list((tmp_path / "wandb").glob("offline-run-*"))
