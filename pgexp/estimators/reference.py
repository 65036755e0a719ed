"""The gradients that estimates are measured against where no exact one exists, and the names
every reference goes by (a summary's ``grad_reference``, a study row's ``target``)."""

from __future__ import annotations

from pgexp.config import Baseline, Returns
from pgexp.envs import Env
from pgexp.estimators.minibatch import MinibatchGradient
from pgexp.estimators.natural import CG
from pgexp.rollout import make_sampler


def reference_name(natural: bool, n: int | None = None) -> str:
    """``exact`` or ``exact natural`` (``n`` None), else ``estimate (N=n)`` or
    ``estimate natural (N=n)``."""
    if n is None:
        return "exact natural" if natural else "exact"
    return f"estimate natural (N={n})" if natural else f"estimate (N={n})"


def estimated_reference(
    env: Env, n: int, natural: bool, cg: CG, chunk: int | None = None
) -> MinibatchGradient:
    """The estimator of n trajectories, ``chunk`` at a time, with reward-to-go and the
    leave-one-out baseline: unbiased for ∇J, or consistent for the natural gradient."""
    return MinibatchGradient(make_sampler(env), n, Returns.reward_to_go, Baseline.leave_one_out,
                             chunk, natural, cg=cg)  # fmt: skip
