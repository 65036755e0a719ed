"""The mini-batch estimate ∇Ĵ = (1/N) Σ_i R(τ_i) Σ_t ∇log π(a_t^i|s_t^i), via a surrogate loss."""

from __future__ import annotations

import torch
from torch.func import functional_call

from pgexp.config import Baseline, Returns
from pgexp.estimators.base import GradientEstimate, flat_grad
from pgexp.policies import Policy, TablePolicy
from pgexp.rollout import Trajectories, TrajectorySampler


def weights(
    batch: Trajectories, discount: float, returns: Returns, baseline: Baseline
) -> torch.Tensor:
    """[R, N, T] the factor of ∇log π(a_t|s_t) for each sampled step.

    ``returns=total`` uses R(τ) at every t (the seed formula); ``reward_to_go`` uses the return
    from t on. ``baseline`` subtracts, per run and t, the batch mean (``mean``, slightly biased)
    or the mean of the other N-1 trajectories (``leave_one_out``, unbiased).
    """
    match returns:
        case Returns.total:
            w = batch.returns(discount).unsqueeze(-1).expand_as(batch.rewards)
        case Returns.reward_to_go:
            w = batch.rewards_to_go(discount)
    match baseline:
        case Baseline.none:
            pass
        case Baseline.mean:
            w = w - w.mean(1, keepdim=True)
        case Baseline.leave_one_out:
            n = w.shape[1]
            w = (w - w.mean(1, keepdim=True)) * (n / (n - 1))
    return w * batch.alive


def score_gradient(policy: Policy, batch: Trajectories, w: torch.Tensor) -> torch.Tensor:
    """[R, P] ∇_θ (1/N) Σ_{i,t} w_{i,t} log π(a_t^i|s_t^i) for each run.

    A run's gradient is the same, to the last bit, in a batch as alone. Table policies score
    every [R, N, T] step at once: their gradient is a scatter-add into each run's own table, in
    step order, where the dead steps add exact zeros. Neural policies' weight gradients are
    matrix products that sum over steps, and how a BLAS library orders that sum depends on how
    many steps there are; so each run is differentiated alone, on exactly its own steps taken
    before termination (which also skips the dead steps that would cost most of the backward
    pass in early CartPole, where T' ≫ episode lengths).
    """
    if isinstance(policy, TablePolicy):
        logp = policy.log_prob(batch.states.flatten(1), batch.actions.flatten(1))
        return flat_grad((w.flatten(1) * logp).sum() / batch.n, policy.parameters())
    grads = []
    for r in range(batch.alive.shape[0]):
        alive = batch.alive[r]
        params = {
            name: p[r : r + 1].detach().requires_grad_() for name, p in policy.named_parameters()
        }
        states, actions = batch.states[r][alive], batch.actions[r][alive]
        logp = functional_call(policy, params, (states.unsqueeze(0), actions.unsqueeze(0)))
        surrogate = (w[r][alive] * logp[0]).sum() / batch.n
        grads.append(flat_grad(surrogate, params.values()))
    return torch.cat(grads)


class MinibatchGradient:
    """Samples N trajectories per run at the current θ and returns the score-function estimate."""

    def __init__(
        self,
        sampler: TrajectorySampler,
        n: int,
        returns: Returns = Returns.total,
        baseline: Baseline = Baseline.none,
    ) -> None:
        self.sampler, self.n = sampler, n
        self.returns, self.baseline = returns, baseline

    def estimate(self, policy: Policy, keys: torch.Tensor) -> GradientEstimate:
        batch = self.sampler.sample(policy, keys, self.n)
        discount = self.sampler.discount
        w = weights(batch, discount, self.returns, self.baseline)
        return GradientEstimate(
            grad=score_gradient(policy, batch, w).detach(),
            return_mean=batch.returns(discount).mean(1),
            env_steps=batch.env_steps(),
            trajectories=batch.n,
        )
