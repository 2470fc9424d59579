"""Bootstrap intervals of a pooled AUROC when whole questions are resampled, computed exactly but cheaply.

A resample weighs each CoT by how often its question was drawn; its AUROC is the Mann-Whitney count
of (correct, wrong) pairs ranked right (ties one half) over the product of the two weight totals. With
integer weights every sum is an exact integer (or half-integer) in float64, so the value does not
depend on the order of summation: any exact method gives the same bits.

Exact counts cost one pass over all CoTs per resample. The percentile interval, however, needs only
the replicates at four ranks. So every replicate is first bounded: scores are cut into quantile
buckets, pairs in different buckets are ranked by their buckets (one matrix product over all
resamples at once, in float32 when its integer sums stay exact there) and a pair within a bucket adds
between 0 and 1. Only the replicates whose bounds reach one of the four ranks' ranges are counted exactly;
every other one is replaced by its midpoint, which lies on the same side of each of those ranks as
its true value, so the percentiles come out exactly as from all replicates counted exactly.
"""

from __future__ import annotations

import numpy as np

from rmflow.analysis.uncertainty import CI_LEVEL, percentile_ci

#: replicates counted exactly between two updates of the bounds
_CHUNK = 8
#: largest integer below which every float32 sum of integers is exact
_FLOAT32_EXACT = 2**24


