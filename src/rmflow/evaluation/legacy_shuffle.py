"""numpy's legacy ``RandomState(seed).permutation(n)``, for many seeds at once.

For a seed ``s < 2**32``, ``RandomState(s)`` fills the 624 words of its MT19937 state by Knuth's
recurrence ``key[k] = 1812433253 * (key[k-1] ^ (key[k-1] >> 30)) + k`` (mod 2**32) from ``key[0] = s``;
each output is a word of the next *twist* of the state, *tempered*. ``permutation(n)`` shuffles
``arange(n)``: for ``i = n-1 .. 1`` it swaps entries ``i`` and ``j``, ``j`` drawn by masked rejection
(``next32 & mask`` until it is ``<= i``, ``mask`` the smallest ``2**b - 1 >= i``).

Here each of these steps is a handful of array operations across all seeds: the seeding word by word,
the twist in blocks of words whose inputs are final, the rejections draw by draw (every seed consumes
its own outputs), the swaps position by position. ``tests/test_legacy_shuffle.py`` compares the result
with ``RandomState`` for many sizes and seeds.
"""

from __future__ import annotations

import math

import numpy as np

from rmflow.evaluation.memory import STATE_CHUNK, STATE_WORDS

WORDS, SHIFT = STATE_WORDS, 397  # MT19937's state size and middle word
_MATRIX_A, _UPPER, _LOWER = np.uint32(0x9908B0DF), np.uint32(0x80000000), np.uint32(0x7FFFFFFF)
_KNUTH = np.uint32(1812433253)
_GAP = WORDS - SHIFT
#: one twist in blocks of words: a word reads its successor and the word SHIFT ahead (mod WORDS), which
#: are still old, or already new, for the whole block
_BLOCKS = ((0, _GAP), (_GAP, 2 * _GAP), (2 * _GAP, WORDS - 1), (WORDS - 1, WORDS))
#: seeds seeded and twisted together (their states, 20 MB, stay below the allocator's mmap threshold, so
#: the memory is reused without page faults), and words twisted together (their temporaries stay in the
#: CPU caches)
_CHUNK, _ROWS = STATE_CHUNK, 16


def _seed(seeds: np.ndarray, key: np.ndarray) -> None:
    """``key`` (624, S) <- the initial MT19937 states of ``RandomState(seed)``."""
    key[0] = seeds
    tmp = np.empty(len(seeds), dtype=np.uint32)
    for k in range(1, WORDS):
        prev = key[k - 1]
        np.right_shift(prev, 30, out=tmp)
        tmp ^= prev
        tmp *= _KNUTH
        np.add(tmp, np.uint32(k), out=key[k])


def _twist(
    key: np.ndarray, lo: int, hi: int, out: np.ndarray, y: np.ndarray, t: np.ndarray, keep: bool = True
) -> None:
    """Twist words ``lo:hi`` of ``key`` (inside one of :data:`_BLOCKS`), tempered into ``out`` (``y``,
    ``t``: scratch of the same shape); the new words replace the old ones if ``keep`` (later words read
    them)."""
    following = key[lo + 1 : hi + 1] if hi < WORDS else key[:1]
    ahead = (lo + SHIFT) % WORDS
    np.bitwise_and(key[lo:hi], _UPPER, out=y)
    np.bitwise_and(following, _LOWER, out=t)
    y |= t
    np.bitwise_and(y, np.uint32(1), out=t)
    t *= _MATRIX_A
    y >>= 1
    y ^= t
    y ^= key[ahead : ahead + hi - lo]
    if keep:
        key[lo:hi] = y
    np.right_shift(y, 11, out=t)
    y ^= t
    np.left_shift(y, 7, out=t)
    t &= np.uint32(0x9D2C5680)
    y ^= t
    np.left_shift(y, 15, out=t)
    t &= np.uint32(0xEFC60000)
    y ^= t
    np.right_shift(y, 18, out=t)
    np.bitwise_xor(y, t, out=out)


