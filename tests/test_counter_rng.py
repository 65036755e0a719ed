"""The counter-based generator: known answers, invariance to how draws are grouped, statistics."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from pgexp.counter_rng import (
    IterationKeys,
    Stream,
    _int32,
    _uint,
    fold_in,
    seed_keys,
    stream_keys,
    threefry2x32,
    uniforms,
)
from tests.helpers import requires_cuda

# Threefry-2x32-20 known answers (Random123's kat_vectors, also JAX's tests): key, counter, output
KNOWN_ANSWERS = [
    ((0x0, 0x0), (0x0, 0x0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


def words(*values: int) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = (_int32(torch.tensor([v])) for v in values)
    return a, b


@pytest.mark.parametrize(("key", "counter", "expected"), KNOWN_ANSWERS)
def test_threefry_gives_the_published_answers(key: tuple, counter: tuple, expected: tuple) -> None:
    out = threefry2x32(words(*key), words(*counter))
    assert tuple(int(_uint(w)) for w in out) == expected


def test_a_draw_depends_on_its_counter_only_not_on_its_companions() -> None:
    keys = stream_keys(seed_keys([3, 1, 4, 1, 5]), Stream.sample, 9)
    full = uniforms(keys, (0, 50), (0, 40))
    # another slice of trajectories and draws, other runs beside it, the other layout
    part = uniforms(keys[[4, 2]], (10, 7), (33, 5))
    assert torch.equal(part, full[[4, 2], 10:17, 33:38])
    major = uniforms(keys[[1]], (0, 50), (0, 40), draw_major=True)
    assert torch.equal(major.permute(1, 2, 0), full[[1]])
    # equal seeds give equal numbers, wherever they sit in the batch
    assert torch.equal(full[1], full[3])


def test_iteration_keys_are_the_stream_keys_across_blocks_and_batches() -> None:
    keys = IterationKeys(Stream.sample, block=3)
    run_keys = seed_keys([3, 1, 4])
    for k in [1, 2, 3, 4, 9, 5]:  # block boundaries, a jump ahead and one back
        assert torch.equal(keys(run_keys, k), stream_keys(run_keys, Stream.sample, k))
    fewer = run_keys[[0, 2]]  # a run left the batch: its keys tensor is new
    assert torch.equal(keys(fewer, 6), stream_keys(fewer, Stream.sample, 6))


def test_uniforms_lie_strictly_inside_the_unit_interval_on_a_53_bit_grid() -> None:
    u = uniforms(seed_keys([0]), (0, 1000), (0, 1000)).flatten()
    assert float(u.min()) > 0 and float(u.max()) < 1
    k = u * 2.0**53 - 0.5
    assert torch.equal(k, k.round())  # (k + 1/2) / 2^53 exactly


def test_uniforms_are_uniform() -> None:
    """Kolmogorov-Smirnov on 10⁶ draws, and chi-square on 1000 bins (fixed seed)."""
    u = uniforms(stream_keys(seed_keys([12]), Stream.eval), (0, 1000), (0, 1000)).flatten()
    assert stats.kstest(u.numpy(), "uniform").pvalue > 1e-3
    counts = torch.bincount((u * 1000).long(), minlength=1000).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3
    # the mean and variance of U(0, 1) within 5 standard errors
    n = u.numel()
    assert abs(float(u.mean()) - 0.5) < 5 * (1 / 12 / n) ** 0.5
    assert abs(float(u.var()) - 1 / 12) < 5 * (1 / 180 / n) ** 0.5


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


def test_neighbouring_counters_seeds_streams_and_iterations_are_uncorrelated() -> None:
    """Each pair: 2.5·10⁵ draws, |correlation| below 5/√n, and their joint histogram flat."""
    n_traj, n_draw = 500, 500
    limit = 5 / (n_traj * n_draw) ** 0.5
    run = seed_keys([0, 1, 2**40])
    base = uniforms(stream_keys(run, Stream.sample, 1), (0, n_traj), (0, n_draw))
    pairs = {
        "next draw": (base[0, :, :-1], base[0, :, 1:]),
        "next trajectory": (base[0, :-1], base[0, 1:]),
        "seed 0 / seed 1": (base[0], base[1]),
        "seed 0 / seed 2^40": (base[0], base[2]),
        "next iteration": (
            base[0],
            uniforms(stream_keys(run, Stream.sample, 2), (0, n_traj), (0, n_draw))[0],
        ),
        "another stream": (
            base[0],
            uniforms(stream_keys(run, Stream.reference, 1), (0, n_traj), (0, n_draw))[0],
        ),
    }
    for name, (a, b) in pairs.items():
        assert abs(correlation(a, b)) < limit, name
        joint = torch.bincount(
            (a * 10).long().flatten() * 10 + (b * 10).long().flatten(), None, 100
        )
        assert stats.chisquare(joint.numpy()).pvalue > 1e-4, name


def test_folding_in_different_data_gives_different_keys() -> None:
    keys = seed_keys(list(range(100)))
    assert len({tuple(k) for k in keys.tolist()}) == 100
    folded = torch.cat([fold_in(keys[:1], d) for d in range(100)])
    assert len({tuple(k) for k in folded.tolist()}) == 100
    assert keys.min() >= 0 and keys.max() < 2**32


def test_seeds_beyond_32_bits_are_distinct() -> None:
    keys = seed_keys([5, 5 + 2**32, 2**64 - 1])
    assert len({tuple(k) for k in keys.tolist()}) == 3


@pytest.mark.gpu
@requires_cuda
def test_cuda_draws_the_same_numbers_as_the_cpu() -> None:
    keys = stream_keys(seed_keys([0, 7, 2**50]), Stream.sample, 3)
    cpu = uniforms(keys, (5, 300), (2, 400))
    gpu = uniforms(keys.cuda(), (5, 300), (2, 400))
    assert torch.equal(gpu.cpu(), cpu)
