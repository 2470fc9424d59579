"""Verifier and selection metrics on plain arrays: AUROC, calibration, first-error steps, pass@k.

* :func:`auroc` — area under the ROC curve of a score for a binary label, ties counted as one half
  (the Mann-Whitney statistic with mid-ranks); NaN when only one class is present.
* :func:`reliability` / :func:`ece` — equal-width bins over [0, 1] (a score of exactly 1 falls in the
  last bin); expected calibration error = sum over bins of (bin size / n) * |accuracy - mean score|.
* :func:`first_error_steps` / :func:`first_error_scores` — ProcessBench-style: the predicted first
  erroneous step is the first step whose P(+) is below a threshold (-1: none), compared with the first
  step labelled -1; accuracy on erroneous CoTs, on correct CoTs, and their harmonic mean (F1).
* :func:`pass_at_k` — the unbiased estimator ``1 - C(n-c, k) / C(n, k)`` of drawing at least one
  correct CoT among ``k`` drawn without replacement from ``n`` of which ``c`` are correct.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NO_ERROR = -1  # first-error index of a CoT without an erroneous step
UNLABELLED = -2  # first-error index of a CoT without step labels


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative) + 0.5 P(tie); NaN for one class."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be equal 1-D shapes")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    order = np.argsort(scores)
    return auroc_sorted(scores[order], labels[order])


def auroc_sorted(ordered: np.ndarray, labels: np.ndarray) -> float:
    """:func:`auroc` of scores already in ascending order (``labels`` in the same order).

    Any subsequence of sorted scores is sorted, so one sort serves every subset of the CoTs.
    """
    n = len(ordered)
    pos = int(np.count_nonzero(labels))
    neg = n - pos
    if pos == 0 or neg == 0:
        return math.nan
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # tie groups
    ends = np.r_[starts[1:], n]
    positives = np.add.reduceat(labels.astype(np.int64), starts)
    rank_sum = float((positives * ((starts + ends + 1) / 2)).sum())  # mid-rank of each tie group
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


@dataclass(frozen=True)
class Reliability:
    """Equal-width bins over [0, 1]: CoT count, summed score and summed correctness per bin.

    Sums (not means) so that bins of several categories add up (:meth:`__add__`).
    """

    count: np.ndarray  # (bins,) int
    score_sum: np.ndarray  # (bins,) float
    correct_sum: np.ndarray  # (bins,) float

    @property
    def bins(self) -> int:
        return len(self.count)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.bins + 1)

    @property
    def mean_score(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.score_sum / self.count

    @property
    def accuracy(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct_sum / self.count

    @property
    def ece(self) -> float:
        total = self.count.sum()
        if total == 0:
            return math.nan
        return float(np.abs(self.correct_sum - self.score_sum).sum() / total)

    def __add__(self, other: Reliability) -> Reliability:
        return Reliability(
            self.count + other.count, self.score_sum + other.score_sum, self.correct_sum + other.correct_sum
        )


def in_unit_interval(scores: np.ndarray) -> bool:
    """True when every score is a probability (calibration is only defined then)."""
    scores = np.asarray(scores)
    return bool(len(scores) == 0 or (scores.min() >= 0.0 and scores.max() <= 1.0))


def reliability(scores: np.ndarray, correct: np.ndarray, bins: int = 10) -> Reliability:
    """Bin ``scores`` (probabilities in [0, 1]) into ``bins`` equal-width bins with their correctness."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    scores = np.asarray(scores, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if not in_unit_interval(scores):
        raise ValueError("calibration needs scores in [0, 1]")
    index = np.minimum((scores * bins).astype(np.int64), bins - 1)
    return Reliability(
        count=np.bincount(index, minlength=bins),
        score_sum=np.bincount(index, weights=scores, minlength=bins),
        correct_sum=np.bincount(index, weights=correct, minlength=bins),
    )


def ece(scores: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins."""
    return reliability(scores, correct, bins).ece


def first_error_steps(flat: np.ndarray, lengths: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per list of step scores (concatenated in ``flat``), the first index below ``threshold``, or -1.

    NaN entries count as 0.5, as in scoring (docs/formats.md#scores-and-answers).
    """
    flat = np.where(np.isnan(flat), 0.5, np.asarray(flat, dtype=np.float64))
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.full(len(lengths), NO_ERROR, dtype=np.int64)
    given = lengths > 0
    if not given.any():
        return out
    starts = np.cumsum(lengths) - lengths
    local = np.arange(len(flat)) - np.repeat(starts, lengths)
    big = np.iinfo(np.int64).max
    first = np.minimum.reduceat(np.where(flat < threshold, local, big), starts[given])
    out[given] = np.where(first == big, NO_ERROR, first)
    return out


def first_error_labels(labels: list[int] | None) -> int:
    """Index of the first step labelled -1; -1 when all are +1; :data:`UNLABELLED` for no labels."""
    if labels is None:
        return UNLABELLED
    for i, label in enumerate(labels):
        if label == -1:
            return i
    return NO_ERROR


@dataclass(frozen=True)
class FirstErrorScores:
    """ProcessBench-style scores of predicted first erroneous steps."""

    erroneous: int  # labelled CoTs with an erroneous step
    correct: int  # labelled CoTs without one
    acc_erroneous: float  # fraction of erroneous CoTs whose first error is found exactly
    acc_correct: float  # fraction of correct CoTs with no step flagged
    f1: float  # harmonic mean of the two accuracies


def harmonic_mean(a: float, b: float) -> float:
    """2ab / (a + b); 0 when both are 0; NaN when either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def first_error_scores(predicted: np.ndarray, actual: np.ndarray) -> FirstErrorScores:
    """Compare predicted and labelled first-error indices (-1 none); :data:`UNLABELLED` CoTs are skipped."""
    predicted = np.asarray(predicted, dtype=np.int64)
    actual = np.asarray(actual, dtype=np.int64)
    labelled = actual != UNLABELLED
    predicted, actual = predicted[labelled], actual[labelled]
    erroneous = actual >= 0
    n_err, n_ok = int(erroneous.sum()), int((~erroneous).sum())
    acc_err = float((predicted[erroneous] == actual[erroneous]).mean()) if n_err else math.nan
    acc_ok = float((predicted[~erroneous] == NO_ERROR).mean()) if n_ok else math.nan
    return FirstErrorScores(n_err, n_ok, acc_err, acc_ok, harmonic_mean(acc_err, acc_ok))


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Unbiased pass@k per question: ``1 - C(n-c, k) / C(n, k)``; for ``k > n``, pass@n (any correct).

    Exact integer binomials, one correctly rounded division per question.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    if np.any(c < 0) or np.any(c > n):
        raise ValueError("need 0 <= c <= n")
    out = np.empty(len(n))
    for i, (ni, ci) in enumerate(zip(n.tolist(), c.tolist(), strict=True)):
        kk = min(k, ni)
        out[i] = 1.0 - math.comb(ni - ci, kk) / math.comb(ni, kk) if kk > 0 else 0.0
    return out
