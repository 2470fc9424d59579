"""``rmflow plot``: accuracy-vs-N panels from a ``best_of_n.csv`` / ``weighted_vote.csv`` (docs/formats.md).

    rmflow plot --input_file results/eval/best_of_n.csv --output_file results/plots/best_of_n \\
        [--plot_oracle] [--test_name NAME] [--band results/analysis/accuracy.csv]

One panel per ``*_mean`` column (Overall first and emphasised, then the categories in CSV order), five
panels a row (Overall + 14 categories make a 3x5 grid), sized for a paper's text width; x = number of
CoTs N on a log2 axis ticked at the N values, y = task accuracy (%), limits from the plotted data with
small margins; a title names the table and the test set. Methods are drawn in the project's styles
(:mod:`rmflow.styles`): ORM blue, PRM red, discriminative light, generative dark, Majority Voting black,
Pass@N (with ``--plot_oracle``) grey with x markers. With ``--band`` the 95% bootstrap interval of each
reward model's macro accuracy (the analysis' ``accuracy.csv``, under the model's own aggregation from the
analysis' ``summary.json`` next to it) is shaded around its Overall curve. Writes ``PREFIX.pdf/.png``
(all panels, with a legend), ``PREFIX_overall.pdf/.png`` (Overall alone, for one column) and the legend
alone as ``PREFIX_legend.pdf/.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmflow.errors import UserError
from rmflow.io import atomic_path, staged_outputs
from rmflow.names import MV, PASS, TABLES
from rmflow.styles import TABLE_TITLES, X_LABEL, Y_LABEL, label, method_styles

log = logging.getLogger(__name__)

PANELS_PER_ROW = 5
TEXT_WIDTH, COLUMN_WIDTH = 7.0, 3.4  # inches: a two-column paper's text and column
#: one band point: (method, N) -> (low, high)
Band = dict[tuple[str, int], tuple[float, float]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input_file", required=True, help="best_of_n.csv or weighted_vote.csv")
    p.add_argument(
        "--output_file",
        required=True,
        help="output prefix: PREFIX.pdf/.png, PREFIX_overall.pdf/.png, PREFIX_legend.pdf/.png "
        "(a .pdf/.png suffix is dropped)",
    )
    p.add_argument("--plot_oracle", action="store_true", help="also draw Pass@N (grey, x markers)")
    p.add_argument("--test_name", default=None, help="test set named in the title")
    p.add_argument(
        "--band",
        default=None,
        metavar="ACCURACY_CSV",
        help="shade each reward model's 95%% bootstrap CI from this analysis accuracy.csv (Overall panel)",
    )


@dataclass
class Table:
    """A parsed evaluation CSV: per method, per ``*_mean`` column, the value at each N."""

    Ns: list[int]
    columns: list[str]  # *_mean columns, Overall first
    methods: list[str]  # in first-appearance order
    values: dict[str, dict[str, dict[int, float]]]  # method -> column -> N -> value


def read_table(path: str | Path) -> Table:
    """Parse and check an evaluation CSV; problems are :class:`UserError` naming file, row and column."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's BOM is fine
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (at byte {exc.start})") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:  # a directory, no permission, ...
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    twice = next((c for i, c in enumerate(header) if c in header[:i]), None)
    if twice is not None:  # DictReader would keep the last such column's values under the name
        raise UserError(
            f"{path}: column {twice!r} appears twice in the header (which one is meant is ambiguous)"
        )
    for required in ("N", "Method", "Overall_mean"):
        if required not in header:
            raise UserError(f"{path}: missing column {required!r} (header: {','.join(header) or 'empty'})")
    columns = ["Overall_mean", *(c for c in header if c.endswith("_mean") and c != "Overall_mean")]
    if not rows:
        raise UserError(f"{path}: no data rows")
    values: dict[str, dict[str, dict[int, float]]] = {}
    Ns: set[int] = set()
    for line, row in enumerate(rows, start=2):
        if None in row or any(row[c] is None for c in header):
            raise UserError(f"{path}: row {line}: expected {len(header)} fields")
        n = _number(path, line, "N", row["N"], int)
        if n < 1:
            raise UserError(f"{path}: row {line}, column 'N': expected a positive integer, got {row['N']!r}")
        method = row["Method"].strip()
        if not method:
            raise UserError(f"{path}: row {line}, column 'Method': empty")
        per_column = values.setdefault(method, {c: {} for c in columns})
        if n in per_column["Overall_mean"]:
            raise UserError(f"{path}: row {line}: duplicate row for N={n}, method {method!r}")
        for column in columns:
            per_column[column][n] = _number(path, line, column, row[column], float)
        Ns.add(n)
    return Table(sorted(Ns), columns, list(values), values)


