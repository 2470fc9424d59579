"""``rmflow analyze``: verifier metrics, uncertainty, selection rules and groups, length, replicas.

    rmflow analyze --data_path TEST --reward_dirs R.. --model_names M.. --strategies S.. \\
        --num_runs 100 --seed 42 --output_dir results/analysis [--category all] [--Ns 1 2 4 8 16] \\
        [--replicas NAME=DIR ..] [--bootstrap 1000] [--ece_bins 10] [--error_threshold 0.5] \\
        [--step_labels SOURCE] [--length_buckets 6] [--plot_dir DIR] [--test_name NAME]

The evaluation's flags and their meaning are shared (:mod:`rmflow.evaluation.settings`); the seed
CSVs of ``rmflow evaluate`` are left alone. Writes to ``--output_dir``: ``accuracy.csv``,
``comparisons.csv``, ``verifier.csv``, ``reliability.csv``, ``process.csv``, ``length.csv``,
``replicas.csv`` (tidy tables, see :mod:`tables`, :mod:`verifier`, :mod:`length`, :mod:`replicas`),
``headline.csv`` / ``headline.md`` (each model's AUROC, best-of-N and weighted vote at the largest N
with CIs, :mod:`headline`) and ``summary.json`` (settings, counts, timings, notes); to ``--plot_dir``:
the figures of :mod:`figures`.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rmflow import cyclic_gc
from rmflow.analysis import figures
from rmflow.analysis.headline import HEADLINE_HEADER, headline_rows, write_headline
from rmflow.analysis.inputs import AnalysisCategory, ScoreSet, load_analysis_category, score_sets
from rmflow.analysis.length import LENGTH_HEADER, length_rows
from rmflow.analysis.render import render
from rmflow.analysis.replicas import REPLICA_HEADER, replica_rows
from rmflow.analysis.selection import MACRO_GROUPS, CategorySelection, groups, select, series_list
from rmflow.analysis.settings import AnalysisSettings, analysis_settings, file_stem
from rmflow.analysis.settings import add_arguments as add_arguments
from rmflow.analysis.tables import (
    ACCURACY_HEADER,
    COMPARISON_HEADER,
    Columns,
    accuracy_rows,
    comparison_rows,
    write_csv,
)
from rmflow.analysis.uncertainty import CategoryResamples
from rmflow.analysis.verifier import (
    PROCESS_HEADER,
    RELIABILITY_HEADER,
    VERIFIER_HEADER,
    has_step_labels,
    per_step_models,
    process_rows,
    verifier_tables,
)
from rmflow.evaluation.memory import analysis_bytes, refuse_beyond_limit
from rmflow.evaluation.scores import STRATEGIES
from rmflow.io import staged_dirs, write_json
from rmflow.logs import progress

log = logging.getLogger(__name__)


def length_figure_name(model: str) -> str:
    return f"length_{file_stem(model)}"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the figure workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Timer:
    """Accumulated wall and CPU time per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)
        self._last = time.perf_counter(), _cpu()

    def lap(self, phase: str) -> None:
        now = time.perf_counter(), _cpu()
        self.seconds[phase] += now[0] - self._last[0]
        self.cpu_seconds[phase] += now[1] - self._last[1]
        self._last = now


def check_memory(
    s: AnalysisSettings, category: str, questions: list[int], sets: list[ScoreSet], kept: int, max_cots: int
) -> None:
    """Refuse settings whose :func:`~rmflow.evaluation.memory.analysis_bytes` exceed the memory limit,
    before the evaluator's pass over ``category`` (the last of ``questions``) allocates anything."""
    ev = s.evaluation
    primary = sum(x.replica == 0 for x in sets)
    need = analysis_bytes(questions, ev.num_runs, ev.Ns, len(sets), kept, primary, s.bootstrap, max_cots)
    refuse_beyond_limit(
        need,
        f"--num_runs {ev.num_runs} x --Ns {' '.join(map(str, ev.Ns))} x --bootstrap {s.bootstrap} over "
        f"{ev.data_path}, categories up to {category} ({sum(questions)} questions, {len(sets)} score sets)",
        "lower --num_runs, --bootstrap or the largest N",
    )


