"""Runs from typed configs: build the pieces once, train R runs as one batch, and write each
run's directory. A single run is a batch of one."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from tqdm import tqdm

from pgexp.checkpoint import Checkpoint, fingerprint, read_hydra_files
from pgexp.compiled import compile_policy
from pgexp.config import (
    Config,
    ExactEstimatorConfig,
    ExactMethod,
    MinibatchEstimatorConfig,
)
from pgexp.counter_rng import Stream, seed_keys, stream_keys
from pgexp.diagnose import run_warnings
from pgexp.envs import Env, make_env
from pgexp.errors import ConfigError
from pgexp.estimators import (
    ExactGradient,
    GradientEstimator,
    cg_of,
    dp_objective,
    make_estimator,
    optimal_objective,
)
from pgexp.estimators.reference import estimated_reference, reference_name
from pgexp.hardware import apply_hardware, device_description
from pgexp.interrupt import SignalGuard
from pgexp.job import Job, batch_key
from pgexp.metrics import MetricsWriter, read_metrics, write_summary
from pgexp.optim import make_ascent
from pgexp.ordered import RunningSum
from pgexp.policies import Policy, TablePolicy, make_policy, policy_env
from pgexp.provenance import provenance
from pgexp.records import Status, Summary, to_json
from pgexp.resources import EVAL_CHUNK, check_env_fits, check_fits, check_unrolled_fits
from pgexp.resume import Finished, claim, clear, keep_records
from pgexp.rollout import TrajectorySampler, make_sampler
from pgexp.rundir_lock import RunDirLock
from pgexp.seeding import init_generator
from pgexp.tracking import make_tracker
from pgexp.training import Gradients, Reference, RunBatch, RunOutput, train

Start = Checkpoint | Finished | None
"""How a job starts: from its checkpoint, not at all (finished before), or afresh."""


def eval_episodes(cfg: Config) -> int:
    """``train.eval_episodes``, with null resolved: ``estimator.N`` or 100 (exact)."""
    if cfg.train.eval_episodes is not None:
        return cfg.train.eval_episodes
    return cfg.estimator.N if isinstance(cfg.estimator, MinibatchEstimatorConfig) else 100


def evaluate(
    sampler: TrajectorySampler,
    policy: Policy,
    episodes: int,
    keys: torch.Tensor,
    progress: bool,
) -> list[float]:
    """[R] mean return of ``episodes`` fresh trajectories per run, sampled ``EVAL_CHUNK`` at a
    time and summed in trajectory order (trajectory i draws the same numbers whatever the
    chunking)."""
    total = RunningSum()
    with tqdm(total=episodes, desc="eval", unit="ep", disable=not progress, leave=False) as bar:
        for start in range(0, episodes, EVAL_CHUNK):
            n = min(EVAL_CHUNK, episodes - start)
            total.add(sampler.sample(policy, keys, n, first=start).returns(sampler.discount))
            bar.update(n)
    return (total.value(torch.float64) / episodes).tolist()


def final_values(
    env: Env,
    policy: Policy,
    episodes: int,
    keys: torch.Tensor,
    progress: bool,
) -> tuple[list[float | None], list[float | None]]:
    """Per run: J(θ^K) (finite MDPs only) and the mean return of ``episodes`` fresh trajectories
    at θ^K (None for 0 episodes); ``keys`` [R, 2] are the runs' evaluation keys."""
    R = keys.shape[0]
    J: list[float | None] = [None] * R
    mdp = env.finite_mdp
    if mdp is not None and isinstance(policy, TablePolicy):
        with torch.no_grad():
            J = list(dp_objective(mdp, policy).tolist())
    if episodes == 0:
        return J, [None] * R
    return J, list(evaluate(make_sampler(env), policy, episodes, keys, progress))


