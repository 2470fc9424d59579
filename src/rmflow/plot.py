"""``rmflow plot``: accuracy-vs-N panels from a ``best_of_n.csv`` / ``weighted_vote.csv`` (docs/formats.md).

    rmflow plot --input_file results/eval/best_of_n.csv --output_file results/plots/best_of_n [--plot_oracle]

One panel per ``*_mean`` column (Overall first and emphasised, then the categories in CSV order), five
panels a row (the 15 panels of Overall + 14 categories make a 3x5 grid); x = N on a log2 axis
ticked at the N values, y = task accuracy (%), limits from the plotted data with small margins. One
line per method: MV black; dORM, dPRM, gORM, gPRM in fixed colours and markers, chosen by the method
name's prefix (``dORM-14B`` is drawn as dORM; a second ``dORM-*`` keeps the colour with another line
style); other methods take further colours. With ``--plot_oracle`` the ``Pass@N`` row is drawn dotted
grey. Writes ``PREFIX.pdf``, ``PREFIX.png`` and the legend alone as ``PREFIX_legend.pdf/.png``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmflow.errors import UserError
from rmflow.io import atomic_path

log = logging.getLogger(__name__)

MV, PASS = "MV", "Pass@N"
#: fixed styles of the four reward-model families, by method-name prefix
FAMILY_STYLES = {
    "dORM": {"color": "#1f77b4", "marker": "s"},
    "dPRM": {"color": "#2ca02c", "marker": "^"},
    "gORM": {"color": "#d62728", "marker": "D"},
    "gPRM": {"color": "#9467bd", "marker": "v"},
}
MV_STYLE = {"color": "black", "marker": "o"}
PASS_STYLE = {"color": "0.55", "marker": "", "linestyle": ":", "linewidth": 1.6}
EXTRA_COLORS = ["#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
EXTRA_MARKERS = ["P", "X", "*", "h", "<", ">"]
LINESTYLES = ["-", "--", "-.", (0, (5, 1, 1, 1))]
PANELS_PER_ROW = 5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input_file", required=True, help="best_of_n.csv or weighted_vote.csv")
    p.add_argument(
        "--output_file",
        required=True,
        help="output prefix: PREFIX.pdf/.png, PREFIX_legend.pdf/.png (a .pdf/.png suffix is dropped)",
    )
    p.add_argument("--plot_oracle", action="store_true", help="also draw Pass@N (dotted grey)")


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


def method_styles(methods: list[str]) -> dict[str, dict[str, Any]]:
    """Line style of each method (MV black, families by prefix, others further colours)."""
    styles: dict[str, dict[str, Any]] = {}
    family_count: dict[str, int] = {}
    extra = 0
    for method in methods:
        if method == MV:
            style = dict(MV_STYLE)
        elif method == PASS:
            style = dict(PASS_STYLE)
        else:
            family = next((f for f in FAMILY_STYLES if method.startswith(f)), None)
            if family is not None:
                k = family_count[family] = family_count.get(family, -1) + 1
                style = {**FAMILY_STYLES[family], "linestyle": LINESTYLES[k % len(LINESTYLES)]}
            else:
                style = {
                    "color": EXTRA_COLORS[extra % len(EXTRA_COLORS)],
                    "marker": EXTRA_MARKERS[extra % len(EXTRA_MARKERS)],
                }
                extra += 1
        style.setdefault("linestyle", "-")
        style.setdefault("linewidth", 1.5)
        styles[method] = style
    return styles


def make_figures(table: Table, plot_oracle: bool = False) -> tuple[Any, Any]:
    """The panel figure and the legend figure (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in table.methods if plot_oracle or m != PASS]
    if not methods:
        raise UserError("nothing to plot: the table has only Pass@N rows (use --plot_oracle)")
    styles = method_styles(methods)
    panels = len(table.columns)
    ncols = min(PANELS_PER_ROW, panels)
    nrows = math.ceil(panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows + 0.3), squeeze=False)
    handles = {}
    for ax, column in zip(axes.flat, table.columns, strict=False):
        plotted = []
        for method in methods:
            points = table.values[method][column]
            xs = [n for n in table.Ns if n in points]
            ys = [points[n] for n in xs]
            (line,) = ax.plot(xs, ys, label=method, markersize=4.5, **styles[method])
            handles.setdefault(method, line)
            plotted += ys
        _format_axes(ax, table.Ns, plotted, column == "Overall_mean")
        ax.set_title(
            panel_title(column), fontsize=11, fontweight="bold" if column == "Overall_mean" else None
        )
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("Accuracy (%)")
    for ax in axes[-1, :]:
        ax.set_xlabel("N")
    fig.tight_layout()

    legend_fig = plt.figure(figsize=(max(2.0, 1.45 * len(methods)), 0.45))
    legend_fig.legend(
        list(handles.values()), list(handles), loc="center", ncol=len(methods), frameon=False, fontsize=10
    )
    return fig, legend_fig


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
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.tick_params(labelsize=8.5)
    if emphasised:
        ax.set_facecolor("#f4f4f4")
        for spine in ax.spines.values():
            spine.set_linewidth(1.8)


def _prefix(output_file: str) -> Path:
    path = Path(output_file)
    return path.with_suffix("") if path.suffix.lower() in (".pdf", ".png") else path


def plot(input_file: str | Path, output_file: str, plot_oracle: bool = False) -> list[Path]:
    """Write ``PREFIX.pdf``, ``PREFIX.png``, ``PREFIX_legend.pdf``, ``PREFIX_legend.png`` atomically."""
    import matplotlib.pyplot as plt

    table = read_table(input_file)
    fig, legend_fig = make_figures(table, plot_oracle)
    prefix = _prefix(output_file)
    written = []
    try:
        for figure, stem, extra in [
            (fig, prefix.name, {}),
            (legend_fig, f"{prefix.name}_legend", {"bbox_inches": "tight"}),
        ]:
            for fmt in ("pdf", "png"):
                target = prefix.with_name(f"{stem}.{fmt}")
                with atomic_path(target) as tmp:
                    figure.savefig(tmp, format=fmt, dpi=150, **extra)
                written.append(target)
    finally:
        plt.close(fig)
        plt.close(legend_fig)
    log.info("plotted %d panels x %d methods -> %s.{pdf,png}", len(table.columns), len(table.methods), prefix)
    return written


def run(args: argparse.Namespace) -> None:
    plot(args.input_file, args.output_file, args.plot_oracle)
