"""The analysis figures, each drawn from the rows of a tidy table and written as PDF and PNG.

Every figure function takes the rows it plots (as written to the CSVs, read by column name through the
table's header) and writes ``{plot_dir}/{name}.pdf`` and ``.png`` (:mod:`rmflow.analysis.render` draws
them in worker processes). Methods look the same in every figure of the project (:mod:`rmflow.styles`:
ORM blue, PRM red, discriminative light, generative dark; Majority Voting black; Pass@N grey).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from rmflow.analysis.length import LENGTH_HEADER
from rmflow.analysis.render import layout, legend_width, pyplot, save, text_width
from rmflow.analysis.replicas import REPLICA_HEADER
from rmflow.analysis.tables import ACCURACY_HEADER, COMPARISON_HEADER, Columns
from rmflow.analysis.verifier import PROCESS_HEADER, RELIABILITY_HEADER, VERIFIER_HEADER
from rmflow.names import MAJORITY, MV, ORACLE, PASS, PASS_K, UNBIASED
from rmflow.styles import MV_STYLE, PASS_STYLE, TABLE_TITLES, X_LABEL, Y_LABEL, Style, label, method_styles

SELECTION_TITLE = TABLE_TITLES
GROUP_TITLE = {
    "all": "All domains",
    "math_adjacent": "Math-adjacent",
    "non_math_adjacent": "Non-math-adjacent",
}
#: the statistics of ``accuracy.csv`` that the accuracy figures draw (for the macro groups)
ACCURACY_STATISTICS = ("mean", "ci95_low", "ci95_high")
STRATEGY_STYLE = {"last": "-", "min": "--", "max": ":", "mean": "-.", "prod": (0, (3, 1, 1, 1, 1, 1))}

Row = Sequence[Any]
#: column positions of the tables the figures read
ACC, CMP = Columns(ACCURACY_HEADER), Columns(COMPARISON_HEADER)
VER, REL, PRO = Columns(VERIFIER_HEADER), Columns(RELIABILITY_HEADER), Columns(PROCESS_HEADER)
REP, LEN = Columns(REPLICA_HEADER), Columns(LENGTH_HEADER)


def _log2(Ns: Sequence[int]) -> np.ndarray:
    """x positions of ``Ns`` on a log2 axis, drawn as a linear axis of log2(N) (no log transform to
    apply at every draw): the same picture."""
    return np.log2(np.asarray(Ns, dtype=np.float64))


def _log2_axis(ax: Any, Ns: Sequence[int]) -> None:
    ax.set_xticks(_log2(Ns), [str(n) for n in Ns])
    ax.set_xlabel(X_LABEL)
    ax.grid(alpha=0.3)


def _title(ax: Any, text: str, fontsize: float | None = None) -> None:
    """An axes title at a fixed height (no search for tick labels above the axes at every draw)."""
    ax.set_title(text, fontsize=fontsize, y=1.0)


def _message(plot_dir: Path, name: str, title: str, text: str) -> list[Path]:
    """A figure that states why there is nothing to plot (e.g. no step labels)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    return save(fig, plot_dir, name)


class Accuracy:
    """Lookup of ``accuracy.csv`` statistics: (N, selection, method, aggregation, group, statistic)."""

    def __init__(self, rows: Sequence[Row]):
        key = itemgetter(ACC.N, ACC.selection, ACC.method, ACC.aggregation, ACC.group, ACC.statistic)
        self.values = {key(r): r[ACC.value] for r in rows if r[ACC.run] == ""}

    def curve(
        self, Ns: Sequence[int], selection: str, method: str, aggregation: str, group: str, stat: str
    ) -> np.ndarray:
        return np.array(
            [self.values.get((n, selection, method, aggregation, group, stat), math.nan) for n in Ns]
        )


def _accuracy_panel(
    ax: Any, acc: Accuracy, Ns: Sequence[int], selection: str, group: str, strategies: Mapping[str, str],
    styles: Mapping[str, Style], band: bool = True,
) -> None:  # fmt: skip
    x = _log2(Ns)
    ax.plot(x, acc.curve(Ns, MAJORITY, MV, "", group, "mean"), **MV_STYLE.line(), ms=3, label=label(MV))
    ax.plot(
        x,
        acc.curve(Ns, ORACLE, PASS, "", group, "mean"),
        **PASS_STYLE.line(),
        ms=3,
        label=f"{PASS} (oracle)",
    )
    ax.plot(
        x,
        acc.curve(Ns, UNBIASED, PASS_K, "", group, "mean"),
        color="grey",
        ls="--",
        lw=1,
        label="pass@k (unbiased)",
    )
    for model, strategy in strategies.items():
        style = styles[model]
        mean = acc.curve(Ns, selection, model, strategy, group, "mean")
        ax.plot(x, mean, **style.line(), ms=4, label=f"{model} ({strategy})")
        if band:
            low = acc.curve(Ns, selection, model, strategy, group, "ci95_low")
            high = acc.curve(Ns, selection, model, strategy, group, "ci95_high")
            ax.fill_between(x, low, high, color=style.color, alpha=0.15, lw=0)
    _log2_axis(ax, Ns)


