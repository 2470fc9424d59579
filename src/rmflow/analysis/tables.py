"""Tidy (long-format) tables of the analysis: accuracy statistics per group and paired comparisons.

``accuracy.csv`` — one row per (test set, N, selection, method, aggregation, group, statistic[, run]):

* ``mean``: mean over runs of the group's macro accuracy (for group ``all`` the seed's ``Overall_mean``);
* ``run_std``: population std over runs of the group's macro accuracy (run-to-run noise only);
* ``seed_pooled_std``: the seed's ``Overall_std`` — std over all (category, run) accuracies pooled,
  which also contains the spread between categories (kept for comparison);
* ``ci95_low`` / ``ci95_high``: bootstrap percentile CI over questions (:mod:`uncertainty`);
* ``accuracy`` with ``run`` = r: the macro accuracy of run r (macro groups only; per-domain run
  accuracies are the seed CSVs' per-category columns).

pass@k rows have no runs (the estimator averages over all subsets), so no run statistics.
``comparisons.csv`` — per (test set, N, selection, group) and pair of methods (MV and each reward
model under its own strategy; ``method_a`` is the later one in that order): ``diff`` = a - b in
percentage points, its bootstrap CI and the paired sign-flip permutation p-value.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rmflow.analysis.selection import MACRO_GROUPS, SELECTIONS, CategorySelection, Series
from rmflow.analysis.uncertainty import CategoryResamples, group_intervals, paired_comparison
from rmflow.evaluation.report import format_value
from rmflow.io import write_text
from rmflow.names import MV, UNBIASED

ACCURACY_HEADER = [
    "test_set", "N", "selection", "method", "aggregation", "group", "statistic", "run", "value"
]  # fmt: skip
COMPARISON_HEADER = [
    "test_set", "N", "selection", "group", "method_a", "method_b", "diff", "ci95_low", "ci95_high",
    "p_value", "questions",
]  # fmt: skip


class Columns:
    """The position of each column of a table's rows, by name: ``Columns(ACCURACY_HEADER).value``."""

    def __init__(self, header: Sequence[str]) -> None:
        self._position = {name: i for i, name in enumerate(header)}

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["_position"][name]
        except KeyError:
            raise AttributeError(f"no column {name!r}") from None


_NATIVE = frozenset({str, int, float})


def _cell(value: Any) -> str:
    kind = type(value)  # exact-type checks first: the tables hold about a million cells
    if kind is str:
        return value
    if kind is float or kind is np.float64:
        return "" if value != value else format_value(value)  # NaN != NaN
    if kind is int:
        return str(value)
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else format_value(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV atomically; floats as their shortest round-trip text, NaN as an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    # native str, int and (non-NaN) float cells go through as they are: the csv module writes a float as
    # its repr, the same text as format_value
    writer.writerows([v if type(v) in _NATIVE and v == v else _cell(v) for v in row] for row in rows)
    write_text(path, buf.getvalue())
    return path


def group_runs(selections: Mapping[str, CategorySelection], names: Sequence[str]) -> np.ndarray:
    """``(C, R, M)`` run accuracies of the group's categories."""
    return np.stack([selections[c].runs for c in names])


def accuracy_rows(
    test_set: str,
    series: Sequence[Series],
    selections: Mapping[str, CategorySelection],
    resamples: Mapping[str, CategoryResamples],
    grouping: Mapping[str, Sequence[str]],
) -> list[list[object]]:
    rows: list[list[object]] = []
    primary = [j for j, s in enumerate(series) if s.replica == 0]
    for group, names in grouping.items():
        runs = group_runs(selections, names)
        macro = runs.mean(axis=0)  # (R, M)
        # one contiguous row per series, so that each statistic reduces a row exactly as numpy
        # reduces the series' own 1-D array (same pairwise sums): the seed's pooling order is
        # category-major
        pooled = np.ascontiguousarray(runs.transpose(2, 0, 1)).reshape(runs.shape[2], -1)
        per_run = np.ascontiguousarray(macro.T)
        mean, pooled_std, run_std = pooled.mean(axis=1), pooled.std(axis=1), per_run.std(axis=1)
        ci = group_intervals([resamples[c] for c in names])
        for j in primary:
            s = series[j]
            head = [test_set, s.n, s.selection, s.method, s.aggregation, group]
            stats = {"mean": mean[j]}
            if s.selection != UNBIASED:
                stats |= {"run_std": run_std[j], "seed_pooled_std": pooled_std[j]}
            stats |= {"ci95_low": ci.low[j], "ci95_high": ci.high[j]}
            rows.extend([*head, k, "", v] for k, v in stats.items())
            if group in MACRO_GROUPS and s.selection != UNBIASED:
                rows.extend([*head, "accuracy", r, v] for r, v in enumerate(per_run[j].tolist()))
    return rows


def own_series(series: Sequence[Series], strategies: Mapping[str, str]) -> dict[tuple[str, int, str], int]:
    """(selection, N, method) -> column of MV and of each model under its own strategy (primary)."""
    out = {}
    for j, s in enumerate(series):
        if s.method == MV:
            for selection in SELECTIONS:
                out[selection, s.n, MV] = j
        elif s.replica == 0 and strategies.get(s.method) == s.aggregation and s.selection in SELECTIONS:
            out[s.selection, s.n, s.method] = j
    return out


def comparison_rows(
    test_set: str,
    series: Sequence[Series],
    resamples: Mapping[str, CategoryResamples],
    grouping: Mapping[str, Sequence[str]],
    strategies: Mapping[str, str],
    Ns: Sequence[int],
) -> list[list[object]]:
    columns = own_series(series, strategies)
    methods = [MV, *strategies]
    pairs = [
        (selection, n, methods[j], methods[i])
        for n in Ns
        for selection in SELECTIONS
        for j in range(len(methods))
        for i in range(j)
    ]
    if not pairs:
        return []
    a = np.array([columns[sel, n, ma] for sel, n, ma, _ in pairs])
    b = np.array([columns[sel, n, mb] for sel, n, _, mb in pairs])
    rows: list[list[object]] = []
    paired = {c: r.paired(a, b) for c, r in resamples.items()}  # once per category, not per group
    for group, names in grouping.items():
        parts = [resamples[c] for c in names]
        cmp = paired_comparison(parts, a, b, paired=[paired[c] for c in names])
        questions = sum(p.p.shape[0] for p in parts)
        for k, (sel, n, ma, mb) in enumerate(pairs):
            rows.append(
                [
                    test_set,
                    n,
                    sel,
                    group,
                    ma,
                    mb,
                    cmp.diff[k],
                    cmp.low[k],
                    cmp.high[k],
                    cmp.p_value[k],
                    questions,
                ]
            )
    return rows