def outputs(seeds: np.ndarray, draws: int) -> np.ndarray:
    """``(draws, S)``: the first ``draws`` 32-bit outputs (``next32``) of ``RandomState(seed)`` per seed."""
    seeds = np.asarray(seeds, dtype=np.uint32)
    out = np.empty((draws, len(seeds)), dtype=np.uint32)
    width = min(_CHUNK, len(seeds))
    key = np.empty((WORDS, width), dtype=np.uint32)
    y, t = np.empty((_ROWS, width), dtype=np.uint32), np.empty((_ROWS, width), dtype=np.uint32)
    for c0 in range(0, len(seeds), _CHUNK):
        c1 = min(c0 + _CHUNK, len(seeds))
        state = key[:, : c1 - c0]
        _seed(seeds[c0:c1], state)
        row = 0
        while row < draws:  # one twist of the whole state per pass
            for lo, hi in _BLOCKS:
                for start in range(lo, hi, _ROWS):
                    m = min(_ROWS, hi - start, draws - row)
                    if m <= 0:
                        break
                    scratch = y[:m, : c1 - c0], t[:m, : c1 - c0]
                    _twist(state, start, start + m, out[row : row + m, c0:c1], *scratch, keep=draws > _GAP)
                    row += m
    return out


def _masks(n: int) -> np.ndarray:
    """``masks[i]``: the smallest ``2**b - 1 >= i``, for ``i < n``."""
    return np.array([(1 << i.bit_length()) - 1 for i in range(n)], dtype=np.uint32)


def expected_draws(n: int, sigmas: float = 6.0) -> int:
    """Draws that shuffling ``n`` entries takes, ``sigmas`` standard deviations above the mean: each
    ``i`` takes a geometric number of draws, of success probability ``(i + 1) / (mask + 1)``."""
    p = np.arange(2, n + 1) / (_masks(n)[1:].astype(np.float64) + 1)
    mean, var = float((1 / p).sum()), float(((1 - p) / p**2).sum())
    return math.ceil(mean + sigmas * math.sqrt(var)) + 2


def shuffled_prefixes(seeds: np.ndarray, n: int, length: int, draws: int | None = None) -> np.ndarray:
    """``(S, length)`` int64: row s is ``RandomState(seeds[s]).permutation(n)[:length]`` (``draws``: the
    outputs drawn per seed at first; seeds that need more are shuffled again with twice as many)."""
    seeds = np.asarray(seeds, dtype=np.uint32)
    S = len(seeds)
    if n < 2 or S == 0:
        return np.broadcast_to(np.arange(length, dtype=np.int64), (S, length)).copy()
    draws = draws or expected_draws(n)
    words = outputs(seeds, draws)
    # the rejections: the j drawn for i goes to J[i + 1, s] (a rejected draw is overwritten by the next
    # one); a seed done with i = 1 draws once more for i = 0 (accepted: the mask is 0) and then for
    # i = -1, whose place J[0, s] takes every later draw (never accepted)
    J = np.zeros((n + 1, S), dtype=np.uint32)
    J_flat = J.reshape(-1)
    columns = np.arange(S, dtype=np.int64)
    top = np.full(S, n - 1, dtype=np.int32)  # the i each seed draws for
    mask = np.full(S, _masks(n)[n - 1], dtype=np.int32)  # the smallest 2**b - 1 >= i (0 for i < 1)
    slot = columns + n * S  # top's place in J
    accepted, half, step = np.empty(S, dtype=bool), np.empty(S, dtype=np.int32), np.empty(S, dtype=np.int64)
    for p, value in enumerate(words):
        value &= mask.view(np.uint32)
        J_flat[slot] = value
        np.less_equal(value.view(np.int32), top, out=accepted)
        top -= accepted
        np.multiply(accepted, S, out=step)
        slot -= step
        np.right_shift(mask, 1, out=half)
        np.less_equal(top, half, out=accepted)
        np.right_shift(mask, accepted, out=mask, casting="unsafe")
        if p % 16 == 15 and top.max() < 0:
            break
    # the swaps, i = n-1 .. 1: entry i takes entry j's value, entry j takes entry i's; entries at or
    # beyond ``length`` are final once swapped, and only their values passed down matter
    index_type = np.int16 if n <= np.iinfo(np.int16).max else np.int64
    perm = np.tile(np.arange(n, dtype=index_type), S).reshape(S, n)
    flat = perm.reshape(-1)
    row_start = columns * n
    targets = np.empty(S, dtype=np.int64)
    for i in range(n - 1, 0, -1):
        np.add(J[i + 1], row_start, out=targets)
        if i < length:
            taken = flat[targets]
            flat[targets] = perm[:, i]
            perm[:, i] = taken
        else:
            flat[targets] = perm[:, i]
    out = perm[:, :length].astype(np.int64)
    unfinished = np.flatnonzero(top >= 0)  # out of draws (seldom): again, with more
    if len(unfinished):
        out[unfinished] = shuffled_prefixes(seeds[unfinished], n, length, 2 * draws)
    return out