def _accuracy_labels(strategies: Mapping[str, str]) -> list[str]:
    """Legend labels of :func:`_accuracy_panel`."""
    return [
        label(MV),
        f"{PASS} (oracle)",
        "pass@k (unbiased)",
        *(f"{m} ({s})" for m, s in strategies.items()),
    ]


def uncertainty_figure(
    plot_dir: Path, rows: Sequence[Row], Ns: Sequence[int], strategies: Mapping[str, str]
) -> list[Path]:
    """Macro accuracy vs N (group all) with 95% bootstrap CI bands, best-of-N and weighted vote."""
    plt = pyplot()
    acc, styles = Accuracy(rows), method_styles(list(strategies))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, selection in zip(axes, SELECTION_TITLE, strict=True):
        _accuracy_panel(ax, acc, Ns, selection, "all", strategies, styles)
        _title(ax, f"{SELECTION_TITLE[selection]} — macro average, 95% bootstrap CI")
    axes[0].set_ylabel(Y_LABEL)
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    layout(fig, right=legend_width(_accuracy_labels(strategies), 8) + 0.25, top=0.4)
    return save(fig, plot_dir, "uncertainty")


def groups_figure(
    plot_dir: Path,
    rows: Sequence[Row],
    Ns: Sequence[int],
    strategies: Mapping[str, str],
    groups: Sequence[str],
) -> list[Path]:
    """Rows: best-of-N, weighted vote; columns: macro groups (all, math-adjacent, non-math-adjacent)."""
    plt = pyplot()
    acc, styles = Accuracy(rows), method_styles(list(strategies))
    fig, axes = plt.subplots(
        2, len(groups), figsize=(4.2 * len(groups), 7.5), squeeze=False, sharex=True, sharey="row"
    )
    for i, selection in enumerate(SELECTION_TITLE):
        for j, group in enumerate(groups):
            ax = axes[i, j]
            _accuracy_panel(ax, acc, Ns, selection, group, strategies, styles)
            _title(ax, f"{SELECTION_TITLE[selection]}: {GROUP_TITLE.get(group, group)}", fontsize=10)
        axes[i, 0].set_ylabel(Y_LABEL)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in axes[0]:  # the bottom row's N axis serves both rows
        ax.set_xlabel("")
    layout(fig, right=legend_width(_accuracy_labels(strategies), 7) + 0.2, wgap=0.25, hgap=0.45)
    return save(fig, plot_dir, "groups")


def aggregations_figure(
    plot_dir: Path,
    rows: Sequence[Row],
    Ns: Sequence[int],
    strategies: Mapping[str, str],
    aggregations: Sequence[str],
) -> list[Path]:
    """Per model (columns) and selection (rows): accuracy vs N under every aggregation, group all."""
    plt = pyplot()
    acc, styles = Accuracy(rows), method_styles(list(strategies))
    models = list(strategies) or ["(no reward models)"]
    fig, axes = plt.subplots(
        2, len(models), figsize=(3.8 * len(models), 7), squeeze=False, sharex=True, sharey="row"
    )
    for i, selection in enumerate(SELECTION_TITLE):
        for j, model in enumerate(models):
            ax = axes[i, j]
            x = _log2(Ns)
            ax.plot(
                x,
                acc.curve(Ns, MAJORITY, MV, "", "all", "mean"),
                color=MV_STYLE.color,
                lw=1,
                label=label(MV),
            )
            color = styles[model].color if model in styles else "grey"
            for agg in aggregations:
                own = strategies.get(model) == agg
                ax.plot(
                    x, acc.curve(Ns, selection, model, agg, "all", "mean"), color=color, ls=STRATEGY_STYLE[agg],
                    lw=2.2 if own else 1.1, alpha=1 if own else 0.75, label=f"{agg}{' (own)' if own else ''}",
                )  # fmt: skip
            _log2_axis(ax, Ns)
            _title(ax, f"{model}: {SELECTION_TITLE[selection]}", fontsize=10)
            if i == 0:  # the same legend holds for the row below
                ax.legend(fontsize=7, loc="lower right")
        axes[i, 0].set_ylabel(Y_LABEL)
    for ax in axes[0]:  # the bottom row's N axis serves both rows
        ax.set_xlabel("")
    layout(fig, hgap=0.45)
    return save(fig, plot_dir, "aggregations")