def make_reference(cfg: Config, env: Env, estimator: GradientEstimator) -> Reference | None:
    """The reference gradient of ``grad_cos``/``grad_rel_err``, if any.

    On a finite MDP with ``train.exact_metrics`` it is the exact dp gradient at every iteration
    (the estimator itself when that is exact dp); elsewhere, with ``train.reference_N > 0``, an
    unbiased mini-batch estimate (reward-to-go returns, leave-one-out baseline) drawn from its own
    random stream, every ``train.reference_every`` iterations. Each is the natural gradient when
    the estimator is (the large-N natural estimate is consistent, not unbiased).
    """
    train_cfg, mdp = cfg.train, env.finite_mdp
    if train_cfg.exact_metrics and mdp is not None:
        if train_cfg.reference_N > 0:
            raise ConfigError(
                "train.reference_N",
                f"is for envs without an exact gradient; env={cfg.env.name} has one "
                "(train.exact_metrics=true): set train.exact_metrics=false to use an estimate",
            )
        natural = cfg.estimator.natural
        is_dp = isinstance(estimator, ExactGradient) and estimator.method is ExactMethod.dp
        exact = estimator if is_dp else ExactGradient(mdp, natural=natural, cg=cg_of(cfg.estimator))
        return Reference(exact, 1, reference_name(natural))
    if train_cfg.reference_N > 0:
        n, natural = train_cfg.reference_N, cfg.estimator.natural
        reference = estimated_reference(env, n, natural, cg_of(cfg.estimator))
        return Reference(reference, train_cfg.reference_every, reference_name(natural, n))
    return None


def run(
    cfg: Config,
    run_dir: Path,
    *,
    name: str = "pgexp",
    group: str | None = None,
    overrides: list[str] | None = None,
    resolved: dict[str, Any] | None = None,
) -> Summary:
    """Train as ``cfg`` says and write ``metrics.jsonl`` and ``summary.json`` into ``run_dir``
    (a batch of one: :func:`run_batch`). Returns the summary."""
    job = Job(cfg, run_dir, name, group, overrides or [], resolved or {})
    return run_batch([job])[0]


def run_batch(jobs: Sequence[Job]) -> list[Summary]:
    """Train the jobs as one batch and write each job's ``metrics.jsonl``, ``summary.json`` and
    ``checkpoint.pt``.

    The jobs must share :func:`batch_key`. Every job computes what it would compute alone. A job
    whose run directory holds an unfinished run of its config continues it (jobs that continue
    from different iterations train one after the other). Returns the summaries in job order.
    Bad config values and run directories that are not the job's to use raise
    :class:`pgexp.errors.ConfigError` before anything is written. SIGINT and SIGTERM stop
    training, write every summary and checkpoint, and raise
    :class:`pgexp.interrupt.Interrupted` (SIGINT without the guard: ``KeyboardInterrupt``).
    """
    cfg = jobs[0].cfg
    for job in jobs:
        if batch_key(job.cfg) != batch_key(cfg):
            raise ValueError("jobs of one batch may differ only in seed, train.lr and logger")
    pieces = build(cfg, [job.cfg.seed for job in jobs])
    locks = [RunDirLock(job.run_dir) for job in jobs]
    try:
        starts = start_points(jobs, locks)
        summaries: dict[int, Summary] = {}
        by_start: dict[int, list[int]] = {}
        for i, (job, start) in enumerate(zip(jobs, starts, strict=True)):
            if isinstance(start, Finished):
                summaries[i] = start.summary
                print(f"pgexp: {job.run_dir} holds this run, finished before: its summary is the "
                      "result (not run again)", file=sys.stderr)  # fmt: skip
            else:
                by_start.setdefault(start.iteration if start else 0, []).append(i)
        for indices in by_start.values():
            batch = [jobs[i] for i in indices]
            checkpoints = [cast(Checkpoint | None, starts[i]) for i in indices]
            policy = pieces.policy if len(indices) == len(jobs) else None
            done = train_jobs(batch, checkpoints, pieces, policy)
            summaries.update(zip(indices, done, strict=True))
    finally:
        for lock in locks:
            lock.release()
        pieces.env.close()
    return [summaries[i] for i in range(len(jobs))]


