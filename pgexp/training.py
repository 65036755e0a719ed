"""The loop shared by both algorithms: estimate ∇J at θ^{k-1}, then θ^k = θ^{k-1} + lr·g."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from pgexp.estimators import GradientEstimate, GradientEstimator
from pgexp.hardware import synchronize
from pgexp.metrics import MetricsWriter
from pgexp.optim import Ascent
from pgexp.policies import Policy
from pgexp.records import IterationRecord, Status, to_json
from pgexp.tracking import Tracker


@dataclass
class TrainState:
    """Counters of a run so far (cumulative over iterations)."""

    iters: int = 0
    env_steps: int = 0
    trajectories: int = 0
    time_s: float = 0.0
    status: Status | None = None
    """None while running."""


def compare(est: GradientEstimate, ref: GradientEstimate | None) -> dict[str, float | None]:
    """``grad_norm``, ``grad_cos`` and ``grad_rel_err`` of an estimate (None where undefined)."""
    g = est.grad
    out: dict[str, float | None] = {
        "grad_norm": float(g.norm()),
        "grad_cos": None,
        "grad_rel_err": None,
    }
    if ref is not None:
        ref_norm = float(ref.grad.norm())
        cos = torch.nn.functional.cosine_similarity(g, ref.grad, dim=0, eps=1e-300)
        out["grad_cos"] = float(cos)
        out["grad_rel_err"] = float((g - ref.grad).norm()) / ref_norm if ref_norm > 0 else None
    return out


def train(
    policy: Policy,
    estimator: GradientEstimator,
    ascent: Ascent,
    iters: int,
    writer: MetricsWriter,
    tracker: Tracker,
    reference: GradientEstimator | None = None,
    reference_every: int = 1,
    state: TrainState | None = None,
    progress: bool = True,
) -> TrainState:
    """Run ``iters`` gradient steps, writing one metrics record per step.

    ``reference`` (the exact dp gradient, or a large-N estimate) supplies J (exact only) and the
    gradient-error metrics at iterations 1, 1 + ``reference_every``, ...; it is not counted in
    ``time_s``, which times only the estimate and the update, nor in ``env_steps``.
    """
    state = state or TrainState()
    params = list(policy.parameters())
    device = params[0].device
    bar = tqdm(total=iters, disable=not progress, desc="pgexp", unit="it", dynamic_ncols=True)
    while state.iters < iters:
        # -- estimate ∇J at θ^{k-1} (timed)
        start = time.perf_counter()
        est = estimator.estimate(policy)
        synchronize(device)
        elapsed = time.perf_counter() - start
        # -- reference diagnostics at the same θ^{k-1} (not timed)
        ref = None
        if reference is not None and state.iters % reference_every == 0:
            ref = est if estimator is reference else reference.estimate(policy)
        # -- the update θ^k = θ^{k-1} + lr·g (timed)
        finite = bool(torch.isfinite(est.grad).all())
        start = time.perf_counter()
        if finite:
            ascent.step(params, est.grad)
            synchronize(device)
            finite = all(bool(torch.isfinite(p).all()) for p in params)
        state.time_s += elapsed + time.perf_counter() - start
        # -- bookkeeping and logging
        state.iters += 1
        state.env_steps += est.env_steps
        state.trajectories += est.trajectories
        record = IterationRecord(
            iter=state.iters,
            J=ref.objective if ref is not None else est.objective,
            return_mean=est.return_mean,
            **compare(est, ref),
            env_steps=state.env_steps,
            trajectories=state.trajectories,
            time_s=state.time_s,
        )
        writer.write(record)
        tracker.log(to_json(record), step=state.iters)
        bar.update(1)
        bar.set_postfix(J=record.J, ret=record.return_mean, refresh=False)
        if not finite:
            state.status = Status.diverged
            break
    bar.close()
    if state.status is None:
        state.status = Status.ok
    return state
