"""The vectorized evaluator: per-run accuracies of MV, best-of-N, weighted vote and Pass@N.

For one category, every (question, run) pair is a *cell*, and each N is a handful of array
operations over all cells at once:

* CoTs are padded to a ``(Q, W)`` table: a padding slot has answer code :data:`PAD` (a vote bin
  nobody reads) and score ``-inf`` (never the best). Each question's run permutations are drawn
  once (:mod:`subsample`); the N-subsample of run r is the permutation's first N entries, or all
  CoTs in order when there are no more than N.
* Votes go to bins ``cell * SLOTS + code``: ``np.bincount`` gives the counts and, with the scores as
  weights, the weighted-vote sums. bincount adds its weights in input order, i.e. position by
  position within a cell, exactly as a per-question loop sums them, so ties come out the same.
* Ties go to the answer seen first *in the subsample's order*: each bin also keeps the first
  position at which its code appears, and the winner is the tied code with the smallest one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rmflow.evaluation.answers import NUM_CODES
from rmflow.evaluation.inputs import CategoryData
from rmflow.evaluation.report import MV, PASS, Key
from rmflow.evaluation.subsample import permutation_prefixes

PAD = NUM_CODES  # answer code of a padding slot
SLOTS = NUM_CODES + 1  # vote bins per cell: the answer codes and PAD


def _padded(data: CategoryData, width: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(Q, width)`` answer codes (PAD beyond a question's CoTs) and scores per model (-inf beyond)."""
    starts = np.cumsum(data.n_cots) - data.n_cots
    cols = np.arange(width)
    inside = cols < data.n_cots[:, None]
    flat = np.where(inside, starts[:, None] + cols, 0)
    answers = np.where(inside, data.answers[flat], PAD)
    scores = {name: np.where(inside, s[flat], -np.inf) for name, s in data.scores.items()}
    return answers, scores


def permutations(data: CategoryData, Ns: Sequence[int], num_runs: int, seed: int) -> np.ndarray:
    """``(Q, R, K)`` permutation prefixes, K the largest N that some question has more CoTs than."""
    k = max((n for n in Ns if n < data.n_cots.max()), default=0)
    perms = np.zeros((len(data.q_ids), num_runs, k), dtype=np.int64)
    for q, (q_id, n) in enumerate(zip(data.q_ids, data.n_cots.tolist(), strict=True)):
        if n > min(Ns):
            length = min(k, n)
            perms[q, :, :length] = permutation_prefixes(q_id, n, num_runs, seed, length)
    return perms


def _winner(value: np.ndarray, first: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per cell, the code with the largest ``value`` among seen codes; ties to the smallest ``first``."""
    value = np.where(seen, value, -np.inf)
    tied = value == value.max(axis=-1, keepdims=True)
    return np.where(tied, first, np.iinfo(first.dtype).max).argmin(axis=-1)


def correctness(
    data: CategoryData,
    Ns: Sequence[int],
    perms: np.ndarray,
    chosen: dict[tuple[int, str], np.ndarray] | None = None,
) -> dict[Key, np.ndarray]:
    """Whether each (question, run) cell is answered correctly: ``(Q, R)`` bool per ``(table, N, method)``.

    ``perms`` is :func:`permutations` of the same ``data`` and ``Ns``; its second axis is the runs.
    Methods are MV, Pass@N and every key of ``data.scores``. If ``chosen`` is given, it receives per
    ``(N, score key)`` the ``(Q, R)`` index (within its question) of the CoT that best-of-N picked.
    """
    answers, scores = _padded(data, max(int(data.n_cots.max()), max(Ns)))
    num_q, num_runs = perms.shape[:2]
    cells = num_q * num_runs
    gold = data.gold.astype(np.int64)[:, None]  # (Q, 1)
    rows = np.arange(num_q)[:, None, None]
    bins_of_cell = (np.arange(cells) * SLOTS).reshape(num_q, num_runs, 1)

    out: dict[Key, np.ndarray] = {}
    for n in Ns:
        in_order = np.broadcast_to(np.arange(n), (num_q, num_runs, n))
        if n <= perms.shape[2]:
            idx = np.where((data.n_cots > n)[:, None, None], perms[:, :, :n], in_order)
        else:  # no question has more than n CoTs
            idx = in_order
        codes = answers[rows, idx]  # (Q, R, n), subsample order
        bins = (bins_of_cell + codes).ravel()  # cell-major, then position: the voting order
        counts = np.bincount(bins, minlength=cells * SLOTS).reshape(num_q, num_runs, SLOTS)
        seen = counts > 0
        seen[..., PAD] = False
        first = np.full(cells * SLOTS, n)
        np.minimum.at(first, bins, np.broadcast_to(np.arange(n), codes.shape).ravel())
        first = first.reshape(num_q, num_runs, SLOTS)

        mv = _winner(counts, first, seen) == gold
        pass_n = (codes == gold[..., None]).any(axis=-1)
        for table in ("best_of_n", "weighted_vote"):
            out[table, n, MV] = mv
            out[table, n, PASS] = pass_n
        for name, model_scores in scores.items():
            s = model_scores[rows, idx]  # (Q, R, n), -inf on padding
            best = s.argmax(axis=-1)[..., None]  # first maximum
            out["best_of_n", n, name] = np.take_along_axis(codes, best, axis=-1)[..., 0] == gold
            if chosen is not None:
                chosen[n, name] = np.take_along_axis(idx, best, axis=-1)[..., 0]
            totals = np.bincount(bins, weights=s.ravel(), minlength=cells * SLOTS)
            out["weighted_vote", n, name] = _winner(totals.reshape(first.shape), first, seen) == gold
    return out


def accuracies(data: CategoryData, Ns: Sequence[int], perms: np.ndarray) -> dict[Key, np.ndarray]:
    """Accuracy (%) of every run, keyed ``(table, N, method)`` as :func:`report.table_rows` expects."""
    num_q = len(data.q_ids)
    return {key: 100 * (correct.sum(axis=0) / num_q) for key, correct in correctness(data, Ns, perms).items()}
