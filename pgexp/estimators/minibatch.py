"""The mini-batch estimate ∇Ĵ = (1/N) Σ_i R(τ_i) Σ_t ∇log π(a_t^i|s_t^i), from N trajectories
sampled ``chunk`` at a time (all N at once by default); the chunks change the memory, never a bit
of the estimate."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from pgexp.config import Baseline, Returns
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.estimators.base import GradientEstimate
from pgexp.estimators.baselines import OptimalConstant, StateValues, state_baseline
from pgexp.estimators.natural import CG, fisher
from pgexp.estimators.score import score_sum
from pgexp.ordered import RunningSum
from pgexp.policies import Policy, TabularSoftmax
from pgexp.rollout import Trajectories, TrajectorySampler


def raw_weights(batch: Trajectories, discount: float, returns: Returns) -> torch.Tensor:
    """[R, N, T] R(τ) or the reward-to-go at every step, before any baseline."""
    match returns:
        case Returns.total:
            return batch.returns(discount).unsqueeze(-1).expand_as(batch.rewards)
        case Returns.reward_to_go:
            return batch.rewards_to_go(discount)


def pad_steps(x: torch.Tensor, returns: Returns, T: int) -> torch.Tensor:
    """[R, n, T] raw weights [R, n, T'] as if every trajectory ran T >= T' steps (a torch env's
    batch stops at its longest episode): after its end a trajectory's total return stays its
    weight, its reward-to-go is 0."""
    fill = x[..., -1:] if returns is Returns.total else torch.zeros_like(x[..., -1:])
    return torch.cat([x, fill.expand(*x.shape[:-1], T - x.shape[-1])], -1)


class StepSums(RunningSum):
    """Per run and step, Σ_i of the raw weights of trajectories i in order, chunk after chunk; a
    chunk with more or fewer steps than those before it is padded (:func:`pad_steps`)."""

    def __init__(self, returns: Returns) -> None:
        super().__init__()
        self.returns = returns

    def add(self, x: torch.Tensor) -> None:
        if self.total is not None:
            T = max(self.total.shape[-1], x.shape[-1])
            self.total = pad_steps(self.total.unsqueeze(1), self.returns, T)[:, 0]
            x = pad_steps(x, self.returns, T)
        super().add(x)


def weights(
    batch: Trajectories,
    discount: float,
    returns: Returns,
    baseline: Baseline,
    center: torch.Tensor | None = None,
    n: int | None = None,
    values: torch.Tensor | None = None,
) -> torch.Tensor:
    """[R, N, T] the factor of ∇log π(a_t|s_t) for each sampled step.

    ``returns=total`` uses R(τ) at every t (the seed formula); ``reward_to_go`` uses the return
    from t on. ``baseline`` subtracts, per run and t, the mean over the batch (``mean``: it
    includes the trajectory's own weight, so the estimate's expectation is (N−1)/N·∇J) or the
    mean of the other N−1 trajectories (``leave_one_out``, unbiased), or γ^t V_t(s_t) from
    ``values`` [R, T, S] (``value``). A batch that is one chunk of ``n`` trajectories gets the
    means of all ``n`` as ``center`` (float64 [R, T''] with T'' at least the batch's T); a whole
    batch computes its own. ``optimal`` changes no weight (:class:`OptimalConstant`).
    """
    w = raw_weights(batch, discount, returns)
    n = n or batch.n
    if baseline is Baseline.value:
        if values is None:
            raise ValueError("the value baseline needs the state values")
        w = w - state_baseline(batch, values).to(w.dtype)
    elif baseline.per_step_mean:
        if center is None:
            sums = StepSums(returns)
            sums.add(w)
            center = sums.value(torch.float64) / n
        w = w - center[:, None, : w.shape[-1]].to(w.dtype)
        if baseline is Baseline.leave_one_out:
            w = w * (n / (n - 1))
    return w * batch.alive


class MinibatchGradient:
    """Samples N trajectories per run at the current θ and returns the score-function estimate,
    ``chunk`` trajectories at a time (all N when None).

    With ``natural`` it returns the natural gradient at the sampled states' Fisher F̂: F̂⁺ĝ in
    closed form for a tabular softmax (:class:`pgexp.estimators.score.TableScoreSum`), else
    (F̂ + λI)⁻¹ĝ by conjugate gradients as ``cg`` says (:class:`pgexp.estimators.natural.Fisher`);
    consistent, not unbiased (a ratio). The ``value`` baseline needs the finite ``mdp`` the
    sampler samples.

    Every sum over trajectories (the gradient, the baseline's means, the mean return) adds them
    in index order whatever the chunks, and trajectory i draws the same numbers in whichever
    chunk it falls: a chunked estimate is the whole one, bit for bit (on the CPU). A baseline
    from the batch (mean, leave_one_out, optimal) needs every trajectory's weights before any
    gradient: with chunks, a first pass samples them for their sums alone (sampling twice).
    """

    def __init__(
        self,
        sampler: TrajectorySampler,
        n: int,
        returns: Returns = Returns.total,
        baseline: Baseline = Baseline.none,
        chunk: int | None = None,
        natural: bool = False,
        mdp: FiniteMDP | None = None,
        cg: CG | None = None,
    ) -> None:
        self.sampler, self.n = sampler, n
        self.returns, self.baseline = returns, baseline
        self.chunk = min(chunk or n, n)
        self.natural, self.cg = natural, cg
        self.values: StateValues | None = None
        if baseline is Baseline.value:
            if mdp is None:
                raise ValueError("the value baseline needs a finite MDP")
            self.values = StateValues(mdp)

    def estimate(self, policy: Policy, keys: torch.Tensor) -> GradientEstimate:
        discount, n = self.sampler.discount, self.n
        whole = self.sampler.sample(policy, keys, n) if self.chunk == n else None

        def pieces() -> Iterator[Trajectories]:
            for first in range(0, n, self.chunk):
                size = min(self.chunk, n - first)
                yield whole if whole is not None else self.sampler.sample(policy, keys, size, first)

        center = values = optimal = None
        if self.baseline.per_step_mean:
            sums = StepSums(self.returns)
            for batch in pieces():
                sums.add(raw_weights(batch, discount, self.returns))
            center = sums.value(torch.float64) / n
        if self.values is not None:
            values = self.values.at(policy)
        if self.baseline is Baseline.optimal:
            optimal = OptimalConstant(policy, n)
            for batch in pieces():
                optimal.observe(batch, weights(batch, discount, self.returns, self.baseline))
        closed_form = self.natural and isinstance(policy, TabularSoftmax)
        sampled = fisher(policy, self.cg) if self.natural and not closed_form else None
        score = score_sum(policy, n, discount if closed_form else None)
        total_return, steps = RunningSum(), []
        for batch in pieces():
            w = weights(batch, discount, self.returns, self.baseline, center, n, values)
            score.add(batch, w)
            if optimal is not None:
                optimal.add(batch, w)
            if sampled is not None:
                sampled.add_sampled(batch, discount, n)
            total_return.add(batch.returns(discount))
            steps.append(batch.env_steps())
        grad = score.result()
        if optimal is not None:
            grad = grad - optimal.correction()
        if sampled is not None:
            grad = sampled.solve(grad)
        dtype = next(policy.parameters()).dtype
        return GradientEstimate(
            grad=grad.detach(),
            return_mean=(total_return.value(torch.float64) / n).to(dtype),
            env_steps=torch.stack(steps).sum(0),
            trajectories=n,
        )
