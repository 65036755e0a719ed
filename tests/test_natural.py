"""The natural gradient F⁺∇J of table policies: exact against a dense Fisher solved by least
squares, sampled against exact as N grows, and what it buys on CliffWalking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pgexp.envs import FiniteMDP
from pgexp.errors import ConfigError
from pgexp.estimators import ExactGradient, MinibatchGradient
from pgexp.rollout import Sampler
from pgexp.run import run
from tests.helpers import compose, quiet, random_policy, sample_keys, small_mdps

SMALL = small_mdps()


def dense_natural(mdp: FiniteMDP, pi: np.ndarray, logit_grad: np.ndarray) -> np.ndarray:
    """[S', A] the least-norm solution of F y = g over the policy's logits, F built densely:
    F = Σ_t γ^t Σ_s d_t(s) (diag π_s − π_s π_sᵀ) (a numpy forward recursion of its own), block
    diagonal (one block per state), each block solved by its pseudo-inverse."""
    S, A, S_pol = mdp.n_states, mdp.n_actions, mdp.n_policy_states
    P = np.zeros((S, A, S))
    np.add.at(P, (mdp.entry_state.numpy(), mdp.entry_action.numpy(), mdp.entry_next.numpy()),
              mdp.entry_prob.numpy())  # fmt: skip
    d, weight = mdp.mu0.numpy().copy(), np.zeros(S)
    for t in range(mdp.horizon):
        weight += mdp.discount**t * d
        d = np.einsum("s,sa,sat->t", d, pi, P)
    blocks = [weight[s] * (np.diag(pi[s]) - np.outer(pi[s], pi[s])) for s in range(S_pol)]
    return np.stack(
        [np.linalg.pinv(F, rcond=1e-12) @ g for F, g in zip(blocks, logit_grad, strict=True)]
    )


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_exact_natural_gradient_solves_the_dense_fisher_system(name: str) -> None:
    mdp = SMALL[name]
    policy = random_policy(mdp, 3)
    plain = ExactGradient(mdp).estimate(policy).grad[0].view(mdp.n_policy_states, -1)
    natural = ExactGradient(mdp, natural=True).estimate(policy).grad[0]
    pi = policy.probs()[0].detach().numpy()
    expected = dense_natural(mdp, pi, plain.numpy())
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(natural.view_as(plain).numpy() - expected).max() <= 1e-8 * scale


def test_the_sampled_natural_gradient_approaches_the_exact_one_as_n_grows() -> None:
    """Consistent (a ratio of two sampled sums, not unbiased): its error falls like 1/√N, about
    10× from N = 200 to 20000."""
    mdp = SMALL["chain_T6_discounted"]
    policy = random_policy(mdp, 1)
    exact = ExactGradient(mdp, natural=True).estimate(policy).grad[0]

    def error(n: int) -> float:
        est = MinibatchGradient(Sampler(mdp), n, natural=True)
        errors = [float((est.estimate(policy, sample_keys(5, k)).grad[0] - exact).norm())
                  for k in range(6)]  # fmt: skip
        return float(np.mean(errors)) / float(exact.norm())

    small, large = error(200), error(20_000)
    assert 5 < small / large < 20, (small, large)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["policy=linear_softmax", "estimator.natural=true"], "needs policy=tabular_softmax"),
        (["estimator.method=enumerate", "estimator.natural=true"], "needs estimator.method=dp"),
    ],
)
def test_a_natural_gradient_that_is_not_built_is_refused_by_key(
    overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^estimator\.natural=true {message}"):
        compose(quiet(overrides))


def test_on_cliffwalking_the_natural_gradient_leaves_the_plateau_where_plain_ascent_stays(
    tmp_path: Path,
) -> None:
    """T = 30 from the uniform policy: J* = −13; plain exact ascent stays at −30 (walking into
    the wall beats the cliff), the exact natural gradient passes −20 within 100 steps."""
    base = ["env=cliffwalking", "env.horizon=30", "train.iters=100", "train.lr=1.0",
            "train.eval_episodes=0"]  # fmt: skip
    plain = run(compose(quiet(base)), tmp_path / "plain")
    natural = run(compose(quiet([*base, "estimator.natural=true"])), tmp_path / "natural")
    assert plain.J_star == natural.J_star == pytest.approx(-13.0, abs=1e-12)
    assert plain.J_final is not None and natural.J_final is not None
    assert plain.J_final < -29.9 and natural.J_final > -20
    assert natural.grad_reference == "exact natural"
    torch.testing.assert_close(
        torch.tensor(natural.J_final), torch.tensor(-16.97), atol=0.01, rtol=0
    )
