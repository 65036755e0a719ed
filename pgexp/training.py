"""The loop shared by both algorithms, for R runs at once: :func:`step` estimates ∇J at θ^{k-1}
and sets θ^k = θ^{k-1} + lr·g; :func:`train` runs it with the reference gradient, timing and
:class:`Bookkeeping` (each run's records, the progress bar, divergence, checkpoints) around it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from pgexp.checkpoint import CHECKPOINT, Checkpoint, save
from pgexp.counter_rng import IterationKeys, Stream
from pgexp.estimators import GradientEstimate, GradientEstimator
from pgexp.hardware import synchronize
from pgexp.interrupt import SignalGuard
from pgexp.metrics import MetricsWriter
from pgexp.optim import Ascent
from pgexp.ordered import ordered_norm, ordered_sum
from pgexp.policies import Policy
from pgexp.records import IterationRecord, Status, to_json
from pgexp.tracking import Tracker


@dataclass
class TrainState:
    """Counters of one run so far (cumulative over iterations)."""

    iters: int = 0
    env_steps: int = 0
    trajectories: int = 0
    time_s: float = 0.0
    status: Status | None = None
    """None while running."""


@dataclass
class RunOutput:
    """Where one run of a batch writes its records and checkpoints, and its counters."""

    writer: MetricsWriter
    tracker: Tracker
    run_dir: Path
    fingerprint: str
    """What identifies the run's config (:func:`pgexp.checkpoint.fingerprint`)."""
    hydra_files: dict[str, str] = field(default_factory=dict)
    state: TrainState = field(default_factory=TrainState)


@dataclass
class RunBatch:
    """The runs trained together: row i of every parameter, key and learning rate belongs to
    ``runs[active[i]]``. A run that diverges leaves the batch; the others go on."""

    policy: Policy
    ascent: Ascent
    keys: torch.Tensor
    """[R_active, 2] run keys (:func:`pgexp.counter_rng.seed_keys`)."""
    runs: list[RunOutput]
    active: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.active = self.active or list(range(len(self.runs)))

    def save_checkpoints(self) -> None:
        """Write every active run's ``checkpoint.pt`` at its current iteration."""
        params = dict(self.policy.named_parameters())
        for row, i in enumerate(self.active):
            run, state = self.runs[i], self.runs[i].state
            checkpoint = Checkpoint(
                fingerprint=run.fingerprint,
                iteration=state.iters,
                env_steps=state.env_steps,
                trajectories=state.trajectories,
                time_s=state.time_s,
                params={name: p[row].detach().cpu().clone() for name, p in params.items()},
                optimizer=self.ascent.run_state(row),
                hydra_files=run.hydra_files,
            )
            save(run.run_dir / CHECKPOINT, checkpoint)

    @torch.no_grad()
    def restore(self, checkpoints: list[Checkpoint]) -> None:
        """Continue every run from its checkpoint (all at one iteration), in run order."""
        params = dict(self.policy.named_parameters())
        for row, (run, checkpoint) in enumerate(zip(self.runs, checkpoints, strict=True)):
            for name, p in params.items():
                p[row].copy_(checkpoint.params[name])
            run.state = TrainState(checkpoint.iteration, checkpoint.env_steps,
                                   checkpoint.trajectories, checkpoint.time_s)  # fmt: skip
        self.ascent.load_run_states([c.optimizer for c in checkpoints])

    def drop_diverged(self, finite: list[bool]) -> int:
        """Mark the runs whose row is not ``finite`` diverged and take them out of the batch
        (parameters, optimizer state, keys); returns how many left."""
        kept = [row for row, ok in enumerate(finite) if ok]
        if len(kept) == len(finite):
            return 0
        for row, ok in enumerate(finite):
            if not ok:
                self.runs[self.active[row]].state.status = Status.diverged
        rows = torch.tensor(kept, dtype=torch.int64, device=self.keys.device)
        self.policy.select(rows)
        self.ascent.select(rows)
        self.keys = self.keys[rows]
        self.active = [self.active[row] for row in kept]
        return len(finite) - len(kept)


