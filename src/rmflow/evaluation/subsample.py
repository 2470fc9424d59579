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

from rmflow.evaluation import md5_batch
from rmflow.evaluation.legacy_shuffle import shuffled_prefixes


def run_seed(seed: int, run: int, q_id: object) -> int:
    """``int(md5(f"{seed}_{run}_{q_id}").hexdigest()[:8], 16)`` (the first 4 digest bytes, big-endian)."""
    return int.from_bytes(hashlib.md5(f"{seed}_{run}_{q_id}".encode()).digest()[:4], "big")


def run_seeds(q_ids: Sequence[object], num_runs: int, seed: int) -> np.ndarray:
    """``(Q, num_runs)`` uint32: :func:`run_seed` of every question and run, the MD5s computed together
    (:mod:`md5_batch`; a message too long for one block by ``hashlib``)."""
    runs = [f"{seed}_{run}_".encode() for run in range(num_runs)]
    questions = [str(q).encode() for q in q_ids]
    run_len = np.array([len(r) for r in runs])
    q_len = np.array([len(q) for q in questions])
    messages = np.zeros((len(questions), num_runs, 64), dtype=np.uint8)
    for size in np.unique(run_len).tolist():  # the runs whose prefix has this size
        cols = np.flatnonzero(run_len == size)
        messages[:, cols, :size] = np.frombuffer(b"".join(runs[r] for r in cols), np.uint8).reshape(-1, size)
        for q_size in np.unique(q_len).tolist():
            rows = np.flatnonzero(q_len == q_size)
            if size + q_size <= md5_batch.MAX_BYTES:
                text = np.frombuffer(b"".join(questions[q] for q in rows), np.uint8).reshape(-1, 1, q_size)
                messages[rows[:, None], cols, size : size + q_size] = text
    lengths = run_len[None, :] + q_len[:, None]
    out = md5_batch.first_words(md5_batch.blocks(messages.reshape(-1, 64), lengths.ravel())).reshape(
        lengths.shape
    )
    for q, run in zip(*np.nonzero(lengths > md5_batch.MAX_BYTES), strict=True):
        out[q, run] = run_seed(seed, int(run), q_ids[q])
    return out


def permutation_prefixes(
    q_ids: Sequence[object], n_cots: np.ndarray, num_runs: int, seed: int, length: int
) -> np.ndarray:
    """``(Q, num_runs, length)`` int64: the first ``min(length, n)`` entries of each run's permutation
    of a question's ``n`` CoTs (zeros beyond)."""
    seeds = run_seeds(q_ids, num_runs, seed)
    sizes = np.unique(n_cots).tolist()
    if len(sizes) == 1 and sizes[0] >= length:  # one shuffle size: no gaps to fill
        return shuffled_prefixes(seeds.ravel(), sizes[0], length).reshape(len(q_ids), num_runs, length)
    out = np.zeros((len(q_ids), num_runs, length), dtype=np.int64)
    for n in sizes:
        rows = np.flatnonzero(n_cots == n)
        k = min(length, n)
        out[rows, :, :k] = shuffled_prefixes(seeds[rows].ravel(), n, k).reshape(len(rows), num_runs, k)
    return out
