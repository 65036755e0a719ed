"""The natural gradient: of tabular softmax policies in closed form, exact against a dense
Fisher solved by least squares and sampled against exact as N grows; of every other policy by
conjugate gradients on Fisher-vector products, against dense Fishers built from score outer
products (actions enumerated or the Gaussian's closed form) and against the closed form; and
what it buys on CliffWalking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pgexp.config import Activation, NetInit, TableInit
from pgexp.envs import FiniteMDP, make_batched_env
from pgexp.errors import ConfigError
from pgexp.estimators import ExactGradient, MinibatchGradient, flat_grad
from pgexp.estimators.natural import CG, Fisher
from pgexp.estimators.occupancy import SparseMDP, value_logit_grad_and_visits
from pgexp.policies import CategoricalMLP, GaussianMLP, LinearSoftmax, Policy
from pgexp.rollout import BatchedEnvSampler, Sampler
from pgexp.run import run
from tests.helpers import compose, quiet, random_policy, sample_keys, small_mdps

SMALL = small_mdps()


def occupancy(mdp: FiniteMDP, pi: np.ndarray) -> np.ndarray:
    """[S] Σ_t γ^t d_t(s), by a numpy forward recursion of its own."""
    S, A = mdp.n_states, mdp.n_actions
    P = np.zeros((S, A, S))
    np.add.at(P, (mdp.entry_state.numpy(), mdp.entry_action.numpy(), mdp.entry_next.numpy()),
              mdp.entry_prob.numpy())  # fmt: skip
    d, weight = mdp.mu0.numpy().copy(), np.zeros(S)
    for t in range(mdp.horizon):
        weight += mdp.discount**t * d
        d = np.einsum("s,sa,sat->t", d, pi, P)
    return weight


def dense_natural(mdp: FiniteMDP, pi: np.ndarray, logit_grad: np.ndarray) -> np.ndarray:
    """[S', A] the least-norm solution of F y = g over the policy's logits, F built densely:
    F = Σ_t γ^t Σ_s d_t(s) (diag π_s − π_s π_sᵀ), block diagonal (one block per state), each
    block solved by its pseudo-inverse."""
    weight = occupancy(mdp, pi)
    blocks = [weight[s] * (np.diag(pi[s]) - np.outer(pi[s], pi[s]))
              for s in range(mdp.n_policy_states)]  # fmt: skip
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


def test_an_enumerated_natural_gradient_is_refused_by_key() -> None:
    with pytest.raises(ConfigError, match=r"^estimator\.natural=true needs estimator\.method=dp"):
        compose(quiet(["estimator.method=enumerate", "estimator.natural=true"]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["estimator.cg_iters=0"], "estimator.cg_iters must be an integer >= 1 (got 0)"),
        (["estimator.damping=-1"], "estimator.damping must be a finite number >= 0 (got -1.0)"),
    ],
)
def test_bad_conjugate_gradient_settings_are_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        compose(quiet(overrides))
    assert str(error.value) == message


def test_conjugate_gradients_on_a_table_reach_its_closed_form() -> None:
    """With no damping and enough steps, CG on the sampled Fisher of a tabular softmax (singular:
    one null direction per state) reaches the least-norm F̂⁺ĝ of the closed form, and CG on the
    occupancy-weighted Fisher the exact natural gradient."""
    mdp = SMALL["garnet_T4_discounted_by_step"]
    policy = random_policy(mdp, 2)
    keys, n, P = sample_keys(4), 60, next(policy.parameters())[0].numel()
    plain = MinibatchGradient(Sampler(mdp), n).estimate(policy, keys).grad
    closed = MinibatchGradient(Sampler(mdp), n, natural=True).estimate(policy, keys).grad
    sampled = Fisher(policy, CG(3 * P, 0.0))
    sampled.add_sampled(Sampler(mdp).sample(policy, keys, n), mdp.discount, n)
    torch.testing.assert_close(sampled.solve(plain), closed, rtol=0, atol=1e-9)
    pi = policy.probs().detach()
    _, logit_grad, visits = value_logit_grad_and_visits(SparseMDP.of(mdp, torch.float64), pi)
    visits[:, mdp.n_policy_states :] = 0  # the absorbing state
    exact = Fisher(policy, CG(3 * P, 0.0))
    exact.add(torch.arange(mdp.n_states).expand_as(visits), visits)
    natural = ExactGradient(mdp, natural=True).estimate(policy).grad
    torch.testing.assert_close(exact.solve(policy.logit_vjp(logit_grad)), natural, rtol=0,
                               atol=1e-9 * float(natural.abs().max()))  # fmt: skip


def test_the_exact_natural_gradient_of_a_linear_policy_solves_its_dense_fisher() -> None:
    """F = Σ_s w(s) Φ_sᵀ (diag π_s − π_s π_sᵀ) Φ_s with w the numpy occupancy; (F + λI)x = ∇J."""
    mdp = SMALL["garnet_T4"]
    gen = torch.Generator().manual_seed(6)
    phi = torch.randn(mdp.n_states, mdp.n_actions, 4, generator=gen, dtype=torch.float64)
    policy = LinearSoftmax(phi, TableInit.normal, 1.0, [gen])
    damping = 1e-3
    natural = ExactGradient(mdp, natural=True, cg=CG(40, damping)).estimate(policy).grad[0]
    plain = ExactGradient(mdp).estimate(policy).grad[0].numpy()
    pi = policy.probs()[0].detach().numpy()
    weight, features = occupancy(mdp, pi), phi.numpy()
    F = sum(weight[s] * features[s].T @ (np.diag(pi[s]) - np.outer(pi[s], pi[s])) @ features[s]
            for s in range(mdp.n_policy_states))  # fmt: skip
    expected = np.linalg.solve(F + damping * np.eye(4), plain)
    np.testing.assert_allclose(natural.numpy(), expected, rtol=1e-9, atol=1e-12)


def score_outer_products(policy: Policy, obs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[P, P] Σ_j w_j Σ_a π(a|o_j) ∇log π(a|o_j) ∇log π(a|o_j)ᵀ of a categorical policy (one
    run), each score by autograd through log_prob: the Fisher from its definition."""
    params = list(policy.parameters())
    total = torch.zeros(sum(p.numel() for p in params), sum(p.numel() for p in params),
                        dtype=torch.float64)  # fmt: skip
    for o, w in zip(obs, weights, strict=True):
        for a in range(2):
            logp = policy.log_prob(o.view(1, 1, -1), torch.tensor([[a]]))[0, 0]
            score = flat_grad(logp, params)[0]
            total += w * logp.exp().detach() * torch.outer(score, score)
    return total


def jacobian_row(x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """[P] ∂x/∂θ, the graph kept for the next row."""
    grads = torch.autograd.grad(x, params, retain_graph=True, materialize_grads=True)
    return torch.cat([g.flatten() for g in grads])


def gaussian_fisher(policy: GaussianMLP, obs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[P, P] Σ_j w_j (J_μᵀ diag(σ⁻²) J_μ + 2 J_{log σ}ᵀ J_{log σ}) at each o_j: the Gaussian's
    Fisher in (μ, log σ) mapped to the parameters by their Jacobians (autograd, row by row)."""
    params = list(policy.parameters())
    P = sum(p.numel() for p in params)
    total = torch.zeros(P, P, dtype=torch.float64)
    for o, w in zip(obs, weights, strict=True):
        mean, log_std = policy.mean_log_std(o.view(1, 1, -1))
        for d in range(mean.shape[-1]):
            j_mean, j_std = (jacobian_row(x[0, 0, d], params) for x in (mean, log_std))
            precision = torch.exp(-2 * log_std[0, 0, d]).detach()
            total += w * (precision * torch.outer(j_mean, j_mean) + 2 * torch.outer(j_std, j_std))
    return total


@pytest.mark.parametrize("kind", ["categorical", "gaussian", "gaussian_head"])
def test_conjugate_gradients_solve_the_dense_fisher_of_a_network(kind: str) -> None:
    """A CartPole (categorical) or Pendulum (Gaussian) batch of 3 trajectories: the mini-batch
    natural gradient equals (F̂ + λI)⁻¹ĝ with F̂ = Σ_t γ^t/N F(s_t) over the live steps built
    densely from its definition, ĝ the plain estimate of the same trajectories."""
    gens = [torch.Generator().manual_seed(1)]
    if kind == "categorical":
        env = make_batched_env("cartpole", horizon=12, discount=0.9)
        policy: Policy = CategoricalMLP(4, 2, [3], Activation.tanh, NetInit.default, gens)
    else:
        env = make_batched_env("pendulum", horizon=8, discount=0.9)
        head = kind == "gaussian_head"
        policy = GaussianMLP(3, 1, [3], Activation.tanh, NetInit.default, gens, head, -0.5)
    sampler, keys, n, damping = BatchedEnvSampler(env), sample_keys(2), 3, 1e-2
    P = sum(p.numel() for p in policy.parameters())
    plain = MinibatchGradient(sampler, n).estimate(policy, keys).grad[0]
    natural = MinibatchGradient(sampler, n, natural=True, cg=CG(4 * P, damping))
    solved = natural.estimate(policy, keys).grad[0]
    batch = sampler.sample(policy, keys, n)
    steps = torch.arange(batch.alive.shape[-1], dtype=torch.float64)
    weights = (0.9**steps * batch.alive / n)[0][batch.alive[0]]
    obs = batch.states[0][batch.alive[0]]
    dense = (score_outer_products(policy, obs, weights) if kind == "categorical"
             else gaussian_fisher(policy, obs, weights))  # type: ignore[arg-type]  # fmt: skip
    expected = torch.linalg.solve(dense + damping * torch.eye(P, dtype=torch.float64), plain)
    assert float(plain.abs().max()) > 1e-3
    torch.testing.assert_close(solved, expected, rtol=1e-7, atol=1e-9 * float(expected.abs().max()))


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


def test_a_networks_natural_gradient_is_its_own_alone_and_in_chunks() -> None:
    """Three CartPole runs in one batch, each run alone, and the batch sampled 4 trajectories at
    a time: the same conjugate-gradient solution, bit for bit."""
    sampler = BatchedEnvSampler(make_batched_env("cartpole", horizon=40))
    seeds = [3, 4, 5]
    keys = sample_keys(seeds)

    def policy(of: list[int]) -> CategoricalMLP:
        gens = [torch.Generator().manual_seed(s) for s in of]
        return CategoricalMLP(4, 2, [8, 8], Activation.tanh, NetInit.orthogonal, gens)

    cg = CG(6, 1e-3)
    together = MinibatchGradient(sampler, 10, natural=True, cg=cg).estimate(policy(seeds), keys)
    chunked = MinibatchGradient(sampler, 10, chunk=4, natural=True, cg=cg)
    assert torch.equal(chunked.estimate(policy(seeds), keys).grad, together.grad)
    for r, seed in enumerate(seeds):
        alone = MinibatchGradient(sampler, 10, natural=True, cg=cg)
        grad = alone.estimate(policy([seed]), keys[r : r + 1]).grad[0]
        assert torch.equal(grad, together.grad[r])
    plain = MinibatchGradient(sampler, 10).estimate(policy(seeds), keys).grad
    assert not torch.allclose(plain, together.grad)
