"""Batching never changes what a seed computes: a job trained with others writes, timing keys
aside, exactly the metrics and summary it writes alone, whoever its companions are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgexp.job import Job, batch_key
from pgexp.metrics import read_metrics
from pgexp.records import METRIC_KEYS, Status
from pgexp.run import run_batch
from tests.helpers import compose, quiet

TIMING = {"time_s"}
SUMMARY_KEYS = ("J_final", "return_final", "eval_episodes", "iters", "env_steps",
                "trajectories", "status", "seed", "grad_reference")  # fmt: skip

CASES = {
    "tabular minibatch": ["estimator=minibatch", "estimator.N=20", "train.iters=4",
                          "estimator.baseline=leave_one_out", "estimator.returns=reward_to_go"],
    "tabular exact": ["estimator=exact", "train.iters=4", "env.horizon=20"],
    "linear features, adam": ["policy=linear_softmax", "policy.features=random",
                              "estimator=minibatch", "estimator.N=200", "train.iters=3",
                              "train.optimizer=adam"],
    "mlp cartpole, adam": ["env=cartpole", "env.horizon=100", "policy=mlp", "policy.hidden=[16]",
                           "estimator=minibatch", "estimator.N=8", "train.iters=3",
                           "train.optimizer=adam"],
    "gaussian pendulum": ["env=pendulum", "env.horizon=30", "policy=gaussian",
                          "policy.hidden=[16]", "estimator=minibatch", "estimator.N=6",
                          "train.iters=3", "train.optimizer=adam", "train.reference_N=4",
                          "train.reference_every=2"],
}  # fmt: skip


def jobs(root: Path, base: list[str], seeds_lrs: list[tuple[int, float]], tag: str) -> list[Job]:
    return [
        Job(
            compose(quiet([*base, f"seed={s}", f"train.lr={lr}", "train.eval_episodes=150"])),
            root / f"{tag}-{s}-{lr}",
        )
        for s, lr in seeds_lrs
    ]


def outputs(run_dir: Path) -> tuple[list[dict], dict]:
    """The metrics (timing keys dropped) and the summary's run-dependent keys of a run."""
    records = [
        {k: getattr(r, k) for k in METRIC_KEYS if k not in TIMING}
        for r in read_metrics(run_dir / "metrics.jsonl")
    ]
    summary = json.loads((run_dir / "summary.json").read_text())
    return records, {k: summary[k] for k in SUMMARY_KEYS}


def learning_rates(case: str) -> tuple[float, float]:
    return (0.01, 0.03) if "adam" in case or "gaussian" in case else (0.5, 2.0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_job_of_a_batch_computes_what_it_computes_alone(case: str, tmp_path: Path) -> None:
    lo, hi = learning_rates(case)
    batch = jobs(tmp_path, CASES[case], [(0, lo), (1, lo), (0, hi), (7, hi)], "batch")
    run_batch(batch)
    for job in batch:
        alone = Job(job.cfg, tmp_path / f"alone-{job.run_dir.name}")
        run_batch([alone])
        assert outputs(job.run_dir) == outputs(alone.run_dir), job.run_dir.name
    # and the batch is not trivially uniform: seeds and rates made a difference
    assert outputs(batch[0].run_dir) != outputs(batch[1].run_dir)
    assert outputs(batch[0].run_dir) != outputs(batch[2].run_dir)
    assert outputs(batch[0].run_dir)[1]["eval_episodes"] == 150  # in 2 chunks of evaluation


def test_a_jobs_metrics_do_not_depend_on_its_companions(tmp_path: Path) -> None:
    base = CASES["mlp cartpole, adam"]
    first = jobs(tmp_path, base, [(5, 0.01), (1, 0.02), (2, 0.05)], "a")
    second = jobs(tmp_path, base, [(9, 0.1), (3, 0.003), (5, 0.01)], "b")
    run_batch(first)
    run_batch(second)
    assert outputs(first[0].run_dir) == outputs(second[2].run_dir)


def test_a_diverging_job_stops_alone(tmp_path: Path) -> None:
    base = ["env=bandit", "env.rewards=[1e10,0]", "estimator=minibatch", "estimator.N=4",
            "train.iters=6"]  # fmt: skip
    batch = jobs(tmp_path, base, [(0, 1e-12), (0, 1e300), (1, 1e-12)], "batch")
    summaries = run_batch(batch)
    assert [s.status for s in summaries] == [Status.ok, Status.diverged, Status.ok]
    assert summaries[1].iters < 6 == summaries[0].iters == summaries[2].iters
    alone = Job(batch[2].cfg, tmp_path / "alone")
    run_batch([alone])
    assert outputs(batch[2].run_dir) == outputs(alone.run_dir)


def test_only_jobs_differing_in_seed_rate_or_logger_share_a_batch(tmp_path: Path) -> None:
    a = compose(quiet(["estimator=minibatch", "seed=1", "train.lr=0.1", "logger=wandb"]))
    b = compose(quiet(["estimator=minibatch", "seed=2", "train.lr=3"]))
    c = compose(quiet(["estimator=minibatch", "estimator.N=7"]))
    assert batch_key(a) == batch_key(b) != batch_key(c)
    with pytest.raises(ValueError, match=r"differ only in seed, train\.lr and logger"):
        run_batch([Job(a, tmp_path / "a"), Job(c, tmp_path / "c")])
