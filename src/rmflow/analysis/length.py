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
    bucket = bucket_of(steps, cuts)
    n_buckets = len(cuts) + 1
    ranges = [(int(steps[bucket == b].min()), int(steps[bucket == b].max())) for b in range(n_buckets)]
    rows: list[list[object]] = []
    for s in sets:
        scores = np.concatenate([c.data.scores[s.key] for c in cats.values()])

        def emit(b: int, n: object, stat: str, value: float, s: ScoreSet = s) -> None:
            rows.append([test_set, s.model, s.strategy, b, *ranges[b], n, stat, value])

        for b in range(n_buckets):
            inside = bucket == b
            emit(b, "", "cots", int(inside.sum()))
            emit(b, "", "cot_accuracy", 100 * float(correct[inside].mean()))
            emit(b, "", "auroc", auroc(scores[inside], correct[inside]))
        for n in Ns:
            chosen = np.concatenate([selections[c].chosen_steps[n, s.key].ravel() for c in cats])
            right = np.concatenate([selections[c].chosen_correct[n, s.key].ravel() for c in cats])
            chosen_bucket = bucket_of(chosen, cuts)
            for b in range(n_buckets):
                inside = chosen_bucket == b
                k = int(inside.sum())
                emit(b, n, "selected", k)
                emit(b, n, "selected_share", 100 * k / len(chosen))
                emit(b, n, "accuracy", 100 * float(right[inside].mean()) if k else float("nan"))
    return rows
