"""``rmflow evaluate``: best-of-N and weighted-vote accuracy tables from a test set and reward sets.

    rmflow evaluate --data_path D --reward_dirs R1 R2 .. --model_names M1 M2 .. --strategies S1 S2 .. \\
        --num_runs 100 --seed 42 --output_dir O --category all [--Ns 1 2 4 8 16]

Writes ``O/best_of_n.csv`` and ``O/weighted_vote.csv`` (SPEC §4.8, see :mod:`report`) and
``O/summary.json`` (the settings, question and CoT counts per category). The evaluator is the
vectorized one of :mod:`vote`; :mod:`reference` is a plain loop computing the same tables.
"""

from __future__ import annotations

import argparse
import logging
import time

from tqdm import tqdm

from rmflow.evaluation.inputs import load_category
from rmflow.evaluation.report import RunAccuracies, write_tables
from rmflow.evaluation.settings import Settings, settings_from_args
from rmflow.evaluation.settings import add_arguments as add_arguments
from rmflow.evaluation.vote import accuracies, permutations
from rmflow.io import write_json

log = logging.getLogger(__name__)


def write_summary(settings: Settings, counts: dict[str, dict[str, int]]) -> None:
    """``summary.json``: what was evaluated, for provenance."""
    write_json(
        settings.output_dir / "summary.json",
        {
            "data_path": settings.data_path,
            "reward_models": [
                {"name": m.name, "source": m.source, "strategy": m.strategy} for m in settings.models
            ],
            "Ns": list(settings.Ns),
            "num_runs": settings.num_runs,
            "seed": settings.seed,
            "categories": counts,
        },
        indent=2,
    )


def evaluate(settings: Settings) -> dict[str, RunAccuracies]:
    """Per-run accuracies of every category; writes the tables and the summary."""
    start = time.perf_counter()
    per_category: dict[str, RunAccuracies] = {}
    counts = {}
    for category in tqdm(settings.categories, desc="evaluate", unit="category", leave=False):
        data = load_category(settings.data_path, category, list(settings.models))
        perms = permutations(data, settings.Ns, settings.num_runs, settings.seed)
        per_category[category] = accuracies(data, settings.Ns, perms)
        counts[category] = {"questions": len(data.q_ids), "cots": int(data.n_cots.sum())}
        log.debug("%s: %d questions, %d CoTs", category, len(data.q_ids), data.n_cots.sum())
    paths = write_tables(
        settings.output_dir, per_category, settings.categories, settings.Ns, settings.model_names
    )
    write_summary(settings, counts)
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
