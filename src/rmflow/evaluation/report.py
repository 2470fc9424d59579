"""The evaluation tables (docs/formats.md#evaluation-tables): ``best_of_n.csv`` and ``weighted_vote.csv``.

Header ``N,Method,Overall_mean,{cat}_mean...,Overall_std,{cat}_std...``; per N the rows ``MV``, each
reward model in the given order, ``Pass@N``. A category's mean and std (population, ddof 0) are over
its runs; ``Overall`` pools all (category, run) accuracies, a macro average over categories.
Values are written with Python's ``repr`` of the float64: the shortest text that reads back to the
identical number (e.g. ``45.2``, ``0.0``, ``1.4142135623730951``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rmflow.io import write_text
from rmflow.names import MV, PASS, TABLES

#: (table, N, method) -> accuracy (%) of each run, for one category
Key = tuple[str, int, str]
RunAccuracies = Mapping[Key, np.ndarray]


def header(categories: Sequence[str]) -> list[str]:
    """The CSV header for ``categories`` (in the given order)."""
    names = ["Overall", *categories]
    return ["N", "Method", *(f"{c}_mean" for c in names), *(f"{c}_std" for c in names)]


def methods(model_names: Sequence[str]) -> list[str]:
    """Row labels for one N: MV, the models, Pass@N."""
    return [MV, *model_names, PASS]


def format_value(value: float) -> str:
    """Shortest round-trip text of a float64."""
    return repr(float(value))


def table_rows(
    table: str,
    per_category: Mapping[str, RunAccuracies],
    categories: Sequence[str],
    Ns: Sequence[int],
    model_names: Sequence[str],
) -> list[list[str]]:
    """Rows of one table: per N and method, Overall and per-category mean and std over runs."""
    rows = []
    for n in Ns:
        for method in methods(model_names):
            runs = [np.asarray(per_category[c][table, n, method], dtype=np.float64) for c in categories]
            pooled = np.concatenate(runs)
            means = [np.mean(pooled), *(np.mean(r) for r in runs)]
            stds = [np.std(pooled), *(np.std(r) for r in runs)]
            rows.append([str(n), method, *map(format_value, means + stds)])
    return rows


def write_tables(
    output_dir: str | Path,
    per_category: Mapping[str, RunAccuracies],
    categories: Sequence[str],
    Ns: Sequence[int],
    model_names: Sequence[str],
) -> list[Path]:
    """Write ``best_of_n.csv`` and ``weighted_vote.csv`` atomically; return their paths."""
    paths = []
    for table in TABLES:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header(categories))
        writer.writerows(table_rows(table, per_category, categories, Ns, model_names))
        path = Path(output_dir) / f"{table}.csv"
        write_text(path, buf.getvalue())
        paths.append(path)
    return paths
