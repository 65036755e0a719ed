"""The M draws of each estimator variant at each N, and the gradient they estimate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pgexp.config import Baseline, Returns
from pgexp.counter_rng import Stream, fold_in, fold_in_each, seed_keys
from pgexp.envs import Env
from pgexp.estimators import ExactGradient, MinibatchGradient
from pgexp.estimators.natural import CG
from pgexp.estimators.reference import estimated_reference, reference_name
from pgexp.policies import Policy, TablePolicy
from pgexp.rollout import make_sampler

STEPS_AT_ONCE = 4_000_000
"""Sampled steps held at once (M draws × chunk × T): larger N are sampled in chunks (the same
estimates, less memory)."""


@dataclass(frozen=True)
class Variant:
    """One estimator: how it weighs each step's score, and whether it is the natural gradient."""

    name: str
    returns: Returns
    baseline: Baseline
    natural: bool = False

    @property
    def min_n(self) -> int:
        """The smallest N it is defined for (a baseline from the others needs two)."""
        return 1 if self.baseline in (Baseline.none, Baseline.value) else 2

    @property
    def needs_table(self) -> bool:
        """Defined on finite MDPs with table policies only."""
        return self.baseline.needs_table


VARIANTS = {
    v.name: v
    for v in (
        Variant("reinforce", Returns.total, Baseline.none),
        Variant("reward_to_go", Returns.reward_to_go, Baseline.none),
        Variant("rtg_mean", Returns.reward_to_go, Baseline.mean),
        Variant("rtg_leave_one_out", Returns.reward_to_go, Baseline.leave_one_out),
        Variant("optimal_constant", Returns.total, Baseline.optimal),
        Variant("rtg_value", Returns.reward_to_go, Baseline.value),
        Variant("natural", Returns.reward_to_go, Baseline.leave_one_out, natural=True),
    )
}
"""The variants by name: the seed's formula, reward-to-go, the two batch baselines (``mean``
includes the trajectory's own return: its expectation is (N−1)/N·∇J), Greensmith's optimal
constant per parameter on the seed's formula, reward-to-go less the exact γ^t V^π_t(s_t) (the
best a state-value critic could do) (these two need a finite MDP and a table policy), and the
natural gradient F̂⁺ĝ (compared with the exact natural gradient, or a large-N natural
estimate)."""


def draw_keys(seed: int, n_index: int, draws: int, device: torch.device) -> torch.Tensor:
    """[M, 2] the keys of the M draws at the ``n_index``-th N of the grid: every variant at that
    N samples the same trajectories (their differences are the estimators', not the draws')."""
    study = fold_in(seed_keys([seed], device), int(Stream.study))
    return fold_in_each(fold_in(study, n_index), range(draws))[:, 0]


def estimates(
    env: Env, policy: Policy, variant: Variant, n: int, keys: torch.Tensor, cg: CG
) -> torch.Tensor:
    """[M, P] float64: one estimate of N trajectories per draw (``policy`` holds M equal runs;
    ``keys`` [M, 2]; ``cg``: how a natural gradient without a closed form is solved)."""
    M, horizon = keys.shape[0], env.horizon
    chunk = max(1, min(n, STEPS_AT_ONCE // (M * horizon)))
    sampler = make_sampler(env)
    estimator = MinibatchGradient(
        sampler, n, variant.returns, variant.baseline, chunk, variant.natural, env.finite_mdp, cg
    )
    return estimator.estimate(policy, keys).grad.to(torch.float64)


def target(
    env: Env, policy: Policy, variant: Variant, reference_n: int, seed: int, cg: CG
) -> tuple[torch.Tensor, str]:
    """[P] the gradient ``variant`` estimates at θ (``policy`` holds one run) and what it is:
    the exact gradient (or exact natural gradient) on a finite MDP with a table policy, else an
    estimate from ``reference_n`` trajectories of its own stream (reward-to-go, leave-one-out;
    unbiased, or consistent for the natural gradient)."""
    mdp, natural = env.finite_mdp, variant.natural
    if mdp is not None and isinstance(policy, TablePolicy):
        exact = ExactGradient(mdp, natural=natural, cg=cg).estimate(policy)
        return exact.grad[0].to(torch.float64), reference_name(natural)
    keys = fold_in(seed_keys([seed], next(policy.parameters()).device), int(Stream.reference))
    chunk = max(1, min(reference_n, STEPS_AT_ONCE // env.horizon))
    reference = estimated_reference(env, reference_n, natural, cg, chunk)
    estimate = reference.estimate(policy, keys).grad[0].to(torch.float64)
    return estimate, reference_name(natural, reference_n)


def grid_variants(names: Sequence[str]) -> list[Variant]:
    """The variants named, in the order given; ValueError naming the unknown one."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown estimator {unknown[0]!r}: choose from {', '.join(VARIANTS)}")
    return [VARIANTS[n] for n in names]