def _process_note(s: AnalysisSettings, cats: dict[str, Any], models: list[str]) -> str:
    if not per_step_models(cats, models):
        return (
            "No reward set holds one score per step (dORM/dPRM-style lists), so there is no first error step."
        )
    if not has_step_labels(cats):
        return (
            "No step labels for the test CoTs: pass --step_labels (train-schema source or synth[:SEED]) "
            "or use test records with a step_labels field."
        )
    return ""


def analyze(s: AnalysisSettings) -> dict[str, Any]:
    """Run every analysis; write tables, figures and ``summary.json``; return the summary."""
    # the records and the tables are millions of fresh acyclic objects; what is left at the end (the
    # modules and caches loaded meanwhile) needs no collection either
    with cyclic_gc.paused(freeze=True):
        return _analyze(s)


def _analyze(s: AnalysisSettings) -> dict[str, Any]:
    ev = s.evaluation
    timer = Timer()
    sets = score_sets(ev.models, s.replicas)
    strategies = {m.name: m.strategy for m in ev.models}
    own = [x for x in sets if x.replica == 0 and x.strategy == strategies[x.model]]
    series = series_list(ev.Ns, sets)
    cats: dict[str, AnalysisCategory] = {}
    selections: dict[str, CategorySelection] = {}
    resamples: dict[str, CategoryResamples] = {}
    questions: list[int] = []
    for category in progress(ev.categories, desc="analyze", unit="category", leave=False):
        cat = load_analysis_category(
            ev.data_path, category, ev.models, s.replicas, sets, s.step_labels, s.error_threshold
        )
        questions.append(len(cat.data.q_ids))
        check_memory(s, category, questions, sets, len(own), int(cat.data.n_cots.max()))
        timer.lap("load")
        cats[category] = cat
        selections[category] = select(cat, series, ev.Ns, ev.num_runs, ev.seed, {x.key for x in own})
        timer.lap("selection")
    # the resampling matrix products run back to back, right before the uncertainty tables: BLAS
    # worker threads keep spinning for a while after each product, which between categories would
    # burn a CPU during the next category's loading
    for category, sel in selections.items():
        resamples[category] = CategoryResamples.draw(sel.p, category, ev.seed, s.bootstrap, s.bootstrap)
    timer.lap("bootstrap")
    grouping = groups(ev.categories)
    name = s.test_name
    tables: dict[str, tuple[list[str], list[list[object]]]] = {
        "accuracy": (ACCURACY_HEADER, accuracy_rows(name, series, selections, resamples, grouping)),
        "comparisons": (
            COMPARISON_HEADER,
            comparison_rows(name, series, resamples, grouping, strategies, ev.Ns),
        ),
    }
    timer.lap("uncertainty")
    verifier, reliability, auroc_of = verifier_tables(name, cats, grouping, sets, s.ece_bins)
    process = process_rows(name, cats, grouping, list(strategies), s.error_threshold)
    tables |= {
        "verifier": (VERIFIER_HEADER, verifier),
        "reliability": (RELIABILITY_HEADER, reliability),
        "process": (PROCESS_HEADER, process),
    }
    timer.lap("verifier")
    tables["length"] = (LENGTH_HEADER, length_rows(name, cats, selections, own, ev.Ns, s.length_buckets))
    timer.lap("length")
    tables["replicas"] = (
        REPLICA_HEADER,
        replica_rows(name, series, sets, strategies, selections, grouping, auroc_of, ev.Ns),
    )
    timer.lap("replicas")
    tables["headline"] = (
        HEADLINE_HEADER,
        headline_rows(name, series, cats, resamples, own, ev.Ns),
    )
    timer.lap("headline")
    # tables, figures and summary: all or none (a full disk or a failing figure changes nothing)
    with staged_dirs(s.output_dir, s.plot_dir, last=("summary.json",)) as (table_dir, plot_dir):
        for table, (header, rows) in tables.items():
            write_csv(table_dir / f"{table}.csv", header, rows)
        write_headline(table_dir / "headline.md", tables["headline"][1], ev.Ns)
        timer.lap("write tables")
        note = _process_note(s, cats, list(strategies))
        staged = write_figures(s, tables, strategies, grouping, note, plot_dir)
        plots = [s.plot_dir / p.relative_to(plot_dir) for p in staged]
        timer.lap("figures")
        summary = _summary(s, cats, sets, tables, plots, note, timer)
        write_json(table_dir / "summary.json", summary, indent=2)
    log.info(
        "analyzed %d categories, %d score sets in %.1f s -> %s, %s",
        len(cats), len(sets), sum(timer.seconds.values()), s.output_dir, s.plot_dir,
    )  # fmt: skip
    return summary


