"""MD5 (RFC 1321) of many short messages at once: each message of at most 55 bytes is one padded
64-byte block, and the 64 rounds run as array operations across all blocks."""

from __future__ import annotations

import math

import numpy as np

#: the longest message that fits one block with its padding and length
MAX_BYTES = 55
_SHIFTS = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_SINES = [np.uint32(int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF) for i in range(64)]
_WORD = [
    i if i < 16 else (5 * i + 1) % 16 if i < 32 else (3 * i + 5) % 16 if i < 48 else 7 * i % 16
    for i in range(64)
]
_START = [np.uint32(v) for v in (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)]


def blocks(messages: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``(16, M)`` little-endian words of the padded blocks of ``messages`` (``(M, 64)`` uint8, each
    message's ``lengths[m] <= MAX_BYTES`` bytes first, zeros after)."""
    padded = messages.copy()
    rows = np.arange(len(lengths))
    padded[rows, lengths] = 0x80
    bits = lengths.astype(np.int64) * 8
    padded[:, 56] = bits & 0xFF
    padded[:, 57] = bits >> 8
    return np.ascontiguousarray(padded.view("<u4").T)


def first_words(words: np.ndarray) -> np.ndarray:
    """The first 4 digest bytes, read big-endian (uint32), of each block of ``words`` (:func:`blocks`)."""
    a, b, c, d = (np.full(words.shape[1], v, dtype=np.uint32) for v in _START)
    for i in range(64):
        if i < 16:  # (b & c) | (~b & d) == d ^ (b & (c ^ d))
            f = c ^ d
            f &= b
            f ^= d
        elif i < 32:  # (d & b) | (~d & c) == c ^ (d & (b ^ c))
            f = b ^ c
            f &= d
            f ^= c
        elif i < 48:
            f = b ^ c
            f ^= d
        else:  # c ^ (b | ~d)
            f = ~d
            f |= b
            f ^= c
        f += a
        f += _SINES[i]
        f += words[_WORD[i]]
        rotated = f << _SHIFTS[i]
        f >>= 32 - _SHIFTS[i]
        rotated |= f
        rotated += b
        a, b, c, d = d, rotated, b, c
    return (a + _START[0]).byteswap()