def compare(est: GradientEstimate, ref: GradientEstimate | None) -> dict[str, list[float | None]]:
    """Per run: ``grad_norm``, ``grad_cos`` and ``grad_rel_err`` (None where undefined), from
    sums over the P coordinates in index order (a run's values never depend on its batch)."""
    g = est.grad
    R = g.shape[0]
    norm = ordered_norm(g, 1)
    out: dict[str, list[float | None]] = {
        "grad_norm": list(norm.tolist()),
        "grad_cos": [None] * R,
        "grad_rel_err": [None] * R,
    }
    if ref is not None:
        ref_norm = ordered_norm(ref.grad, 1)
        cos = ordered_sum(g * ref.grad, 1) / (norm * ref_norm).clamp_min(1e-300)  # 0 if g = 0
        err = ordered_norm(g - ref.grad, 1) / ref_norm
        out["grad_cos"] = list(cos.tolist())
        out["grad_rel_err"] = [
            e if n > 0 else None for e, n in zip(err.tolist(), ref_norm.tolist(), strict=True)
        ]
    return out


OVERFLOW = 1e100
"""A parameter beyond this magnitude counts as diverged: float64 holds it, but no policy is
meaningfully different out there (a softmax or tanh saturates, the gradient is exactly 0 and
the run would freeze, or overflow at the next step)."""


