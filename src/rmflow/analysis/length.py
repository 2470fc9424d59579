"""Length analysis (error compounding): verifier quality and best-of-N accuracy by CoT step count.

Buckets are quantile ranges of the step counts of all test CoTs (all categories pooled), so every
model and N uses the same buckets; equal quantiles merge. Per reward model (its own strategy) and
bucket, over all categories pooled:

* ``cots``, ``cot_accuracy`` (% of the bucket's CoTs whose answer is correct) and ``auroc`` (of the
  score for correctness among the bucket's CoTs);
* per N: ``selected`` (number of (question, run) cells whose best-of-N CoT falls in the bucket),
  ``selected_share`` (% of all cells) and ``accuracy`` (% of those selections that are correct).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rmflow.analysis.inputs import AnalysisCategory, ScoreSet
from rmflow.analysis.metrics import auroc
from rmflow.analysis.selection import CategorySelection

LENGTH_HEADER = [
    "test_set",
    "method",
    "aggregation",
    "bucket",
    "min_steps",
    "max_steps",
    "N",
    "statistic",
    "value",
]


def bucket_cuts(steps: np.ndarray, buckets: int) -> np.ndarray:
    """Upper bounds (inclusive) of all but the last bucket: distinct inner quantiles below the maximum."""
    steps = np.asarray(steps)
    if len(steps) == 0 or buckets <= 1:
        return np.empty(0, dtype=np.int64)
    inner = np.quantile(steps, np.linspace(0, 1, buckets + 1)[1:-1], method="lower").astype(np.int64)
    return np.unique(inner[inner < steps.max()])


def bucket_of(steps: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Bucket index of each step count: bucket i holds counts in (cuts[i-1], cuts[i]]."""
    return np.searchsorted(cuts, steps, side="left")


def length_rows(
    test_set: str,
    cats: Mapping[str, AnalysisCategory],
    selections: Mapping[str, CategorySelection],
    sets: Sequence[ScoreSet],
    Ns: Sequence[int],
    buckets: int,
) -> list[list[object]]:
    """Rows of ``length.csv`` for the given (own-strategy, primary) score sets."""
    steps = np.concatenate([c.n_steps for c in cats.values()])
    correct = np.concatenate([c.correct for c in cats.values()])
    cuts = bucket_cuts(steps, buckets)
    bucket_of_steps = bucket_of(np.arange(int(steps.max(initial=0)) + 1), cuts)  # a lookup table
    bucket = bucket_of_steps[steps]
    n_buckets = len(cuts) + 1
    members = [np.flatnonzero(bucket == b) for b in range(n_buckets)]
    ranges = [(int(steps[m].min()), int(steps[m].max())) for m in members]
    cot_rows = [(len(m), 100 * float(correct[m].mean())) for m in members]  # buckets are never empty
    rows: list[list[object]] = []
    for s in sets:
        scores = np.concatenate([c.data.scores[s.key] for c in cats.values()])

        def emit(b: int, n: object, stat: str, value: float, s: ScoreSet = s) -> None:
            rows.append([test_set, s.model, s.strategy, b, *ranges[b], n, stat, value])

        for b, m in enumerate(members):
            emit(b, "", "cots", cot_rows[b][0])
            emit(b, "", "cot_accuracy", cot_rows[b][1])
            emit(b, "", "auroc", auroc(scores[m], correct[m]))
        for n in Ns:
            chosen = np.concatenate([selections[c].chosen_steps[n, s.key].ravel() for c in cats])
            right = np.concatenate([selections[c].chosen_correct[n, s.key].ravel() for c in cats])
            chosen_bucket = bucket_of_steps[chosen]
            counts = np.bincount(chosen_bucket, minlength=n_buckets)
            hits = np.bincount(chosen_bucket, weights=right, minlength=n_buckets)  # exact sums of 0/1
            for b in range(n_buckets):
                k = int(counts[b])
                emit(b, n, "selected", k)
                emit(b, n, "selected_share", 100 * k / len(chosen))
                emit(b, n, "accuracy", 100 * float(hits[b] / k) if k else float("nan"))
    return rows