def _pair(r: Row) -> str:
    """The label of a comparisons row: ``method_a vs method_b``."""
    return f"{r[CMP.method_a]} vs {r[CMP.method_b]}"


def comparisons_figure(plot_dir: Path, rows: Sequence[Row], n: int) -> list[Path]:
    """Forest plot of paired differences (a - b, pp) at N = ``n``, group all, with CI and p-value."""
    plt = pyplot()
    picked = [r for r in rows if r[CMP.N] == n and r[CMP.group] == "all"]
    if not picked:
        return _message(plot_dir, "comparisons", "Paired comparisons", "No methods to compare.")
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(picked) / 2 + 1.8), sharey=True)
    for ax, selection in zip(axes, SELECTION_TITLE, strict=True):
        part = [r for r in picked if r[CMP.selection] == selection]
        y = np.arange(len(part))[::-1]
        diff = np.array([r[CMP.diff] for r in part])
        err = np.array(
            [[r[CMP.diff] - r[CMP.ci95_low] for r in part], [r[CMP.ci95_high] - r[CMP.diff] for r in part]]
        )
        significant = np.array([r[CMP.p_value] < 0.05 for r in part], dtype=bool)
        for mask, color in ((significant, "#d62728"), (~significant, "#555555")):
            if mask.any():  # one error-bar container per colour, not one per pair
                ax.errorbar(diff[mask], y[mask], xerr=err[:, mask], fmt="o", ms=4, color=color, capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        for yi, r in zip(y, part, strict=True):
            ax.annotate(
                f"p={r[CMP.p_value]:.2g}",
                (r[CMP.ci95_high], yi),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.set_yticks(y)
        ax.set_yticklabels([_pair(r) for r in part], fontsize=8)
        ax.set_xlabel("Accuracy difference (percentage points)")
        _title(ax, f"{SELECTION_TITLE[selection]}, N={n}, all domains", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.2)
    layout(fig, left=text_width([_pair(r) for r in picked], 8) + 0.25, right=0.3, top=0.3)
    return save(fig, plot_dir, "comparisons")


def auroc_figure(
    plot_dir: Path, rows: Sequence[Row], strategies: Mapping[str, str], columns: Sequence[str]
) -> list[Path]:
    """Heat map of AUROC (model under its own strategy x group/domain)."""
    plt = pyplot()
    key = itemgetter(VER.method, VER.aggregation, VER.group)
    values = {key(r): r[VER.value] for r in rows if r[VER.replica] == 1 and r[VER.metric] == "auroc"}
    models = list(strategies)
    if not models:
        return _message(plot_dir, "auroc", "AUROC", "No reward models to assess.")
    grid = np.array(
        [[values.get((m, strategies[m], c), math.nan) for c in columns] for m in models], dtype=float
    )
    fig, ax = plt.subplots(figsize=(max(6.5, 0.75 * len(columns) + 2.5), 0.55 * len(models) + 1.8))
    finite = grid[np.isfinite(grid)]
    low = min(0.5, float(finite.min())) if finite.size else 0.5
    im = ax.imshow(grid, cmap="viridis", vmin=low, vmax=1.0, aspect="auto")
    for i in range(len(models)):
        for j in range(len(columns)):
            v = grid[i, j]
            text = "–" if math.isnan(v) else f"{v:.2f}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v < (low + 1) / 2 else "black",
            )
    names = [GROUP_TITLE.get(c, c.replace("_", " ")) for c in columns]
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(models)))
    labels = [f"{m} ({strategies[m]})" for m in models]
    ax.set_yticklabels(labels, fontsize=8)
    _title(ax, "AUROC of the CoT score for final-answer correctness", fontsize=10)
    layout(
        fig, left=text_width(labels, 8) + 0.2, right=0.15, top=0.3, bottom=0.71 * text_width(names, 8) + 0.3
    )
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    return save(fig, plot_dir, "auroc")


