"""``rmflow evaluate``: best-of-N and weighted-vote accuracy tables from a test set and reward sets.

    rmflow evaluate --data_path D --reward_dirs R1 R2 .. --model_names M1 M2 .. --strategies S1 S2 .. \\
        --num_runs 100 --seed 42 --output_dir O --category all [--Ns 1 2 4 8 16]

Writes ``O/best_of_n.csv`` and ``O/weighted_vote.csv`` (docs/formats.md#evaluation-tables) and
``O/summary.json`` (the settings, question and CoT counts per category, parsed answers that are not a
letter A-J and each reward model's NaN share: :mod:`input_counts`, also logged), all three or none
(:func:`rmflow.io.staged_outputs`). The evaluator is the
vectorized one of :mod:`vote`; :mod:`reference` is a plain loop computing the same tables.

Before a category is evaluated its memory is estimated (:mod:`memory`): a ``--num_runs`` x ``--Ns``
that would not fit stops the stage with one line. An N larger than some questions' CoT count is
legal (such a question uses all its CoTs, in order, in every run of that N: the subsampling rule of
config/README.md), but the row then averages fewer than N samples for those questions; one warning
line gives the counts.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rmflow import cyclic_gc
from rmflow.evaluation.input_counts import answers_summary, answers_warning, nan_line, nan_summary
from rmflow.evaluation.inputs import load_category
from rmflow.evaluation.memory import check_evaluation_memory
from rmflow.evaluation.report import RunAccuracies, write_tables
from rmflow.evaluation.settings import Settings, settings_from_args
from rmflow.evaluation.settings import add_arguments as add_arguments
from rmflow.evaluation.vote import accuracies, permutations
from rmflow.io import staged_outputs, write_json
from rmflow.logs import progress

log = logging.getLogger(__name__)


def write_summary(
    settings: Settings, counts: dict[str, dict[str, int]], directory: Path | None = None, **extra: dict
) -> None:
    """``summary.json`` (into ``directory``, default the output directory): what was evaluated, for
    provenance, plus ``extra`` top-level entries."""
    write_json(
        (directory or settings.output_dir) / "summary.json",
        {
            "data_path": settings.data_path,
            "reward_models": [
                {"name": m.name, "source": m.source, "strategy": m.strategy} for m in settings.models
            ],
            "Ns": list(settings.Ns),
            "num_runs": settings.num_runs,
            "seed": settings.seed,
            "categories": counts,
            **extra,
        },
        indent=2,
    )


def fewer_cots(n_cots: np.ndarray, Ns: Sequence[int]) -> dict[int, int]:
    """N -> how many questions have fewer than N CoTs (only the Ns for which some have)."""
    counts = {n: int((n_cots < n).sum()) for n in Ns}
    return {n: c for n, c in counts.items() if c}


def short_cots_warning(
    short: dict[int, dict[str, int]], questions: int, categories: int, fewest: int
) -> str | None:
    """One line on the Ns larger than some questions' CoT count (``short``: N -> {category: count})."""
    if not short:
        return None
    parts = [
        f"N={n}: {sum(per.values())} of {questions} questions, in {len(per)} of {categories} categories"
        for n, per in sorted(short.items())
    ]
    return (
        f"--Ns {' '.join(map(str, sorted(short)))} exceed the CoT count of some questions "
        f"({'; '.join(parts)}; the fewest CoTs of a question: {fewest}): such a question uses all its "
        "CoTs in every run of that N, so its row averages fewer than N samples"
    )


def evaluate(settings: Settings) -> dict[str, RunAccuracies]:
    """Per-run accuracies of every category; writes the tables and the summary."""
    with cyclic_gc.paused():  # the records are millions of acyclic objects
        return _evaluate(settings)


def _evaluate(settings: Settings) -> dict[str, RunAccuracies]:
    start = time.perf_counter()
    per_category: dict[str, RunAccuracies] = {}
    counts = {}
    short: dict[int, dict[str, int]] = {}  # N -> category -> questions with fewer than N CoTs
    fewest = []  # the fewest CoTs of a question, per category
    answers, missing = {}, {}  # category -> answers that are not a letter; -> model -> NaN counts
    for category in progress(settings.categories, desc="evaluate", unit="category", leave=False):
        data = load_category(settings.data_path, category, list(settings.models))
        check_evaluation_memory(
            len(data.q_ids),
            settings.num_runs,
            settings.Ns,
            len(settings.models),
            int(data.n_cots.max()),
            int(np.unique(data.n_cots, return_counts=True)[1].max()),
            where=f"{settings.data_path}, category {category}",
        )
        for n, count in fewer_cots(data.n_cots, settings.Ns).items():
            short.setdefault(n, {})[category] = count
        fewest.append(int(data.n_cots.min()))
        perms = permutations(data, settings.Ns, settings.num_runs, settings.seed)
        per_category[category] = accuracies(data, settings.Ns, perms)
        counts[category] = {"questions": len(data.q_ids), "cots": int(data.n_cots.sum())}
        answers[category], missing[category] = data.answer_issues, data.missing
        log.debug("%s: %d questions, %d CoTs", category, len(data.q_ids), data.n_cots.sum())
    questions = sum(c["questions"] for c in counts.values())
    warning = short_cots_warning(short, questions, len(counts), min(fewest))
    if warning:
        log.warning(warning)
    answers_not_letter, reward_nan = answers_summary(answers), nan_summary(missing)
    warning = answers_warning(answers_not_letter, sum(c["cots"] for c in counts.values()), questions)
    if warning:
        log.warning(warning)
    for model, nan in reward_nan.items():
        log.log(logging.WARNING if nan["nan"] else logging.INFO, nan_line(model, nan))
    with staged_outputs(settings.output_dir, last=("summary.json",)) as staging:  # all three or none
        staged = write_tables(staging, per_category, settings.categories, settings.Ns, settings.model_names)
        write_summary(
            settings, counts, staging, answers_not_a_letter=answers_not_letter, reward_nan=reward_nan
        )
    paths = [settings.output_dir / p.name for p in staged]
    log.info(
        "evaluated %d categories x %d runs in %.1f s -> %s",
        len(settings.categories),
        settings.num_runs,
        time.perf_counter() - start,
        ", ".join(map(str, paths)),
    )
    return per_category


def run(args: argparse.Namespace) -> None:
    evaluate(settings_from_args(args))
