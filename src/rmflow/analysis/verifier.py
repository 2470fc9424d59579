"""Verifier metrics per group and score set: AUROC, calibration, first-error steps.

A CoT's label is final-answer correctness (normalised parsed answer = gold); its score is the reward
set's aggregated score. Per group two readings: the macro average over the group's categories of the
per-category metric (``auroc``, ``ece``), and the metric on all the group's CoTs pooled
(``auroc_pooled``, ``ece_pooled``; for a single category both agree). Reliability bins are pooled.
Calibration needs scores in [0, 1]; a score set with other values gets NaN. Rows cover every
aggregation and replica (``replica`` 1 is the model's ``--reward_dirs`` entry, as in ``replicas.csv``).

First-error metrics (:func:`process_rows`) apply to score sets whose reward lists hold one P(+) per
step (dORM/dPRM-style lists) in every category, on the CoTs that have step labels; they are pooled
over a group's labelled CoTs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from rmflow.analysis.inputs import AnalysisCategory, ScoreSet
from rmflow.analysis.metrics import (
    UNLABELLED,
    Reliability,
    auroc_sorted,
    first_error_scores,
    in_unit_interval,
    reliability,
)

VERIFIER_HEADER = ["test_set", "method", "aggregation", "replica", "group", "metric", "value"]
RELIABILITY_HEADER = [
    "test_set", "method", "aggregation", "group", "bin", "lower", "upper", "count", "mean_score", "accuracy"
]  # fmt: skip
PROCESS_HEADER = [
    "test_set", "method", "group", "threshold", "erroneous", "correct", "acc_erroneous", "acc_correct", "f1"
]  # fmt: skip


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _reliability(scores: np.ndarray, correct: np.ndarray, bins: int) -> Reliability | None:
    return reliability(scores, correct, bins) if in_unit_interval(scores) else None


def verifier_tables(
    test_set: str,
    cats: Mapping[str, AnalysisCategory],
    grouping: Mapping[str, Sequence[str]],
    sets: Sequence[ScoreSet],
    bins: int,
) -> tuple[list[list[object]], list[list[object]], dict[tuple[str, str], float]]:
    """Rows of ``verifier.csv`` and ``reliability.csv`` (primary sets), and AUROC by (set key, group)."""
    rows: list[list[object]] = []
    rel_rows: list[list[object]] = []
    auroc_of: dict[tuple[str, str], float] = {}
    names = list(cats)
    sizes = [len(cat.correct) for cat in cats.values()]
    bounds = np.cumsum([0, *sizes])
    # category and correctness of every CoT in one small int, so that one gather orders both
    code_of = 2 * np.repeat(np.arange(len(names), dtype=np.int16), sizes) + np.concatenate(
        [cat.correct for cat in cats.values()]
    )
    members_of = {g: np.isin(names, group_names) for g, group_names in grouping.items()}  # by category
    for s in sets:
        scores = np.concatenate([cat.data.scores[s.key] for cat in cats.values()])
        order = np.argsort(scores)  # one sort per score set serves every subset
        ordered, code = scores[order], code_of[order]
        members, labels = code >> 1, (code & 1).astype(bool)
        # the same order grouped by category (a stable radix sort of small ints): one slice each
        by_category = np.argsort(members, kind="stable")
        grouped, grouped_labels = ordered[by_category], labels[by_category]
        per_cat = {}
        for i, (c, cat) in enumerate(cats.items()):
            mine = slice(bounds[i], bounds[i + 1])
            per_cat[c] = (
                auroc_sorted(grouped[mine], grouped_labels[mine]),
                _reliability(cat.data.scores[s.key], cat.correct, bins),
            )
        for group, group_names in grouping.items():
            if len(group_names) == 1:
                pooled_auroc, correct = per_cat[group_names[0]][0], cats[group_names[0]].correct
            elif members_of[group].all():
                pooled_auroc, correct = auroc_sorted(ordered, labels), labels
            else:
                inside = members_of[group][members]
                pooled_auroc, correct = auroc_sorted(ordered[inside], labels[inside]), labels[inside]
            aurocs = [per_cat[c][0] for c in group_names]
            group_rels = [per_cat[c][1] for c in group_names]
            pooled = sum(group_rels[1:], group_rels[0]) if all(group_rels) else None  # bins add up
            metrics = {
                "auroc": _nanmean(aurocs),
                "auroc_pooled": pooled_auroc,
                "ece": _nanmean([r.ece for r in group_rels]) if all(group_rels) else math.nan,
                "ece_pooled": pooled.ece if pooled else math.nan,
                "cots": len(correct),
                "cot_accuracy": 100 * float(correct.mean()),
            }
            auroc_of[s.key, group] = metrics["auroc"]
            rows.extend(
                [test_set, s.model, s.strategy, s.replica + 1, group, k, v] for k, v in metrics.items()
            )
            if pooled is not None and s.replica == 0:
                edges = pooled.edges
                for b in range(pooled.bins):
                    rel_rows.append(
                        [test_set, s.model, s.strategy, group, b, edges[b], edges[b + 1], int(pooled.count[b]),
                         pooled.mean_score[b], pooled.accuracy[b]]
                    )  # fmt: skip
    return rows, rel_rows, auroc_of


def per_step_models(cats: Mapping[str, AnalysisCategory], models: Sequence[str]) -> list[str]:
    """Models with one reward per step in every category."""
    return [m for m in models if all(m in cat.predicted_error for cat in cats.values())]


def has_step_labels(cats: Mapping[str, AnalysisCategory]) -> bool:
    return any((cat.first_error != UNLABELLED).any() for cat in cats.values())


def process_rows(
    test_set: str,
    cats: Mapping[str, AnalysisCategory],
    grouping: Mapping[str, Sequence[str]],
    models: Sequence[str],
    threshold: float,
) -> list[list[object]]:
    """ProcessBench-style rows per per-step model and group (pooled over the group's labelled CoTs)."""
    rows: list[list[object]] = []
    for model in per_step_models(cats, models):
        for group, names in grouping.items():
            predicted = np.concatenate([cats[c].predicted_error[model] for c in names])
            actual = np.concatenate([cats[c].first_error for c in names])
            if not (actual != UNLABELLED).any():
                continue
            s = first_error_scores(predicted, actual)
            rows.append(
                [
                    test_set,
                    model,
                    group,
                    threshold,
                    s.erroneous,
                    s.correct,
                    s.acc_erroneous,
                    s.acc_correct,
                    s.f1,
                ]
            )
    return rows