def write_figures(
    s: AnalysisSettings,
    tables: dict[str, tuple[list[str], list[list[object]]]],
    strategies: dict[str, str],
    grouping: dict[str, list[str]],
    note: str,
    out: Path,
) -> list[Path]:
    """Every figure into ``out``, rendered in parallel worker processes when CPUs allow."""
    Ns = list(s.evaluation.Ns)
    rows = {k: v[1] for k, v in tables.items()}
    acc, length = Columns(ACCURACY_HEADER), Columns(LENGTH_HEADER)
    macro = [g for g in MACRO_GROUPS if g in grouping]
    plotted = set(figures.ACCURACY_STATISTICS)
    stats = [  # what the accuracy figures read: no per-run rows, macro groups only
        r
        for r in rows["accuracy"]
        if r[acc.run] == "" and r[acc.group] in macro and r[acc.statistic] in plotted
    ]
    columns = [*macro, *(c for c in grouping if c not in MACRO_GROUPS)]
    tasks: list[tuple[Any, tuple[Any, ...]]] = [
        (figures.uncertainty_figure, (out, stats, Ns, strategies)),
        (figures.groups_figure, (out, stats, Ns, strategies, macro)),
        (figures.aggregations_figure, (out, stats, Ns, strategies, STRATEGIES)),
        (figures.comparisons_figure, (out, rows["comparisons"], max(Ns))),
        (figures.auroc_figure, (out, rows["verifier"], strategies, columns)),
        (figures.reliability_figure, (out, rows["reliability"], strategies)),
        (figures.process_figure, (out, rows["process"], columns, note)),
        (figures.replicas_figure, (out, rows["replicas"], Ns, list(strategies))),
    ]
    for model in strategies:
        part = [r for r in rows["length"] if r[length.method] == model]
        tasks.append((figures.length_figure, (out, part, model, Ns, length_figure_name(model))))
    return render(tasks)


def _summary(
    s: AnalysisSettings,
    cats: dict[str, Any],
    sets: list[ScoreSet],
    tables: dict[str, tuple[list[str], list[list[object]]]],
    plots: list[Path],
    note: str,
    timer: Timer,
) -> dict[str, Any]:
    ev = s.evaluation
    return {
        "test_set": s.test_name,
        "data_path": ev.data_path,
        "reward_models": [{"name": m.name, "source": m.source, "strategy": m.strategy} for m in ev.models],
        "replicas": {k: [r.source for r in v] for k, v in s.replicas.items()},
        "score_sets": [
            {"model": x.model, "strategy": x.strategy, "replica": x.replica + 1, "source": x.source}
            for x in sets
        ],
        "Ns": list(ev.Ns),
        "num_runs": ev.num_runs,
        "seed": ev.seed,
        "bootstrap": s.bootstrap,
        "ece_bins": s.ece_bins,
        "error_threshold": s.error_threshold,
        "step_labels": s.step_labels or "test records' step_labels field",
        "length_buckets": s.length_buckets,
        "categories": {
            c: {
                "questions": len(cat.data.q_ids),
                "cots": int(cat.data.n_cots.sum()),
                "labelled_cots": int((cat.first_error != -2).sum()),
                "per_step_models": sorted(cat.predicted_error),
            }
            for c, cat in cats.items()
        },
        "process_note": note,
        "tables": {k: {"file": f"{k}.csv", "rows": len(v[1])} for k, v in tables.items()},
        "figures": [str(p) for p in plots],
        "seconds": {k: round(v, 3) for k, v in timer.seconds.items()},
        "cpu_seconds": {k: round(v, 3) for k, v in timer.cpu_seconds.items()},
    }


def run(args: argparse.Namespace) -> None:
    analyze(analysis_settings(args))
