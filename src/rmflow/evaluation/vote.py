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
* The winner is read back per position: each position gets its answer's count (or sum), and the
  first position holding the largest one names the answer. That answer has the largest count, and
  among the tied answers it is the one seen first *in the subsample's order*: the tie rule.
* At N = 1 every method returns the one sampled CoT's answer.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

import numpy as np

from rmflow.evaluation.answers import NUM_CODES
from rmflow.evaluation.inputs import CategoryData
from rmflow.evaluation.report import Key
from rmflow.evaluation.subsample import permutation_prefixes
from rmflow.names import BEST_OF_N, MV, PASS, TABLES, WEIGHTED_VOTE

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
    """``(Q, R, K)`` permutation prefixes, K the largest N that some question has more CoTs than
    (a question with no more than ``min(Ns)`` CoTs is never subsampled: zeros)."""
    k = max((n for n in Ns if n < data.n_cots.max()), default=0)
    sampled = np.flatnonzero(data.n_cots > min(Ns))
    if k and len(sampled) == len(data.q_ids):
        return permutation_prefixes(data.q_ids, data.n_cots, num_runs, seed, k)
    perms = np.zeros((len(data.q_ids), num_runs, k), dtype=np.int64)
    if k and len(sampled):
        q_ids = [data.q_ids[q] for q in sampled.tolist()]
        perms[sampled] = permutation_prefixes(q_ids, data.n_cots[sampled], num_runs, seed, k)
    return perms


def first_max_rows(values: np.ndarray) -> np.ndarray:
    """Per column of ``values`` ``(n, cells)``, the row ``argmax(axis=0)`` gives: of the first largest
    value, or of the first NaN if the column holds one.

    As array operations over all cells at once (``argmax`` along a short axis costs a call per cell):
    the column maximum, then the first row equal to it, found as the largest of ``(row == max) * (n - row)``.
    """
    n = len(values)
    top = values.max(axis=0)
    hit = values == top
    if values.dtype.kind == "f":
        nan_cols = np.flatnonzero(np.isnan(top))  # a NaN is the maximum (max propagates it)
        if len(nan_cols):
            hit[:, nan_cols] = np.isnan(values[:, nan_cols])
    weight = np.arange(n, 0, -1, dtype=np.min_scalar_type(n))[:, None]
    return n - (hit.view(np.uint8) * weight).max(axis=0).astype(np.intp)


def _first_largest(per_bin: np.ndarray, bins: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per cell, the answer code whose bin value (``per_bin``, flat over cells x SLOTS) is the largest,
    ties to the answer at the earliest position; ``bins`` and ``codes``: ``(n, cells)`` per position."""
    per_bin.reshape(-1, SLOTS)[:, PAD] = -1 if per_bin.dtype.kind == "i" else -np.inf  # padding never wins
    return codes[first_max_rows(per_bin[bins]), np.arange(codes.shape[1])]


def correctness(
    data: CategoryData,
    Ns: Sequence[int],
    perms: np.ndarray,
    chosen: dict[tuple[int, str], np.ndarray] | None = None,
    choices_of: Container[str] | None = None,
) -> dict[Key, np.ndarray]:
    """Whether each (question, run) cell is answered correctly: ``(Q, R)`` bool per ``(table, N, method)``.

    ``perms`` is :func:`permutations` of the same ``data`` and ``Ns``; its second axis is the runs.
    Methods are MV, Pass@N and every key of ``data.scores``. If ``chosen`` is given, it receives per
    ``(N, score key)`` the ``(Q, R)`` index (within its question) of the CoT that best-of-N picked
    (only for the score keys in ``choices_of``, when given).
    A NaN sum of scores wins no vote (unless all are NaN).

    Arrays per N are position-major, ``(n, cells)``: a position's values over all cells lie together.
    """
    width = max(int(data.n_cots.max()), max(Ns))
    answers, scores = _padded(data, width)
    answers, scores = answers.ravel(), {k: v.ravel() for k, v in scores.items()}
    num_q, num_runs = perms.shape[:2]
    cells = num_q * num_runs
    columns = np.arange(cells)
    by_position = np.ascontiguousarray(perms.transpose(2, 0, 1))  # (K, Q, R): position-major in memory too
    gold = np.repeat(data.gold.astype(np.int64), num_runs)  # per cell
    row_start = np.repeat(np.arange(num_q) * width, num_runs)  # (cells,)
    cell_bins = np.arange(cells) * SLOTS
    gold_bin = np.where(gold >= 0, cell_bins + gold, 0)  # a gold that matches nothing: never counted
    with_nan = {name for name, v in data.scores.items() if np.isnan(v).any()}

    out: dict[Key, np.ndarray] = {}
    for n in Ns:
        in_order = np.arange(n)[:, None, None]
        if n <= perms.shape[2]:
            idx = np.where((data.n_cots > n)[None, :, None], by_position[:n], in_order)
        else:  # no question has more than n CoTs
            idx = np.broadcast_to(in_order, (n, num_q, num_runs))
        idx = idx.reshape(n, cells)
        where = row_start + idx  # flat slot of each position
        codes = answers[where]  # (n, cells), subsample order
        if n == 1:  # the one sampled CoT's answer, whatever the method
            right = (codes[0] == gold).reshape(num_q, num_runs)
            for table in TABLES:
                for method in (MV, PASS, *scores):
                    out[table, n, method] = right
            if chosen is not None:
                for name in scores:
                    if choices_of is None or name in choices_of:
                        chosen[n, name] = idx[0].reshape(num_q, num_runs)
            continue
        bins = (cell_bins + codes).ravel()
        counts = np.bincount(bins, minlength=cells * SLOTS)
        bins = bins.reshape(n, cells)
        pass_n = ((counts[gold_bin] > 0) & (gold >= 0)).reshape(num_q, num_runs)
        mv = (_first_largest(counts, bins, codes) == gold).reshape(num_q, num_runs)
        for table in TABLES:
            out[table, n, MV] = mv
            out[table, n, PASS] = pass_n
        for name, model_scores in scores.items():
            s = model_scores[where]  # (n, cells), -inf on padding
            best = first_max_rows(s)  # the first maximum
            out[BEST_OF_N, n, name] = (codes[best, columns] == gold).reshape(num_q, num_runs)
            if chosen is not None and (choices_of is None or name in choices_of):
                chosen[n, name] = idx[best, columns].reshape(num_q, num_runs)
            # bincount adds each bin's weights in input order: within a cell, position by position
            totals = np.bincount(bins.ravel(), weights=s.ravel(), minlength=cells * SLOTS)
            if name in with_nan:
                totals[np.isnan(totals)] = -np.inf
            out[WEIGHTED_VOTE, n, name] = (_first_largest(totals, bins, codes) == gold).reshape(
                num_q, num_runs
            )
    return out


def accuracies(data: CategoryData, Ns: Sequence[int], perms: np.ndarray) -> dict[Key, np.ndarray]:
    """Accuracy (%) of every run, keyed ``(table, N, method)`` as :func:`report.table_rows` expects."""
    num_q = len(data.q_ids)
    return {key: 100 * (correct.sum(axis=0) / num_q) for key, correct in correctness(data, Ns, perms).items()}