def start_points(jobs: Sequence[Job], locks: Sequence[RunDirLock]) -> list[Start]:
    """Lock every job's run directory and decide how each starts (:func:`pgexp.resume.claim`);
    the first refusal is raised after every directory was checked (and its ``.hydra/`` files
    put back), before anything is removed. Then ``train.overwrite`` clears its directories."""
    starts: list[Start] = []
    refusals = []
    for job, lock in zip(jobs, locks, strict=True):
        try:
            lock.acquire()
            starts.append(claim(job))
        except ConfigError as err:
            refusals.append(err)
    if refusals:
        raise refusals[0]
    for job in jobs:
        if job.cfg.train.overwrite:
            clear(job.run_dir)
    return starts


@dataclass
class Pieces:
    """What the jobs of a batch train with, built once: the env (on the device, compiled when
    ``hardware.compile``), the estimator with the reference gradient and J* (``gradients``),
    and the policy of all the batch's runs."""

    cfg: Config
    env: Env
    gradients: Gradients
    policy: Policy
    device: torch.device
    dtype: torch.dtype

    def policy_of(self, seeds: Sequence[int]) -> Policy:
        """A policy of runs with these seeds, as :func:`build` makes it."""
        return new_policy(self.cfg, self.env, seeds, self.device, self.dtype)


def build(cfg: Config, seeds: Sequence[int]) -> Pieces:
    """The pieces of a batch of ``len(seeds)`` runs of ``cfg``. Everything about a config that
    can be refused before a file is written (its values were checked when it was built) is
    refused here: its device, its env, whether the runs fit in memory, and whether its
    estimator, policy and reference gradient can be built for that env. Raises
    :class:`ConfigError`."""
    device, dtype = apply_hardware(cfg.hardware)
    check_env_fits(cfg)
    env = make_env(cfg.env)
    check_unrolled_fits(cfg, env)
    env = policy_env(cfg.policy, env)
    check_fits(cfg, env, len(seeds), device)
    env = env.to(device)
    if cfg.hardware.compile:
        env = env.compiled()
    estimator = make_estimator(cfg.estimator, env)
    reference = make_reference(cfg, env, estimator)
    policy = new_policy(cfg, env, seeds, device, dtype)
    mdp = env.finite_mdp
    J_star = optimal_objective(mdp) if mdp is not None else None
    gradients = Gradients(estimator, reference, J_star)
    return Pieces(cfg, env, gradients, policy, device, dtype)


def new_policy(
    cfg: Config, env: Env, seeds: Sequence[int], device: torch.device, dtype: torch.dtype
) -> Policy:
    """The policy of runs with these seeds (run r's θ⁰ drawn from its seed), in ``dtype`` on
    ``device``, its network compiled when ``hardware.compile``."""
    generators = [init_generator(seed) for seed in seeds]
    policy = make_policy(cfg.policy, env, generators).to(device=device, dtype=dtype)
    if cfg.hardware.compile:
        compile_policy(policy)
    return policy


@dataclass
class Prepared:
    """A batch of jobs ready to train from iteration ``start`` (0, or their checkpoints')."""

    batch: RunBatch
    start: int


def prepare(
    jobs: Sequence[Job],
    checkpoints: Sequence[Checkpoint | None],
    pieces: Pieces,
    policy: Policy | None = None,
) -> Prepared:
    """The batch of jobs that start at the same iteration, with ``policy`` (the jobs' own,
    built by :func:`build` for them; None: built here), its update and each job's files; a
    job with a checkpoint continues from it (its ``metrics.jsonl`` cut back to the
    checkpoint's iteration)."""
    cfg, device = jobs[0].cfg, pieces.device
    policy = policy or pieces.policy_of([job.cfg.seed for job in jobs])
    lr = torch.tensor([job.cfg.train.lr for job in jobs], dtype=torch.float64, device=device)
    ascent = make_ascent(cfg.train.optimizer, lr)

    outputs = []
    for job, checkpoint in zip(jobs, checkpoints, strict=True):
        job.run_dir.mkdir(parents=True, exist_ok=True)
        if checkpoint is not None:
            keep_records(job.run_dir / "metrics.jsonl", checkpoint.iteration)
        hydra_files = checkpoint.hydra_files if checkpoint else read_hydra_files(job.run_dir)
        tracker = make_tracker(job.cfg.logger, job.run_dir, job.name, job.group, job.resolved)
        writer = MetricsWriter(job.run_dir / "metrics.jsonl")
        outputs.append(RunOutput(writer, tracker, job.run_dir, fingerprint(job.cfg), hydra_files))
    keys = seed_keys([job.cfg.seed for job in jobs], device)
    batch = RunBatch(policy, ascent, keys, outputs)
    start = checkpoints[0].iteration if checkpoints[0] else 0
    if checkpoints[0] is not None:
        batch.restore([c for c in checkpoints if c is not None])
    return Prepared(batch, start)


