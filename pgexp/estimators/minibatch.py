"""The mini-batch estimate ∇Ĵ = (1/N) Σ_i R(τ_i) Σ_t ∇log π(a_t^i|s_t^i), via a surrogate loss."""

from __future__ import annotations

import torch

from pgexp.config import Baseline, Returns
from pgexp.estimators.base import GradientEstimate, flat_grad
from pgexp.policies import Policy
from pgexp.rollout import Trajectories, TrajectorySampler


def weights(
    batch: Trajectories, discount: float, returns: Returns, baseline: Baseline
) -> torch.Tensor:
    """[N, T] the factor of ∇log π(a_t|s_t) for each sampled step.

    ``returns=total`` uses R(τ) at every t (the seed formula); ``reward_to_go`` uses the return
    from t on. ``baseline`` subtracts, per t, the batch mean (``mean``, slightly biased) or the mean
    of the other N-1 trajectories (``leave_one_out``, unbiased).
    """
    match returns:
        case Returns.total:
            w = batch.returns(discount)[:, None].expand(-1, batch.rewards.shape[1])
        case Returns.reward_to_go:
            w = batch.rewards_to_go(discount)
    match baseline:
        case Baseline.none:
            pass
        case Baseline.mean:
            w = w - w.mean(0, keepdim=True)
        case Baseline.leave_one_out:
            n = w.shape[0]
            w = (w - w.mean(0, keepdim=True)) * (n / (n - 1))
    return w * batch.alive


class MinibatchGradient:
    """Samples N trajectories at the current θ and returns the score-function estimate."""

    def __init__(
        self,
        sampler: TrajectorySampler,
        n: int,
        generator: torch.Generator,
        returns: Returns = Returns.total,
        baseline: Baseline = Baseline.none,
    ) -> None:
        self.sampler, self.n, self.generator = sampler, n, generator
        self.returns, self.baseline = returns, baseline

    def estimate(self, policy: Policy) -> GradientEstimate:
        batch = self.sampler.sample(policy, self.n, self.generator)
        discount = self.sampler.discount
        w = weights(batch, discount, self.returns, self.baseline)
        # score only the steps taken before termination: the others have weight 0 (and would
        # cost most of the backward pass in early CartPole, where T' ≫ episode lengths)
        alive = batch.alive
        logp = policy.log_prob(batch.states[alive], batch.actions[alive])
        surrogate = (w[alive] * logp).sum() / batch.n
        grad = flat_grad(surrogate, policy.parameters())
        return GradientEstimate(
            grad=grad.detach(),
            return_mean=float(batch.returns(discount).mean()),
            env_steps=batch.env_steps(),
            trajectories=batch.n,
        )
