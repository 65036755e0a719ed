"""A run computes the same bits however it is obtained: alone or in any batch at any position,
sampled whole or in chunks, resumed or uninterrupted, on one thread or several.

Hypothesis draws the cases: table policies (tabular, linear features) on FrozenLake, chains
and garnets with either estimator; MLPs with random hidden sizes, one-wide layers included, on
CartPole and Acrobot; Gaussian policies on Pendulum (a one-wide mean head); N from 1 to 300,
both returns, every baseline (value and optimal with table policies), both optimizers, float64
and float32, batches of 2 to 5 runs.
Each property runs a few examples in the fast tier and a longer profile in the slow tier.
Timing keys aside, metrics, summaries and final parameters must be equal, not close.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pgexp.checkpoint import CHECKPOINT, load
from pgexp.job import Job
from pgexp.run import build, prepare, run_batch
from pgexp.training import train
from tests.helpers import compose, quiet
from tests.test_batching import outputs

Profile = tuple[int, bool]
PROFILES = [
    pytest.param((8, True), id="fast"),
    pytest.param((60, False), id="long", marks=pytest.mark.slow),
]
"""(examples, derandomize) of each property: a few fixed ones by default, more at random."""

SIZES = st.one_of(st.just(1), st.integers(1, 24))
"""Hidden-layer widths, one-wide layers often."""


@st.composite
def configs(draw: st.DrawFn) -> list[str]:
    """The overrides of one config: an env, a policy, an estimator, an optimizer."""
    kind = draw(st.sampled_from(["tabular", "linear", "mlp", "gaussian"]))
    if kind in ("tabular", "linear"):
        env = draw(st.sampled_from(["frozenlake4x4", "chain", "garnet"]))
        overrides = [f"env={env}", f"env.horizon={draw(st.integers(1, 30))}"]
        if env == "garnet":
            states = draw(st.integers(2, 12))
            branching = draw(st.integers(1, min(3, states)))
            overrides += [f"env.n_states={states}", f"env.branching={branching}",
                          f"env.seed={draw(st.integers(0, 9))}", "env.discount=0.9"]  # fmt: skip
        if kind == "tabular":
            overrides += ["policy=tabular_softmax", "policy.init=normal",
                          f"policy.time_dependent={draw(st.booleans())}"]  # fmt: skip
        else:
            overrides += ["policy=linear_softmax", "policy.features=random",
                          f"policy.dim={draw(st.integers(1, 9))}"]  # fmt: skip
        exact = draw(st.booleans())
        max_n = 300
    else:
        env = "pendulum" if kind == "gaussian" else draw(st.sampled_from(["cartpole", "acrobot"]))
        hidden = draw(st.lists(SIZES, min_size=1, max_size=3))
        overrides = [f"env={env}", f"env.horizon={draw(st.integers(1, 60))}",
                     f"policy={'gaussian' if kind == 'gaussian' else 'mlp'}",
                     f"policy.hidden=[{','.join(map(str, hidden))}]",
                     f"policy.activation={draw(st.sampled_from(['tanh', 'relu']))}"]  # fmt: skip
        if kind == "gaussian":
            overrides.append(f"policy.state_dependent_std={draw(st.booleans())}")
        exact = False
        max_n = 200
    natural = draw(st.booleans())
    if exact:
        overrides.append("estimator=exact")
    else:
        n = draw(st.integers(1, max_n))
        baselines = ["none", "mean", "leave_one_out"] if n > 1 else ["none"]
        if kind in ("tabular", "linear"):
            baselines += ["value"] if natural or n == 1 else ["value", "optimal"]
        overrides += ["estimator=minibatch", f"estimator.N={n}",
                      f"estimator.returns={draw(st.sampled_from(['total', 'reward_to_go']))}",
                      f"estimator.baseline={draw(st.sampled_from(baselines))}"]  # fmt: skip
    if natural:
        overrides.append("estimator.natural=true")
        if kind != "tabular":  # conjugate gradients
            overrides.append(f"estimator.cg_iters={draw(st.integers(1, 4))}")
    optimizer = draw(st.sampled_from(["sgd", "adam"]))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    return [*overrides, f"train.optimizer={optimizer}", f"train.iters={draw(st.integers(2, 3))}",
            f"hardware.dtype={dtype}"]  # fmt: skip


RATES = {"sgd": st.sampled_from([0.01, 0.1, 1.0]), "adam": st.sampled_from([0.001, 0.01, 0.1])}


def rate(draw: Callable[[Any], Any], base: list[str]) -> float:
    return float(draw(RATES["adam" if "train.optimizer=adam" in base else "sgd"]))


def job(root: Path, base: list[str], seed: int, lr: float, tag: str) -> Job:
    # a checkpoint after every iteration: a diverged run keeps its last finite parameters there
    overrides = [*base, f"seed={seed}", f"train.lr={lr}", "train.eval_episodes=7",
                 "train.checkpoint_every=1"]  # fmt: skip
    return Job(compose(quiet(overrides)), root / tag)


def result(run_dir: Path) -> tuple[Any, ...]:
    """Metrics and summary (timing aside) and the final parameters of a run, for ``==``."""
    params = load(run_dir / CHECKPOINT).params
    return (*outputs(run_dir), {name: p.tolist() for name, p in params.items()})


def explore(
    test: Callable[..., None], strategy: st.SearchStrategy[Any], profile: tuple[int, bool]
) -> None:
    examples, derandomize = profile
    slow = [HealthCheck.too_slow, HealthCheck.data_too_large]
    checks = settings(
        max_examples=examples, deadline=None, derandomize=derandomize, suppress_health_check=slow
    )
    checks(given(strategy)(test))()


@pytest.fixture(autouse=True)
def restore_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def alone_and_batched(case: tuple[list[str], list[tuple[int, float]], int]) -> None:
    base, companions, position = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        jobs = [job(root, base, s, lr, f"batch-{i}") for i, (s, lr) in enumerate(companions)]
        run_batch(jobs)
        seed, lr = companions[position]
        alone = job(root, base, seed, lr, "alone")
        run_batch([alone])
        assert result(jobs[position].run_dir) == result(alone.run_dir), (base, companions)


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, float]], int]:
    base = draw(configs())
    size = draw(st.integers(2, 5))
    companions = [(draw(st.integers(0, 2**20)), rate(draw, base)) for _ in range(size)]
    return base, companions, draw(st.integers(0, size - 1))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_run_computes_the_same_bits_alone_and_at_any_place_in_any_batch(
    profile: tuple[int, bool],
) -> None:
    explore(alone_and_batched, batches(), profile)


def chunked_and_whole(case: tuple[list[str], int, int]) -> None:
    base, chunk, seed = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lr = 0.01 if "train.optimizer=adam" in base else 0.1
        whole = job(root, base, seed, lr, "whole")
        parts = job(root, [*base, f"estimator.chunk={chunk}"], seed, lr, "chunked")
        run_batch([whole])
        run_batch([parts])
        assert result(parts.run_dir) == result(whole.run_dir), (base, chunk)


@st.composite
def chunkings(draw: st.DrawFn) -> tuple[list[str], int, int]:
    base = draw(configs().filter(lambda b: "estimator=minibatch" in b))
    n = int(next(o for o in base if o.startswith("estimator.N=")).split("=")[1])
    return base, draw(st.integers(max(1, n // 8), n)), draw(st.integers(0, 2**20))  # ≤ 8 chunks


@pytest.mark.parametrize("profile", PROFILES)
def test_a_chunked_estimate_trains_the_bits_of_the_whole_batch(profile: Profile) -> None:
    explore(chunked_and_whole, chunkings(), profile)


def resumed_and_uninterrupted(case: tuple[list[str], list[tuple[int, float]], int]) -> None:
    """Jobs trained k iterations and stopped after their checkpoint (as a kill would leave
    them) continue, through the real resume path, to what uninterrupted jobs write."""
    base, companions, k = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stopped = [job(root, base, s, lr, f"stopped-{i}") for i, (s, lr) in enumerate(companions)]
        pieces = build(stopped[0].cfg, [j.cfg.seed for j in stopped])
        first = prepare(stopped, [None] * len(stopped), pieces, pieces.policy)
        train(first.batch, pieces.gradients, k, progress=False)
        for out in first.batch.runs:
            out.writer.close()
        assume(len(first.batch.active) == len(stopped))  # a diverged run is over, not stopped
        first.batch.save_checkpoints()
        run_batch(stopped)
        straight = [job(root, base, s, lr, f"straight-{i}") for i, (s, lr) in enumerate(companions)]
        run_batch(straight)
        for a, b in zip(stopped, straight, strict=True):
            assert result(a.run_dir) == result(b.run_dir), (base, companions, k)


@st.composite
def interruptions(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, float]], int]:
    base = draw(configs())
    iters = int(next(o for o in base if o.startswith("train.iters=")).split("=")[1])
    size = draw(st.integers(1, 3))
    companions = [(draw(st.integers(0, 2**20)), rate(draw, base)) for _ in range(size)]
    return base, companions, draw(st.integers(1, iters - 1))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_resumed_run_computes_the_bits_of_an_uninterrupted_one(profile: Profile) -> None:
    explore(resumed_and_uninterrupted, interruptions(), profile)


def one_thread_and_several(case: tuple[list[str], int, int]) -> None:
    base, threads, seed = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lr = 0.01 if "train.optimizer=adam" in base else 0.1
        one = job(root, [*base, "hardware.threads=1"], seed, lr, "one")
        several = job(root, [*base, f"hardware.threads={threads}"], seed, lr, "several")
        run_batch([one])
        run_batch([several])
        assert result(one.run_dir) == result(several.run_dir), (base, threads)


@st.composite
def thread_counts(draw: st.DrawFn) -> tuple[list[str], int, int]:
    return draw(configs()), draw(st.integers(2, 4)), draw(st.integers(0, 2**20))


@pytest.mark.parametrize("profile", PROFILES)
def test_the_thread_count_changes_no_bit(profile: Profile) -> None:
    explore(one_thread_and_several, thread_counts(), profile)


PENDULUM = ["env=pendulum", "policy=gaussian", "estimator=minibatch", "estimator.N=16",
            "train.optimizer=adam", "train.lr=0.001", "train.iters=15"]  # fmt: skip


def test_pendulum_seed_1_computes_alone_what_it_computes_batched_with_seed_2() -> None:
    """The case that once broke: a one-wide mean head over ≥ 64 rows summed in another order
    by a batched product for two runs than for one."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pair = [job(root, PENDULUM, s, 0.001, f"batch-{s}") for s in (1, 2)]
        run_batch(pair)
        alone = job(root, PENDULUM, 1, 0.001, "alone")
        run_batch([alone])
        assert result(pair[0].run_dir) == result(alone.run_dir)