class Ranking:
    """CoTs sorted once by score (per class), for AUROCs under many weightings.

    ``group`` maps each CoT to its column of the weights (its question); without it every CoT has
    its own column.
    """

    def __init__(self, scores: np.ndarray, correct: np.ndarray, group: np.ndarray | None = None):
        scores = np.asarray(scores, dtype=np.float64)
        correct = np.asarray(correct, dtype=bool)
        order = np.argsort(scores, kind="stable")
        self.scores, self.ordered, self.correct_sorted = scores, scores[order], correct[order]
        self.group = np.arange(len(scores)) if group is None else np.asarray(group)
        self.pos, self.neg = order[correct[order]], order[~correct[order]]  # each by ascending score
        neg_scores, pos_scores = scores[self.neg], scores[self.pos]
        # wrong CoTs scored below each correct one, and up to its score (ties in between)
        self.below = np.searchsorted(neg_scores, pos_scores, side="left")
        self.up_to = np.searchsorted(neg_scores, pos_scores, side="right")

    def auroc(self, weights: np.ndarray) -> np.ndarray:
        """``(B,)`` AUROC under each row of integer ``weights`` ``(B, columns)``; NaN without both
        classes. Counted in integers, exactly, one row at a time (its arrays stay in cache)."""
        weights = np.asarray(weights)
        pos_group, neg_group = self.group[self.pos], self.group[self.neg]
        cots = np.bincount(self.group, minlength=weights.shape[1])  # CoTs per column
        total = int((weights.astype(np.int64) @ cots).max(initial=0))  # weight of all CoTs
        # each product below is at most twice the total weight times the largest weight
        dtype = np.int32 if 2 * total * int(weights.max(initial=0)) < 2**31 else np.int64
        out = np.empty(len(weights))
        cum = np.zeros(len(neg_group) + 1, dtype=dtype)
        for b, w in enumerate(weights.astype(dtype)):
            np.cumsum(w[neg_group], out=cum[1:])  # the wrong CoTs' weight below each rank
            pos_w = w[pos_group]
            twice = cum[self.below]  # twice the wrong weight below each correct CoT, ties half
            twice += cum[self.up_to]
            twice *= pos_w
            pairs = int(twice.sum(dtype=np.int64)) / 2
            total_pairs = int(pos_w.sum(dtype=np.int64)) * int(cum[-1])
            out[b] = pairs / total_pairs if total_pairs else np.nan
        return out

    def _cuts(self, buckets: int) -> np.ndarray:
        """Positions in score order where buckets start: most where correct and wrong CoTs mix.

        A bucket's unresolved pairs grow with its correct times its wrong CoTs, so the buckets are cut
        at equal steps of the cumulative ``sqrt(p (1 - p))`` (p: the local share of correct CoTs, over
        blocks of a quarter bucket) rather than of the CoT count.
        """
        n = len(self.ordered)
        blocks = np.linspace(0, n, min(4 * buckets, n) + 1).astype(np.int64)
        size = np.diff(blocks)
        share = np.add.reduceat(self.correct_sorted, blocks[:-1]) / size
        mass = np.cumsum(np.sqrt(share * (1 - share)) * size + 1e-3 * size)  # a trace of size: no empty span
        at = np.searchsorted(mass, np.linspace(0, mass[-1], buckets + 1)[1:-1])
        return blocks[at]

    def bounds(self, counts: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of :meth:`auroc` for each row of ``counts`` ``(B, groups)`` (integers),
        from ``buckets`` score quantiles; NaN where it is NaN."""
        n_groups = counts.shape[1]
        edges = np.unique(self.ordered[self._cuts(buckets)])
        bucket = np.searchsorted(edges, self.scores, side="right")  # equal scores share a bucket
        k = len(edges) + 1

        def per_bucket(cots: np.ndarray) -> np.ndarray:
            cells = bucket[cots] * n_groups + self.group[cots]
            return np.bincount(cells, minlength=k * n_groups).reshape(k, n_groups)

        tally = np.concatenate([per_bucket(self.pos), per_bucket(self.neg)])  # (2k, groups)
        exact32 = counts.sum(axis=1).max(initial=0) * tally.max(initial=0) < _FLOAT32_EXACT
        dtype = np.float32 if exact32 else np.float64
        sums = (counts.astype(dtype) @ tally.T.astype(dtype)).astype(np.float64)
        pos_w, neg_w = sums[:, :k], sums[:, k:]
        neg_below = np.cumsum(neg_w, axis=1) - neg_w
        lower = np.einsum("ij,ij->i", pos_w, neg_below)
        within = np.einsum("ij,ij->i", pos_w, neg_w)
        total = pos_w.sum(axis=1) * neg_w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return lower / total, (lower + within) / total


def percentile_ranks(size: int, level: float = CI_LEVEL) -> list[int]:
    """The order statistics (0-based) that :func:`~rmflow.analysis.uncertainty.percentile_ci` of
    ``size`` values reads: numpy's own positions, found on ``0, 1, ..., size - 1``."""
    at = np.floor(percentile_ci(np.arange(size, dtype=np.float64), level))
    return sorted({min(int(r) + k, size - 1) for r in at for k in (0, 1)})


def _undecided(low: np.ndarray, high: np.ndarray, ranks: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Replicates whose bounds leave open whether they hold one of the ``ranks``, and per replicate
    the distance of its midpoint to the nearest of those ranks' possible ranges."""
    low_sorted, high_sorted = np.sort(low), np.sort(high)
    open_ = np.zeros(len(low), dtype=bool)
    distance = np.full(len(low), np.inf)
    for r in ranks:  # the r-th smallest value lies between the r-th smallest bounds
        a, b = low_sorted[r], high_sorted[r]
        open_ |= (low <= b) & (high >= a) & (low < high)
        distance = np.minimum(distance, np.abs((low + high) / 2 - (a + b) / 2))
    return open_, distance


def bootstrap_interval(
    ranking: Ranking, counts: np.ndarray, buckets: int = 1024, level: float = CI_LEVEL
) -> tuple[float, float]:
    """Percentile interval of the AUROC over resamples ``counts`` ``(B, groups)`` (NaN ones left
    out), equal to that of every replicate counted with :meth:`Ranking.auroc`.

    Replicates are counted exactly a few at a time, nearest to the ranks first, until no bounds
    leave a rank in doubt; the others keep their midpoints.
    """
    low, high = ranking.bounds(counts, buckets)
    finite = ~np.isnan(low)
    if not finite.any():
        return np.nan, np.nan
    counts, low, high = counts[finite], low[finite], high[finite]
    ranks = percentile_ranks(len(low), level)
    while True:
        open_, distance = _undecided(low, high, ranks)
        if not open_.any():
            break
        pick = np.flatnonzero(open_)[np.argsort(distance[open_], kind="stable")[:_CHUNK]]
        low[pick] = high[pick] = ranking.auroc(counts[pick])
    ci_low, ci_high = percentile_ci((low + high) / 2, level)
    return float(ci_low), float(ci_high)
