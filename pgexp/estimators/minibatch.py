"""The mini-batch estimate ∇Ĵ = (1/N) Σ_i R(τ_i) Σ_t ∇log π(a_t^i|s_t^i), via a surrogate loss."""

from __future__ import annotations

import torch
from torch.func import functional_call

from pgexp.config import Baseline, Returns
from pgexp.estimators.base import GradientEstimate, flat_grad, sum_in_order
from pgexp.policies import Policy, TablePolicy
from pgexp.rollout import Trajectories, TrajectorySampler


def weights(
    batch: Trajectories,
    discount: float,
    returns: Returns,
    baseline: Baseline,
    center: torch.Tensor | None = None,
    n: int | None = None,
) -> torch.Tensor:
    """[R, N, T] the factor of ∇log π(a_t|s_t) for each sampled step.

    ``returns=total`` uses R(τ) at every t (the seed formula); ``reward_to_go`` uses the return
    from t on. ``baseline`` subtracts, per run and t, the batch mean (``mean``, slightly biased)
    or the mean of the other N-1 trajectories (``leave_one_out``, unbiased). A batch that is one
    chunk of ``n`` trajectories gets the mean of all ``n`` as ``center`` ([R, T'] with T' at
    least the batch's T; see :func:`padded`).
    """
    w = raw_weights(batch, discount, returns)
    n = n or batch.n
    if baseline is not Baseline.none:
        mean = w.mean(1, keepdim=True) if center is None else center[:, None, : w.shape[-1]]
        w = w - mean
        if baseline is Baseline.leave_one_out:
            w = w * (n / (n - 1))
    return w * batch.alive


def raw_weights(batch: Trajectories, discount: float, returns: Returns) -> torch.Tensor:
    """[R, N, T] R(τ) or the reward-to-go at every step, before any baseline."""
    match returns:
        case Returns.total:
            return batch.returns(discount).unsqueeze(-1).expand_as(batch.rewards)
        case Returns.reward_to_go:
            return batch.rewards_to_go(discount)


def padded(sums: torch.Tensor, returns: Returns, T: int) -> torch.Tensor:
    """[R, T] per-step sums of raw weights [R, T'] over trajectories, as if every trajectory ran
    T >= T' steps (a torch env's batch stops at its longest episode; after its end a
    trajectory's total return stays its weight, its reward-to-go is 0)."""
    fill = sums[:, -1:] if returns is Returns.total else torch.zeros_like(sums[:, -1:])
    return torch.cat([sums, fill.expand(-1, T - sums.shape[-1])], -1)


def score_gradient(
    policy: Policy, batch: Trajectories, w: torch.Tensor, n: int | None = None
) -> torch.Tensor:
    """[R, P] ∇_θ (1/n) Σ_{i,t} w_{i,t} log π(a_t^i|s_t^i) for each run (n: the batch's N, or all
    the trajectories of which the batch is one chunk).

    A run's gradient is the same, to the last bit, in a batch as alone. Table policies score
    every [R, N, T] step at once, without autograd through the steps: with C(s, a) the sum of
    w/n over the steps that took a in s (a scatter-add into each run's own table, in step
    order, where dead steps add exact zeros), the gradient with respect to the softmax logits
    is C(s, a) − π(a|s)·Σ_b C(s, b), and one vector-Jacobian product through the logits gives
    the parameters' (feature policies included). Neural policies' weight gradients are
    matrix products that sum over steps, and how a BLAS library orders that sum depends on how
    many steps there are; so each run is differentiated alone, on exactly its own steps taken
    before termination (which also skips the dead steps that would cost most of the backward
    pass in early CartPole, where T' ≫ episode lengths).
    """
    if isinstance(policy, TablePolicy):
        logits = policy.logits()
        R, S, A = logits.shape
        pi = torch.softmax(logits.detach(), dim=-1)
        pairs = (batch.states * A + batch.actions).flatten(1)
        counts = torch.zeros((R, S * A), dtype=pi.dtype, device=pi.device)
        counts.scatter_add_(1, pairs, (w / (n or batch.n)).flatten(1))
        counts = counts.view(R, S, A)
        logit_grad = counts - pi * sum_in_order(counts, -1).unsqueeze(-1)
        return flat_grad((logits * logit_grad).sum(), policy.parameters())
    grads = []
    for r in range(batch.alive.shape[0]):
        alive = batch.alive[r]
        params = {
            name: p[r : r + 1].detach().requires_grad_() for name, p in policy.named_parameters()
        }
        states, actions = batch.states[r][alive], batch.actions[r][alive]
        logp = functional_call(policy, params, (states.unsqueeze(0), actions.unsqueeze(0)))
        surrogate = (w[r][alive] * logp[0]).sum() / (n or batch.n)
        grads.append(flat_grad(surrogate, params.values()))
    return torch.cat(grads)


class MinibatchGradient:
    """Samples N trajectories per run at the current θ and returns the score-function estimate,
    ``chunk`` trajectories at a time (all N when None)."""

    def __init__(
        self,
        sampler: TrajectorySampler,
        n: int,
        returns: Returns = Returns.total,
        baseline: Baseline = Baseline.none,
        chunk: int | None = None,
    ) -> None:
        self.sampler, self.n = sampler, n
        self.returns, self.baseline = returns, baseline
        self.chunk = min(chunk or n, n)

    def estimate(self, policy: Policy, keys: torch.Tensor) -> GradientEstimate:
        discount = self.sampler.discount
        if self.chunk == self.n:
            batch = self.sampler.sample(policy, keys, self.n)
            w = weights(batch, discount, self.returns, self.baseline)
            return GradientEstimate(
                grad=score_gradient(policy, batch, w).detach(),
                return_mean=batch.returns(discount).mean(1),
                env_steps=batch.env_steps(),
                trajectories=batch.n,
            )
        return self._chunked(policy, keys, discount)

    def _chunked(self, policy: Policy, keys: torch.Tensor, discount: float) -> GradientEstimate:
        """The same estimate from chunks: trajectory i keeps its counter, so its draws, whatever
        chunk samples it. A baseline's means need every trajectory first: a first pass samples
        the chunks for them alone."""
        firsts = range(0, self.n, self.chunk)

        def chunk(first: int) -> Trajectories:
            return self.sampler.sample(policy, keys, min(self.chunk, self.n - first), first)

        center = None
        if self.baseline is not Baseline.none:
            sums = [raw_weights(chunk(f), discount, self.returns).sum(1) for f in firsts]
            T = max(s.shape[-1] for s in sums)
            center = torch.stack([padded(s, self.returns, T) for s in sums]).sum(0) / self.n
        parts = []  # per chunk: its share of the gradient, its summed returns, its env steps
        for first in firsts:
            batch = chunk(first)
            w = weights(batch, discount, self.returns, self.baseline, center, self.n)
            parts.append((score_gradient(policy, batch, w, self.n).detach(),
                          batch.returns(discount).sum(1), batch.env_steps()))  # fmt: skip
        grad, total_return, steps = (
            torch.stack(column).sum(0) for column in zip(*parts, strict=True)
        )
        return GradientEstimate(
            grad=grad, return_mean=total_return / self.n, env_steps=steps, trajectories=self.n
        )