ELEMENTWISE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "exp": torch.exp,
    "log": lambda x: torch.log(x.abs() + 1e-3),
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sqrt": lambda x: x.abs().sqrt(),
    "ndtri": lambda x: torch.special.ndtri((x.tanh() + 1.001) / 2.01),
    "remainder": lambda x: torch.remainder(x + 3.14, 6.28),
    "round": lambda x: torch.round(x / 6.28),
    "discount powers": lambda x: 0.97 ** x.abs().floor(),
    "lerp": lambda x: torch.lerp(x, x * 0.7 + 1, 0.1),
    "addcmul": lambda x: torch.addcmul(x, x, x * 0.3 + 0.1, value=0.001),
    "softmax rows": lambda x: torch.softmax(x.view(-1, 2), -1).flatten(),
    "log_softmax rows": lambda x: torch.log_softmax(x.view(-1, 2), -1).flatten(),
    "normal log_prob": lambda x: torch.distributions.Normal(
        x * 0.1, (x * 0.01).exp(), validate_args=False
    ).log_prob(x + 0.5),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_the_elementwise_functions_pgexp_uses_round_alike_wherever_an_element_lies(
    name: str,
) -> None:
    """A kernel may treat the tail of a tensor (past its last whole vector) with other code
    than the body; for some functions of this torch (sigmoid, atan2, pow with a fractional
    exponent) that rounds differently, so an element's value would depend on the length of its
    tensor, which the number of runs or trajectories sets. pgexp uses none of those; these it
    does use round each element alike at any offset and length, and on any number of threads."""
    f = ELEMENTWISE[name]
    x = torch.randn(20_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    whole = f(x)
    for length in [*range(2, 70, 2), 1000, 4098]:
        for offset in (0, 2, 6, 8, 14):
            assert torch.equal(
                f(x[offset : offset + length].clone()), whole[offset : offset + length]
            )
    torch.set_num_threads(2)
    assert torch.equal(f(x), whole)