def _number(path: Path, line: int, column: str, text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        expected = "an integer" if kind is int else "a finite number"
        raise UserError(f"{path}: row {line}, column {column!r}: expected {expected}, got {text!r}")
    return value


def panel_title(column: str) -> str:
    """``computer_science_mean`` -> ``Computer Science``."""
    return column.removesuffix("_mean").replace("_", " ").title()


def read_band(path: str | Path, selection: str, models: Sequence[str]) -> Band:
    """``(model, N) -> (ci95_low, ci95_high)`` of each model's macro accuracy (group ``all``) under its
    own aggregation, from an analysis ``accuracy.csv`` and the ``summary.json`` next to it."""
    path = Path(path)
    summary_path = path.with_name("summary.json")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        strategies = {m["name"]: m["strategy"] for m in summary["reward_models"]}
    except FileNotFoundError:
        raise UserError(f"{summary_path}: not found (--band needs the analysis' summary.json)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{summary_path}: no reward_models with name and strategy ({exc})") from None
    for model in models:
        if model not in strategies:
            raise UserError(f"{summary_path}: reward model {model!r} of the table was not analysed")
    bounds: dict[tuple[str, int, str], float] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                method = row.get("method")
                if (
                    method in strategies
                    and row.get("selection") == selection
                    and row.get("group") == "all"
                    and row.get("aggregation") == strategies[method]
                    and row.get("statistic") in ("ci95_low", "ci95_high")
                ):
                    n = _number(path, line, "N", row["N"], int)
                    bounds[method, n, row["statistic"]] = _number(path, line, "value", row["value"], float)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})") from None
    band = {
        (m, n): (bounds[m, n, "ci95_low"], bounds[m, n, "ci95_high"])
        for (m, n, stat) in bounds
        if stat == "ci95_low" and (m, n, "ci95_high") in bounds
    }
    for model in models:
        if not any(m == model for m, _ in band):
            raise UserError(
                f"{path}: no ci95 rows for {model!r} ({selection}, group all, {strategies[model]})"
            )
    return band


def figure_title(table: str | None, test_name: str | None, what: str = "") -> str:
    """``Best-of-N{what}, test set: NAME`` (the test set left out when unknown)."""
    title = TABLE_TITLES.get(table or "", "Accuracy") + what
    return f"{title}, test set: {test_name}" if test_name else title


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw(
    ax: Any, table: Table, column: str, methods: Sequence[str], band: Band | None, size: float
) -> dict[str, Any]:
    """The curves of one panel; returns the line of each method (for the legend)."""
    styles = method_styles(methods)
    lines, plotted = {}, []
    for method in methods:
        points = table.values[method][column]
        xs = [n for n in table.Ns if n in points]
        ys = [points[n] for n in xs]
        style = styles[method]
        (lines[method],) = ax.plot(
            xs, ys, label=label(method), markersize=size, linewidth=0.45 * size, clip_on=False, **style.line()
        )
        if band and column == "Overall_mean" and any((method, n) in band for n in xs):
            shown = [n for n in xs if (method, n) in band]
            low, high = zip(*(band[method, n] for n in shown), strict=True)
            ax.fill_between(shown, low, high, color=style.color, alpha=0.18, linewidth=0)
            plotted += [*low, *high]
        plotted += ys
    _format_axes(ax, table.Ns, plotted, column == "Overall_mean")
    return lines


def _format_axes(ax: Any, Ns: list[int], plotted: list[float], emphasised: bool) -> None:
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log", base=2)
    ax.set_xticks(Ns, [str(n) for n in Ns])
    ax.xaxis.set_minor_locator(NullLocator())
    if len(Ns) > 1:
        ax.set_xlim(Ns[0] / 2**0.25, Ns[-1] * 2**0.25)
    lo, hi = min(plotted), max(plotted)
    margin = max(0.08 * (hi - lo), 0.5)
    ax.set_ylim(lo - margin, hi + margin)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    if emphasised:
        ax.set_facecolor("#f4f4f4")
        for spine in ax.spines.values():
            spine.set_linewidth(1.4)


def _methods(table: Table, plot_oracle: bool) -> list[str]:
    methods = [m for m in table.methods if plot_oracle or m != PASS]
    if not methods:
        raise UserError("nothing to plot: the table has only Pass@N rows (use --plot_oracle)")
    return methods


