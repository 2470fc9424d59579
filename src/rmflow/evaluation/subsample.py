"""Seeded subsampling (docs/formats.md#scores-and-answers) of the CoTs of a question for one run.

For ``N`` smaller than the question's CoT count ``n``, run ``r`` takes
``RandomState(md5_seed).choice(n, N, replace=False)``. For numpy's legacy generator that call is
``permutation(n)[:N]`` (``choice`` without replacement and without ``p`` shuffles ``arange(n)`` and
slices), so one shuffle per (run, question) serves every N; ``tests/test_evaluate.py`` checks the
identity against ``choice`` itself.
"""

from __future__ import annotations

import hashlib

import numpy as np


def run_seed(seed: int, run: int, q_id: object) -> int:
    """``int(md5(f"{seed}_{run}_{q_id}").hexdigest()[:8], 16)`` (the first 4 digest bytes, big-endian)."""
    return int.from_bytes(hashlib.md5(f"{seed}_{run}_{q_id}".encode()).digest()[:4], "big")


def permutation_prefixes(q_id: object, n: int, num_runs: int, seed: int, length: int) -> np.ndarray:
    """``(num_runs, length)`` array: row r is the first ``length`` entries of run r's permutation of n."""
    rng = np.random.RandomState()
    identity = np.arange(n)
    row = np.empty(n, dtype=identity.dtype)
    out = np.empty((num_runs, length), dtype=np.int64)
    for run in range(num_runs):
        rng.seed(run_seed(seed, run, q_id))  # the state of RandomState(seed), without a new object
        row[:] = identity
        rng.shuffle(row)  # what permutation(n) does to its arange(n)
        out[run] = row[:length]
    return out
