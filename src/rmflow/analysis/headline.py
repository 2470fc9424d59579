"""The headline table: each reward model's AUROC, best-of-N and weighted vote at the largest N, with CIs.

One row per compared reward model under its own aggregation: the AUROC of its CoT scores for answer
correctness over all CoTs of the test set pooled, and its best-of-N and weighted-vote macro accuracy
at the largest N; then majority vote at the largest N and the accuracy of a single CoT (N = 1). Every
value comes with its 95% bootstrap percentile interval over questions, resampled per category with
the very draws of the accuracy CIs (:mod:`rmflow.analysis.uncertainty`), so the AUROC interval and
the accuracy intervals describe the same resampled test sets. ``headline.csv`` holds the numbers,
``headline.md`` the same table in Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rmflow.analysis.auroc_bootstrap import Ranking, bootstrap_interval
from rmflow.analysis.inputs import AnalysisCategory, ScoreSet
from rmflow.analysis.selection import Series
from rmflow.analysis.uncertainty import CategoryResamples, group_intervals
from rmflow.io import write_text
from rmflow.names import BEST_OF_N as BEST
from rmflow.names import MAJORITY
from rmflow.names import WEIGHTED_VOTE as WEIGHTED

HEADLINE_HEADER = [
    "test_set", "row", "method", "aggregation", "N", "statistic", "value", "ci95_low", "ci95_high"
]  # fmt: skip


def weighted_auroc(scores: np.ndarray, correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC (ties count half) of ``scores`` for ``correct`` with per-CoT ``weights`` ``(B, n)``: ``(B,)``.

    A weight is how often the CoT's question was drawn, so each row is the Mann-Whitney AUROC of one
    bootstrap resample; NaN where a resample has no correct or no wrong CoT.
    """
    return Ranking(scores, correct).auroc(weights)


def auroc_interval(
    cats: Mapping[str, AnalysisCategory], resamples: Mapping[str, CategoryResamples], key: str
) -> tuple[float, float, float]:
    """Pooled AUROC of score set ``key`` over every CoT and its bootstrap CI (questions resampled per
    category with the draws of :meth:`CategoryResamples.draw`)."""
    scores = np.concatenate([c.data.scores[key] for c in cats.values()])
    correct = np.concatenate([c.correct for c in cats.values()])
    n_cots = np.concatenate([c.data.n_cots for c in cats.values()])
    ranking = Ranking(scores, correct, np.repeat(np.arange(len(n_cots)), n_cots))
    counts = np.concatenate([resamples[c].counts for c in cats], axis=1)
    value = ranking.auroc(np.ones((1, len(n_cots)), dtype=np.int64))[0]
    low, high = bootstrap_interval(ranking, counts)
    return float(value), low, high


def headline_rows(
    test_set: str,
    series: Sequence[Series],
    cats: Mapping[str, AnalysisCategory],
    resamples: Mapping[str, CategoryResamples],
    own: Sequence[ScoreSet],
    Ns: Sequence[int],
) -> list[list[object]]:
    """Rows of ``headline.csv`` (macro accuracies in %, over every category)."""
    top = max(Ns)
    ci = group_intervals([resamples[c] for c in cats])
    column = {(s.selection, s.n, s.method, s.aggregation): j for j, s in enumerate(series) if s.replica == 0}

    def accuracy(row: str, method: str, aggregation: str, selection: str, n: int) -> list[object]:
        j = column[selection, n, method, aggregation]
        return [test_set, row, method, aggregation, n, selection, ci.value[j], ci.low[j], ci.high[j]]

    rows: list[list[object]] = []
    for s in own:
        auroc = auroc_interval(cats, resamples, s.key)
        rows.append([test_set, s.model, s.model, s.strategy, "", "auroc", *auroc])
        rows.append(accuracy(s.model, s.model, s.strategy, BEST, top))
        rows.append(accuracy(s.model, s.model, s.strategy, WEIGHTED, top))
    mv = next(s.method for s in series if s.selection == MAJORITY)
    rows.append(accuracy("majority vote", mv, "", MAJORITY, top))
    rows.append(accuracy("one CoT", mv, "", MAJORITY, min(Ns)))
    return rows


def headline_markdown(rows: Sequence[Sequence[object]], Ns: Sequence[int]) -> str:
    """The headline rows as a Markdown table (AUROC to 2 decimals, accuracies in % to 1 decimal).

    Majority vote (the unweighted vote) sits in the vote column, one CoT (best-of-1) in the best-of column.
    """
    top, one = max(Ns), min(Ns)
    cells: dict[str, dict[str, str]] = {}
    for _, row, _, aggregation, n, statistic, value, low, high in rows:
        fmt = "{:.2f}" if statistic == "auroc" else "{:.1f}"
        text = f"{fmt.format(value)} [{fmt.format(low)}, {fmt.format(high)}]"
        if statistic == MAJORITY:
            row, statistic = (
                (f"majority vote @{top}", WEIGHTED) if n == top else (f"one CoT (N = {one})", BEST)
            )
        cells.setdefault(str(row), {"aggregation": str(aggregation)})[str(statistic)] = text
    lines = [f"| | aggregation | AUROC | best-of-{top} | weighted vote @{top} |", "|---|---|---|---|---|"]
    lines += [
        f"| {row} | {c['aggregation']} | {c.get('auroc', '')} | {c.get(BEST, '')} | {c.get(WEIGHTED, '')} |"
        for row, c in cells.items()
    ]
    note = (
        "Macro accuracy (%) over categories; AUROC of the aggregated CoT score for answer correctness over\n"
        "every CoT pooled; [95% bootstrap interval over questions]."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def write_headline(path: Path, rows: Sequence[Sequence[object]], Ns: Sequence[int]) -> Path:
    """Write ``headline.md`` next to the CSV tables."""
    write_text(path, headline_markdown(rows, Ns))
    return path