def finite_runs(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """[R] bool: every parameter of run r is finite and within :data:`OVERFLOW`."""
    return torch.stack([(p.abs() <= OVERFLOW).flatten(1).all(1) for p in params]).all(0)


@dataclass
class Reference:
    """The gradient ``grad_cos``/``grad_rel_err`` compare with, and J's source where the
    estimator gives none: the exact dp gradient, or a large-N estimate from its own random
    stream, at iterations 1, 1 + ``every``, 1 + 2·``every``, ..."""

    estimator: GradientEstimator
    every: int
    kind: str
    """The summary's ``grad_reference``
    (:func:`pgexp.estimators.reference.reference_name`)."""

    def due(self, k: int) -> bool:
        return (k - 1) % self.every == 0


@dataclass
class Gradients:
    """What a batch's iterations compute with, besides its runs: the estimator, the reference
    gradient of the error metrics (if any) and, on a finite MDP, J* (each record's ``gap``)."""

    estimator: GradientEstimator
    reference: Reference | None = None
    J_star: float | None = None


@dataclass
class Step:
    """What iteration k computed: the gradient estimate at θ^{k-1} (``grad`` [R, P]) and, per
    run, whether both it and θ^k are finite (``finite`` [R] bool)."""

    estimate: GradientEstimate
    finite: torch.Tensor


def step(
    batch: RunBatch, estimator: GradientEstimator, keys: torch.Tensor, guard: SignalGuard
) -> Step:
    """One iteration of both algorithms for every run of ``batch``: g = ∇J(θ^{k-1}) computed
    exactly, or ∇Ĵ = (1/N) Σ_i R(τ_i) Σ_t ∇log π(a_t^i|s_t^i) from N trajectories sampled with
    ``keys`` [R, 2] (the runs' keys for iteration k); then θ^k = θ^{k-1} + lr·g (or Adam's
    step). A run whose g is not finite keeps θ^{k-1}. A signal stops the estimate; from the
    update on ``guard`` holds it until the caller releases the guard, after the records."""
    est = estimator.estimate(batch.policy, keys)
    guard.hold()
    params = list(batch.policy.parameters())
    finite = torch.isfinite(est.grad).all(1)
    batch.ascent.step(params, torch.where(finite[:, None], est.grad, 0.0))
    return Step(est, finite & finite_runs(params))


def train(
    batch: RunBatch,
    gradients: Gradients,
    iters: int,
    *,
    start: int = 0,
    progress: bool = True,
    checkpoint_every: int = 0,
    guard: SignalGuard | None = None,
) -> None:
    """Run :func:`step` for k = ``start + 1 .. iters`` on every run of ``batch``, one metrics
    record per run and step; a run whose gradient or parameters stop being finite ends
    ``diverged``, the others ``ok``.

    A signal (see ``guard``) stops it during an estimate, never inside an update, its records
    or its checkpoint (written every ``checkpoint_every`` iterations, 0: never). ``time_s``
    counts the step (in a batch of several runs, the whole batch's wall time), not the
    reference gradient computed before it, nor its trajectories in ``env_steps``.
    """
    guard = guard or SignalGuard()
    estimator, reference = gradients.estimator, gradients.reference
    books = Bookkeeping(batch, iters, start, progress, checkpoint_every, gradients.J_star)
    sample_keys, reference_keys = IterationKeys(Stream.sample), IterationKeys(Stream.reference)
    for k in range(start + 1, iters + 1):
        ref = None
        if reference is not None and reference.due(k) and reference.estimator is not estimator:
            ref = reference.estimator.estimate(batch.policy, reference_keys(batch.keys, k))
        try:
            tic = time.perf_counter()
            done = step(batch, estimator, sample_keys(batch.keys, k), guard)
            synchronize(batch.keys.device)
            elapsed = time.perf_counter() - tic
            if reference is not None and reference.due(k) and reference.estimator is estimator:
                ref = done.estimate  # the exact dp estimator is its own reference
            books.record(k, elapsed, done, ref)
        finally:
            guard.release()
        if not batch.active:
            break
    books.close()


class Bookkeeping:
    """What :func:`train` does around each step: counters, records and W&B logs of every run,
    the progress bar, dropping diverged runs and writing checkpoints."""

    def __init__(
        self,
        batch: RunBatch,
        iters: int,
        start: int,
        progress: bool,
        checkpoint_every: int,
        J_star: float | None,
    ) -> None:
        self.batch, self.iters, self.checkpoint_every = batch, iters, checkpoint_every
        self.J_star = J_star
        R = len(batch.runs)
        self.bar = tqdm(total=R * iters, initial=R * start, desc="pgexp", disable=not progress,
                        unit="it", dynamic_ncols=True)  # fmt: skip

    def record(self, k: int, elapsed: float, done: Step, ref: GradientEstimate | None) -> None:
        """Log iteration k of every active run, then drop the diverged ones; checkpoint the
        others when due."""
        batch = self.batch
        log_iteration(batch, k, elapsed, done.estimate, ref, self.J_star)
        self.bar.update(len(batch.active))
        if len(batch.active) == 1:
            record_postfix(self.bar, done.estimate, ref)
        self.bar.total -= batch.drop_diverged(done.finite.tolist()) * (self.iters - k)
        if self.checkpoint_every and k % self.checkpoint_every == 0:
            batch.save_checkpoints()

    def close(self) -> None:
        """Close the bar; the runs still active ended ``ok``."""
        self.bar.close()
        for i in self.batch.active:
            self.batch.runs[i].state.status = Status.ok


def log_iteration(
    batch: RunBatch,
    k: int,
    elapsed: float,
    est: GradientEstimate,
    ref: GradientEstimate | None,
    J_star: float | None = None,
) -> None:
    """Add iteration k to every active run's counters and write its record (with the gap
    ``J_star`` − J where both are known)."""
    R = len(batch.active)
    J = ref.objective if ref is not None else est.objective
    J_list = [None] * R if J is None else J.tolist()
    ret = [None] * R if est.return_mean is None else est.return_mean.tolist()
    steps = [0] * R if est.env_steps is None else est.env_steps.tolist()
    errors = compare(est, ref)
    for row, i in enumerate(batch.active):
        run, J_row = batch.runs[i], J_list[row]
        state = run.state
        state.iters = k
        state.env_steps += steps[row]
        state.trajectories += est.trajectories
        state.time_s += elapsed
        record = IterationRecord(
            iter=k,
            J=J_row,
            return_mean=ret[row],
            grad_norm=errors["grad_norm"][row],
            grad_cos=errors["grad_cos"][row],
            grad_rel_err=errors["grad_rel_err"][row],
            env_steps=state.env_steps,
            trajectories=state.trajectories,
            time_s=state.time_s,
            gap=None if J_star is None or J_row is None else J_star - J_row,
        )
        run.writer.write(record)
        run.tracker.log(to_json(record), step=k)


def record_postfix(bar: tqdm, est: GradientEstimate, ref: GradientEstimate | None) -> None:
    """J and the mean return of a lone run on its progress bar."""
    J = ref.objective if ref is not None else est.objective
    bar.set_postfix(
        J=None if J is None else float(J[0]),
        ret=None if est.return_mean is None else float(est.return_mean[0]),
        refresh=False,
    )