def reliability_figure(plot_dir: Path, rows: Sequence[Row], strategies: Mapping[str, str]) -> list[Path]:
    """Reliability diagrams (group all, pooled): accuracy vs score per bin, and the bin counts."""
    plt = pyplot()
    own: dict[str, list[Row]] = {m: [] for m in strategies}  # per model: its bins (own strategy, group all)
    for r in rows:
        if r[REL.group] == "all" and strategies.get(r[REL.method]) == r[REL.aggregation]:
            own[r[REL.method]].append(r)
    models = [m for m, part in own.items() if part]
    if not models:
        return _message(plot_dir, "reliability", "Reliability", "No reward model has scores in [0, 1].")
    styles = method_styles(list(strategies))
    fig, axes = plt.subplots(
        2, len(models), figsize=(3.6 * len(models), 5.6), squeeze=False, sharex=True, sharey="row",
        gridspec_kw={"height_ratios": [3, 1]},
    )  # fmt: skip
    for j, m in enumerate(models):
        part = own[m]
        lower = np.array([r[REL.lower] for r in part])
        width = np.array([r[REL.upper] - r[REL.lower] for r in part])
        count = np.array([r[REL.count] for r in part], dtype=float)
        acc = np.array([r[REL.accuracy] for r in part], dtype=float)
        mean = np.array([r[REL.mean_score] for r in part], dtype=float)
        ece = np.nansum(count * np.abs(acc - mean)) / count.sum()
        ax = axes[0, j]
        ax.bar(
            lower,
            np.nan_to_num(acc),
            width=width,
            align="edge",
            color=styles[m].color,
            alpha=0.7,
            edgecolor="black",
            lw=0.5,
            label="accuracy",
        )
        ax.plot([0, 1], [0, 1], color="black", ls="--", lw=0.8, label="perfect calibration")
        ax.plot(mean, acc, "k.", ms=4, label="(bin mean score, accuracy)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        _title(ax, f"{m} ({strategies[m]}): ECE {ece:.3f}", fontsize=10)
        axes[1, j].bar(
            lower, count / count.sum(), width=width, align="edge", color="grey", edgecolor="black", lw=0.5
        )
        axes[1, j].set_xlim(0, 1)
        axes[1, j].set_xlabel("CoT score")
    axes[0, 0].set_ylabel("Fraction of CoTs correct")
    axes[1, 0].set_ylabel("Share of CoTs")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    layout(fig, wgap=0.4, hgap=0.15, bottom=0.55)
    return save(fig, plot_dir, "reliability")


def process_figure(plot_dir: Path, rows: Sequence[Row], columns: Sequence[str], note: str) -> list[Path]:
    """Per per-step model: accuracy on erroneous / correct CoTs and F1 of the first error step."""
    if not rows:
        return _message(plot_dir, "process", "First-error-step metrics (ProcessBench-style)", note)
    plt = pyplot()
    models = list(dict.fromkeys(r[PRO.method] for r in rows))
    fig, axes = plt.subplots(
        len(models), 1, figsize=(max(6, 0.6 * len(columns) + 2), 3 * len(models)), squeeze=False
    )
    for ax, m in zip(axes[:, 0], models, strict=True):
        by_group = {r[PRO.group]: r for r in rows if r[PRO.method] == m}
        cols = [c for c in columns if c in by_group]
        x = np.arange(len(cols))
        for k, (idx, text, color) in enumerate(  # metric colours, apart from the reward models' blue and red
            (
                (PRO.acc_erroneous, "acc. erroneous", "#d95f02"),
                (PRO.acc_correct, "acc. correct", "#1b9e77"),
                (PRO.f1, "F1", "#7570b3"),
            )
        ):
            ax.bar(x + (k - 1) * 0.27, [by_group[c][idx] for c in cols], width=0.27, label=text, color=color)
        ax.set_xticks(x)
        ax.set_xticklabels(
            [GROUP_TITLE.get(c, c.replace("_", " ")) for c in cols], rotation=45, ha="right", fontsize=8
        )
        ax.set_ylim(0, 1)
        ax.set_ylabel("fraction")
        _title(ax, f"{m}: first erroneous step (P(+) < {rows[0][PRO.threshold]})", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    below = 0.71 * text_width([GROUP_TITLE.get(c, c.replace("_", " ")) for c in columns], 8) + 0.2
    layout(
        fig, left=0.7, right=legend_width(["acc. erroneous"], 7) + 0.15, top=0.3, bottom=below,
        hgap=below + 0.35,
    )  # fmt: skip
    return save(fig, plot_dir, "process")


def replicas_figure(
    plot_dir: Path, rows: Sequence[Row], Ns: Sequence[int], models: Sequence[str]
) -> list[Path]:
    """Per selection: every replica's macro accuracy vs N (points), their mean (line) and min-max band."""
    plt = pyplot()
    styles = method_styles(list(models))
    x = _log2(Ns)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, selection in zip(axes, SELECTION_TITLE, strict=True):
        for k, m in enumerate(models):
            part = [
                r for r in rows if r[REP.metric] == selection and r[REP.method] == m and r[REP.group] == "all"
            ]
            stat = {(r[REP.N], r[REP.statistic]): r[REP.value] for r in part if r[REP.replica] == ""}
            style = styles[m]
            color = style.color
            mean = np.array([stat.get((n, "replica_mean"), math.nan) for n in Ns])
            count = int(stat.get((Ns[0], "replicas"), 1))
            ax.plot(x, mean, **style.line(), ms=4, label=f"{m} ({count} replica{'s' * (count > 1)})")
            if count > 1:
                low = [stat[n, "replica_min"] for n in Ns]
                high = [stat[n, "replica_max"] for n in Ns]
                ax.fill_between(x, low, high, color=color, alpha=0.15, lw=0)
                jitter = (k - len(models) / 2) * 0.02  # in log2(N)
                pts = [(math.log2(r[REP.N]) + jitter, r[REP.value]) for r in part if r[REP.replica] != ""]
                ax.scatter(*zip(*pts, strict=True), color=color, s=8, alpha=0.7)
        _log2_axis(ax, Ns)
        _title(ax, f"{SELECTION_TITLE[selection]} across replicas — all domains", fontsize=10)
    axes[0].set_ylabel(Y_LABEL)
    if models:
        axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    labels = [f"{m} (00 replicas)" for m in models]
    layout(fig, right=legend_width(labels, 8) + 0.25 if models else 0.2, top=0.3)
    return save(fig, plot_dir, "replicas")


def length_figure(
    plot_dir: Path, rows: Sequence[Row], model: str, Ns: Sequence[int], name: str
) -> list[Path]:
    """One reward model: best-of-N accuracy, AUROC and selection share by CoT step-count bucket."""
    plt = pyplot()
    part = [r for r in rows if r[LEN.method] == model]
    buckets = sorted({r[LEN.bucket] for r in part})
    steps = {r[LEN.bucket]: (r[LEN.min_steps], r[LEN.max_steps]) for r in part}
    bucket_label = {b: f"{lo}" if lo == hi else f"{lo}-{hi}" for b, (lo, hi) in steps.items()}
    stat = {(r[LEN.bucket], r[LEN.N], r[LEN.statistic]): r[LEN.value] for r in part}
    x = np.arange(len(buckets))
    names = [f"{bucket_label[b]}\n(n={int(stat[b, '', 'cots'])})" for b in buckets]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    cmap = plt.get_cmap("viridis")
    for k, n in enumerate(Ns):
        acc = [stat.get((b, n, "accuracy"), math.nan) for b in buckets]
        axes[0].plot(x, acc, marker="o", ms=4, color=cmap(k / max(1, len(Ns) - 1)), label=f"best-of-{n}")
    axes[0].plot(
        x,
        [stat[b, "", "cot_accuracy"] for b in buckets],
        color="black",
        ls="--",
        label="all CoTs (no selection)",
    )
    axes[0].set_ylabel("Accuracy of the selected CoT (%)")
    _title(axes[0], f"{model}: best-of-N accuracy by length", fontsize=10)
    axes[0].legend(fontsize=7)
    aucs = [stat[b, "", "auroc"] for b in buckets]
    color = method_styles([model])[model].color
    axes[1].bar(x, aucs, color=color, alpha=0.8)
    axes[1].axhline(0.5, color="black", ls=":", lw=0.8)
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("AUROC")
    _title(axes[1], f"{model}: AUROC by length", fontsize=10)
    total = sum(stat[b, "", "cots"] for b in buckets)
    axes[2].bar(
        x - 0.2,
        [100 * stat[b, "", "cots"] / total for b in buckets],
        width=0.4,
        color="grey",
        label="all CoTs",
    )
    n_max = max(Ns)
    axes[2].bar(
        x + 0.2,
        [stat.get((b, n_max, "selected_share"), 0) for b in buckets],
        width=0.4,
        color=color,
        label=f"best-of-{n_max} choices",
    )
    axes[2].set_ylabel("Share (%)")
    _title(axes[2], f"{model}: which lengths get selected", fontsize=10)
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(names, fontsize=8)
        ax.set_xlabel("Steps in the CoT")
        ax.grid(axis="y", alpha=0.3)
    layout(fig, bottom=0.8, top=0.3, wgap=0.8)
    return save(fig, plot_dir, name)
