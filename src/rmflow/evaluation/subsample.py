"""Seeded subsampling (docs/formats.md#scores-and-answers) of the CoTs of a question for one run.

For ``N`` smaller than the question's CoT count ``n``, run ``r`` takes
``RandomState(md5_seed).choice(n, N, replace=False)``. For numpy's legacy generator that call is
``permutation(n)[:N]`` (``choice`` without replacement and without ``p`` shuffles ``arange(n)`` and
slices), so one shuffle per (run, question) serves every N; ``tests/test_evaluate.py`` checks the
identity against ``choice`` itself. The shuffles of all runs and questions are drawn together
(:mod:`legacy_shuffle`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rmflow.evaluation.legacy_shuffle import shuffled_prefixes


def run_seed(seed: int, run: int, q_id: object) -> int:
    """``int(md5(f"{seed}_{run}_{q_id}").hexdigest()[:8], 16)`` (the first 4 digest bytes, big-endian)."""
    return int.from_bytes(hashlib.md5(f"{seed}_{run}_{q_id}".encode()).digest()[:4], "big")


def run_seeds(q_ids: Sequence[object], num_runs: int, seed: int) -> np.ndarray:
    """``(Q, num_runs)`` uint32: :func:`run_seed` of every question and run."""
    md5 = hashlib.md5
    prefixes = [f"{seed}_{run}_".encode() for run in range(num_runs)]
    digests = b"".join(
        md5(prefix + suffix).digest()[:4]
        for suffix in (str(q).encode() for q in q_ids)
        for prefix in prefixes
    )
    return np.frombuffer(digests, dtype=">u4").astype(np.uint32).reshape(len(q_ids), num_runs)


def permutation_prefixes(
    q_ids: Sequence[object], n_cots: np.ndarray, num_runs: int, seed: int, length: int
) -> np.ndarray:
    """``(Q, num_runs, length)`` int64: the first ``min(length, n)`` entries of each run's permutation
    of a question's ``n`` CoTs (zeros beyond)."""
    out = np.zeros((len(q_ids), num_runs, length), dtype=np.int64)
    seeds = run_seeds(q_ids, num_runs, seed)
    for n in np.unique(n_cots).tolist():
        rows = np.flatnonzero(n_cots == n)
        k = min(length, n)
        out[rows, :, :k] = shuffled_prefixes(seeds[rows].ravel(), n, k).reshape(len(rows), num_runs, k)
    return out
