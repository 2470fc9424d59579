"""Seed replicas: a reward model with several reward sets (checkpoints, training seeds).

Replica 1 is the model's ``--reward_dirs`` entry, replicas 2.. its ``--replicas NAME=DIR`` entries,
all scored with the model's strategy. Per replica: the group's macro accuracy (mean over runs) of
best-of-N and weighted vote at every N, and the group's AUROC (macro over categories). Across
replicas: ``replica_mean``, ``replica_std`` (sample std, ddof 1; NaN for a single replica),
``replica_min``, ``replica_max`` and the count ``replicas``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from rmflow.analysis.inputs import ScoreSet
from rmflow.analysis.selection import SELECTIONS, CategorySelection, Series
from rmflow.analysis.tables import group_runs

REPLICA_HEADER = ["test_set", "metric", "N", "method", "group", "replica", "source", "statistic", "value"]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample std, min, max and count of replica values."""
    v = np.asarray(values, dtype=np.float64)
    return {
        "replica_mean": float(v.mean()),
        "replica_std": float(v.std(ddof=1)) if len(v) > 1 else math.nan,
        "replica_min": float(v.min()),
        "replica_max": float(v.max()),
        "replicas": len(v),
    }


def replica_sets(sets: Sequence[ScoreSet], strategies: Mapping[str, str]) -> dict[str, list[ScoreSet]]:
    """Model -> its own-strategy score sets, replica 1 first."""
    out: dict[str, list[ScoreSet]] = {}
    for s in sets:
        if s.strategy == strategies[s.model]:
            out.setdefault(s.model, []).append(s)
    return {m: sorted(v, key=lambda s: s.replica) for m, v in out.items()}


def replica_rows(
    test_set: str,
    series: Sequence[Series],
    sets: Sequence[ScoreSet],
    strategies: Mapping[str, str],
    selections: Mapping[str, CategorySelection],
    grouping: Mapping[str, Sequence[str]],
    auroc_of: Mapping[tuple[str, str], float],
    Ns: Sequence[int],
) -> list[list[object]]:
    """Rows of ``replicas.csv`` for every model (a model without replicas has one)."""
    column = {
        (s.selection, s.n, s.method, s.aggregation, s.replica): j
        for j, s in enumerate(series)
        if s.selection in SELECTIONS
    }
    rows: list[list[object]] = []
    for model, reps in replica_sets(sets, strategies).items():
        for group, names in grouping.items():
            means = group_runs(selections, names).mean(axis=(0, 1))  # (M,) macro mean over runs
            metrics: list[tuple[str, object, list[float]]] = [
                (sel, n, [float(means[column[sel, n, model, r.strategy, r.replica]]) for r in reps])
                for sel in SELECTIONS
                for n in Ns
            ]
            metrics.append(("auroc", "", [auroc_of[r.key, group] for r in reps]))
            for metric, n, values in metrics:
                head = [test_set, metric, n, model, group]
                for r, value in zip(reps, values, strict=True):
                    rows.append(
                        [*head, r.replica + 1, r.source, "accuracy" if metric != "auroc" else "auroc", value]
                    )
                rows.extend([*head, "", "", k, v] for k, v in spread(values).items())
    return rows
