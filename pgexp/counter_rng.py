"""Counter-based random numbers: every draw is a pure function of (key, counter).

The generator is Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy
as 1, 2, 3", SC 2011), the generator JAX uses, written with torch int32 tensors (additions wrap
modulo 2³²; right shifts are masked so that they act as logical shifts). Because a draw depends
only on its key and counter, it does not depend on how many other draws share a tensor, on the
order they are computed in, or on the device: a run's random numbers are the same alone or in a
batch of runs, in one chunk or in many, on the CPU or on a GPU.

Keys are derived the way JAX's ``fold_in`` does: the run's key is Threefry of its ``seed``,
a stream's key is Threefry of the run key and the stream's number, an iteration's key Threefry
of the stream key and the iteration. Within an iteration the counter is
(trajectory index, draw index within the trajectory).
"""

from __future__ import annotations

from enum import IntEnum

import torch

MASK32 = 0xFFFFFFFF
ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
KEY_PARITY = 0x1BD11BDA


class Stream(IntEnum):
    """The independent uses of random numbers within a run."""

    sample = 1
    """Training rollouts: iteration k uses the key folded with k."""
    eval = 2
    """The final evaluation rollouts (iteration 0)."""
    reference = 3
    """The rollouts of the ``train.reference_N`` reference estimate."""
    study = 4
    """The draws of ``pgexp-study`` (one key per N of its grid, then one per draw)."""


def _int32(x: torch.Tensor) -> torch.Tensor:
    """Values in [0, 2³²) (any integer dtype) as int32 bit patterns."""
    x = x.to(torch.int64) & MASK32
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


def _uint(x: torch.Tensor) -> torch.Tensor:
    """int32 bit patterns as int64 values in [0, 2³²)."""
    return x.to(torch.int64) & MASK32


def threefry2x32(
    key: tuple[torch.Tensor, torch.Tensor], counter: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Threefry-2x32-20 of int32 key words and counter words (broadcast together).

    Returns the two int32 output words (bit patterns of unsigned 32-bit values), as new
    contiguous tensors of the broadcast shape. The rounds work in place (no tensor allocated
    per operation).
    """
    k0, k1 = key
    k2 = k0 ^ k1 ^ KEY_PARITY
    schedule = (k0, k1, k2)
    x0 = counter[0] + k0
    x1 = counter[1] + k1
    # (torch.broadcast_shapes would import torch.fx: a second of start-up)
    x0, x1 = (x.contiguous() for x in torch.broadcast_tensors(x0, x1))
    low_bits = torch.empty_like(x1)
    for block in range(5):
        for r in ROTATIONS[4 * (block % 2) : 4 * (block % 2) + 4]:
            x0 += x1
            torch.bitwise_right_shift(x1, 32 - r, out=low_bits)
            low_bits &= (1 << r) - 1  # a logical shift of the int32 pattern
            x1 <<= r
            x1 |= low_bits
            x1 ^= x0
        x0 += schedule[(block + 1) % 3]
        x1 += schedule[(block + 2) % 3] + (block + 1)
    return x0, x1


def fold_in(keys: torch.Tensor, data: int) -> torch.Tensor:
    """[R, 2] int64 keys, each mixed with ``data`` (an integer in [0, 2³²)): new [R, 2] keys."""
    return fold_in_each(keys, range(data, data + 1))[0]


def fold_in_each(keys: torch.Tensor, data: range) -> torch.Tensor:
    """[K, R, 2] int64: keys [R, 2] mixed with each of the K integers of ``data`` (in [0, 2³²)),
    in one Threefry call."""
    dev = keys.device
    k = _int32(keys)
    d = _int32(torch.arange(data.start, data.stop, dtype=torch.int64, device=dev)).view(-1, 1)
    zero = torch.zeros((), dtype=torch.int32, device=dev)
    x0, x1 = threefry2x32((k[:, 0], k[:, 1]), (d, zero))
    return torch.stack((_uint(x0), _uint(x1)), dim=-1)


def seed_keys(seeds: list[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """[R, 2] int64 run keys of seeds in [0, 2⁶⁴)."""
    words = [(s & MASK32, (s >> 32) & MASK32) for s in seeds]
    raw = torch.tensor(words, dtype=torch.int64, device=device).view(len(seeds), 2)
    zero = torch.zeros((), dtype=torch.int32, device=device)
    x0, x1 = threefry2x32((zero, zero), (_int32(raw[:, 0]), _int32(raw[:, 1])))
    return torch.stack((_uint(x0), _uint(x1)), dim=1)


def stream_keys(run_keys: torch.Tensor, stream: Stream, iteration: int = 0) -> torch.Tensor:
    """[R, 2] keys of ``stream`` at ``iteration`` for run keys [R, 2]."""
    return fold_in(fold_in(run_keys, int(stream)), iteration)


class IterationKeys:
    """:func:`stream_keys` of one stream at successive iterations, derived ``block`` iterations
    per Threefry call (on a few keys a call costs its ~140 small operations whatever its size:
    about a millisecond per iteration otherwise). A new tensor of run keys starts afresh."""

    def __init__(self, stream: Stream, block: int = 1024) -> None:
        self.stream, self.block = stream, block
        self._run_keys: torch.Tensor | None = None
        self._first, self._keys = 0, torch.empty((0, 0, 2), dtype=torch.int64)

    def __call__(self, run_keys: torch.Tensor, iteration: int) -> torch.Tensor:
        """[R, 2] ``stream_keys(run_keys, stream, iteration)``."""
        offset = iteration - self._first
        if run_keys is not self._run_keys or not 0 <= offset < self._keys.shape[0]:
            stream = fold_in(run_keys, int(self.stream))
            self._keys = fold_in_each(stream, range(iteration, iteration + self.block))
            self._run_keys, self._first, offset = run_keys, iteration, 0
        return self._keys[offset]


def uniforms(
    keys: torch.Tensor,
    trajectories: tuple[int, int],
    draws: tuple[int, int],
    draw_major: bool = False,
) -> torch.Tensor:
    """[R, n, m] float64 uniforms in (0, 1) for keys [R, 2] ([m, R, n] if ``draw_major``).

    The uniform of run r, trajectory ``trajectories[0] + i`` and draw ``draws[0] + j`` is a
    function of ``keys[r]`` and those two indices only (``trajectories`` and ``draws`` are
    (start, count) pairs). Each uniform takes 53 bits of one Threefry block: (k + ½) / 2⁵³ for
    an integer k in [0, 2⁵³), so it is never 0 or 1.
    """
    dev = keys.device
    (t0, n), (d0, m) = trajectories, draws
    k = _int32(keys)
    traj = _int32(torch.arange(t0, t0 + n, dtype=torch.int64, device=dev))
    draw = _int32(torch.arange(d0, d0 + m, dtype=torch.int64, device=dev))
    if draw_major:  # [m, R, n]
        key_shape, traj, draw = (1, -1, 1), traj.view(1, 1, n), draw.view(m, 1, 1)
    else:  # [R, n, m]
        key_shape, traj, draw = (-1, 1, 1), traj.view(1, n, 1), draw.view(1, 1, m)
    x0, x1 = threefry2x32((k[:, 0].view(key_shape), k[:, 1].view(key_shape)), (traj, draw))
    x0 >>= 5
    x0 &= (1 << 27) - 1  # the high 27 bits of the first word
    x1 >>= 6
    x1 &= (1 << 26) - 1  # the high 26 bits of the second
    high, low = x0.to(torch.float64), x1.to(torch.float64)
    return high.mul_(2.0**26).add_(low).add_(0.5).mul_(2.0**-53)  # exact in float64