def train_jobs(
    jobs: Sequence[Job],
    checkpoints: Sequence[Checkpoint | None],
    pieces: Pieces,
    policy: Policy | None = None,
) -> list[Summary]:
    """Train jobs that start at the same iteration (0, or their checkpoints') as one batch
    (:func:`prepare`) and write their summaries."""
    cfg, env = jobs[0].cfg, pieces.env
    prepared = prepare(jobs, checkpoints, pieces, policy)
    batch, start, outputs = prepared.batch, prepared.start, prepared.batch.runs
    finals: dict[int, tuple[float | None, float | None]] = {}
    episodes = 0
    stop: KeyboardInterrupt | None = None
    with SignalGuard() as guard:
        try:
            with guard.critical():
                if start == 0:
                    batch.save_checkpoints()  # θ⁰ and what identifies the run
            train(batch, pieces.gradients, cfg.train.iters, start=start,
                  progress=cfg.train.progress, checkpoint_every=cfg.train.checkpoint_every,
                  guard=guard)  # fmt: skip
            episodes = eval_episodes(cfg) if batch.active else 0
            finals = final_values_of(batch, env, episodes, cfg.train.progress)
        except KeyboardInterrupt as err:  # SIGINT or SIGTERM (Interrupted), or a bare Ctrl-C
            stop = err
            for i in batch.active:
                outputs[i].state.status = Status.interrupted
        finally:
            with guard.critical():
                if not finals:
                    episodes = 0
                    finals = final_values_of(batch, env, 0, False)
                stopped = {outputs[i].state.status for i in batch.active}
                if stopped <= {Status.ok, Status.interrupted}:  # not after an exception
                    batch.save_checkpoints()  # θᴷ of a finished run, θᵏ of an interrupted one
                summaries = [
                    finish_run(job, out, finals.get(i, (None, None)), episodes, pieces)
                    for i, (job, out) in enumerate(zip(jobs, outputs, strict=True))
                ]
    if stop is not None:
        raise stop
    return summaries


def final_values_of(
    batch: RunBatch, env: Env, episodes: int, progress: bool
) -> dict[int, tuple[float | None, float | None]]:
    """J(θᴷ) and the evaluation return of every active run, by its index in ``batch.runs``."""
    eval_keys = stream_keys(batch.keys, Stream.eval)
    J, returns = final_values(env, batch.policy, episodes, eval_keys, progress)
    return dict(zip(batch.active, zip(J, returns, strict=True), strict=True))


def finish_run(
    job: Job,
    out: RunOutput,
    final: tuple[float | None, float | None],
    episodes: int,
    pieces: Pieces,
) -> Summary:
    """Write one run's summary, close its files and finish its tracker."""
    state = out.state
    if state.status is None:  # an exception is on its way up
        state.status = Status.failed
    out.writer.close()
    exact = isinstance(job.cfg.estimator, ExactEstimatorConfig)
    reference = pieces.gradients.reference
    summary = Summary(
        J_final=final[0],
        return_final=final[1],
        eval_episodes=episodes if final[1] is not None else 0,
        iters=state.iters,
        env_steps=state.env_steps,
        trajectories=state.trajectories,
        time_s=state.time_s,
        status=state.status,
        grad_reference=reference.kind if reference else None,
        seed=job.cfg.seed,
        **provenance(device_description(pieces.device), job.overrides),
        warnings=run_warnings(read_metrics(job.run_dir / "metrics.jsonl")) if exact else [],
        J_star=pieces.gradients.J_star,
    )
    write_summary(job.run_dir / "summary.json", summary)
    out.tracker.summary(to_json(summary))
    out.tracker.finish(exit_code=0 if state.status is Status.ok else 1)
    return summary