def make_figures(
    table: Table, plot_oracle: bool = False, title: str | None = None, band: Band | None = None
) -> tuple[Any, Any]:
    """The panel figure (text width, with a legend) and the legend figure (matplotlib, Agg backend)."""
    plt = _pyplot()
    methods = _methods(table, plot_oracle)
    panels = len(table.columns)
    ncols = min(PANELS_PER_ROW, panels)
    nrows = math.ceil(panels / ncols)
    width = TEXT_WIDTH if ncols > 2 else COLUMN_WIDTH * ncols / 2 + 1.0
    with plt.rc_context({"font.size": 7, "xtick.labelsize": 6, "ytick.labelsize": 6}):
        fig = plt.figure(figsize=(width, 1.45 * nrows + 1.0), layout="constrained")
        # the panels with their shared labels above, the legend in a strip of its own below
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.45 * nrows + 0.75, 0.25])
        axes = top.subplots(nrows, ncols, squeeze=False)
        lines: dict[str, Any] = {}
        for ax, column in zip(axes.flat, table.columns, strict=False):
            lines = _draw(ax, table, column, methods, band, size=3.2) | lines
            ax.set_title(
                panel_title(column), fontsize=7.5, fontweight="bold" if column == "Overall_mean" else None
            )
        for ax in axes.flat[panels:]:
            ax.set_visible(False)
        top.supxlabel(X_LABEL, fontsize=8)
        top.supylabel(Y_LABEL, fontsize=8)
        if title:
            top.suptitle(title, fontsize=9)
        bottom.legend(
            [lines[m] for m in methods], [label(m) for m in methods], loc="center",
            ncol=min(len(methods), 6), frameon=False, fontsize=7,
        )  # fmt: skip
    legend_fig = plt.figure(figsize=(max(2.0, 1.3 * len(methods)), 0.4))
    legend_fig.legend(
        [lines[m] for m in methods], [label(m) for m in methods], loc="center", ncol=len(methods),
        frameon=False, fontsize=8,
    )  # fmt: skip
    return fig, legend_fig


def make_overall_figure(
    table: Table, plot_oracle: bool = False, title: str | None = None, band: Band | None = None
) -> Any:
    """The Overall panel alone, at a paper's column width, with its legend below."""
    plt = _pyplot()
    methods = _methods(table, plot_oracle)
    with plt.rc_context({"font.size": 8, "xtick.labelsize": 7, "ytick.labelsize": 7}):
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.9), layout="constrained")
        _draw(ax, table, "Overall_mean", methods, band, size=4)
        ax.set_facecolor("white")
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel(Y_LABEL)
        if title:
            ax.set_title(title, fontsize=8.5)
        fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=7, handlelength=2.2)
    return fig


def _prefix(output_file: str) -> Path:
    path = Path(output_file)
    return path.with_suffix("") if path.suffix.lower() in (".pdf", ".png") else path


def plot(
    input_file: str | Path,
    output_file: str,
    plot_oracle: bool = False,
    test_name: str | None = None,
    band_file: str | Path | None = None,
) -> list[Path]:
    """Write the panels, the Overall panel and the legend, each as PDF and PNG: all six or none."""
    plt = _pyplot()
    table = read_table(input_file)
    name = Path(input_file).stem
    models = [m for m in table.methods if m not in (MV, PASS)]
    band = None
    if band_file is not None:
        if name not in TABLES:
            raise UserError(
                f"--band: cannot tell the selection of {input_file} (expected one of {', '.join(TABLES)})"
            )
        band = read_band(band_file, name, models)
    fig, legend_fig = make_figures(table, plot_oracle, figure_title(name, test_name), band)
    overall = make_overall_figure(table, plot_oracle, figure_title(name, test_name, " (macro average)"), band)
    prefix = _prefix(output_file)
    written = []
    try:
        with staged_outputs(prefix.parent) as staging:  # all six files or none
            for figure, stem, extra in [
                (fig, prefix.name, {}),
                (overall, f"{prefix.name}_overall", {}),
                (legend_fig, f"{prefix.name}_legend", {"bbox_inches": "tight"}),
            ]:
                for fmt in ("pdf", "png"):
                    with atomic_path(staging / f"{stem}.{fmt}") as tmp:
                        figure.savefig(tmp, format=fmt, dpi=200, **extra)
                    written.append(prefix.with_name(f"{stem}.{fmt}"))
    finally:
        for figure in (fig, overall, legend_fig):
            plt.close(figure)
    log.info(
        "plotted %d panels x %d methods%s -> %s{,_overall,_legend}.{pdf,png}",
        len(table.columns), len(table.methods), " with CI bands" if band else "", prefix,
    )  # fmt: skip
    return written


def run(args: argparse.Namespace) -> None:
    plot(args.input_file, args.output_file, args.plot_oracle, args.test_name, args.band)
