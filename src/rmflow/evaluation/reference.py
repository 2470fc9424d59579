"""A plain per-question implementation of docs/formats.md#scores-and-answers, written for clarity, not speed.

It follows the specification word by word — a fresh ``RandomState(md5 seed).choice`` per
(N, run, question), dictionaries for the (q_id, cot_id) join and for votes — and serves as the
yardstick for the vectorized evaluator (:mod:`vote`): the property tests and
``benchmarks/bench_evaluate.py`` check that both give identical tables. It has the flags of
``rmflow evaluate``:

    python -m rmflow.evaluation.reference --data_path D --reward_dirs R1 .. --output_dir O ...
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from rmflow.data import load_records, records_where
from rmflow.errors import UserError
from rmflow.evaluation.inputs import (
    RewardModel,
    absent_cot_error,
    absent_question_error,
    check_probabilities,
    missing_reward_error,
)
from rmflow.evaluation.report import RunAccuracies, write_tables
from rmflow.evaluation.settings import Settings, add_arguments, settings_from_args
from rmflow.logs import progress
from rmflow.names import BEST_OF_N, MV, PASS, TABLES, WEIGHTED_VOTE


def score(rewards: Sequence[float | None], strategy: str) -> float:
    """Score of one CoT: null/NaN entries count as 0.5, an empty list as [0.5]."""
    values = [0.5 if v is None or math.isnan(v) else float(v) for v in rewards] or [0.5]
    if strategy == "last":
        return values[-1]
    if strategy == "min":
        return min(values)
    if strategy == "max":
        return max(values)
    if strategy == "mean":
        return float(np.mean(values))
    if strategy == "prod":
        return math.prod(values)
    raise UserError(f"unknown strategy {strategy!r}")


def normalize(answer: Any) -> str:
    """``str(answer).strip()`` when it is one of A..J / a..j, else ``N/A``."""
    text = str(answer).strip()
    return text if len(text) == 1 and text.lower() in "abcdefghij" else "N/A"


def subsample(n: int, size: int, seed: int, run: int, q_id: Any) -> list[int]:
    """Indices of the CoTs of one question used in one run."""
    if n <= size:
        return list(range(n))
    rng_seed = int(hashlib.md5(f"{seed}_{run}_{q_id}".encode()).hexdigest()[:8], 16)
    return np.random.RandomState(rng_seed).choice(n, size, replace=False).tolist()


def vote(answers: list[str], weights: list[float]) -> str:
    """The answer with the largest total weight; ties to the answer seen first."""
    totals: dict[str, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        totals[answer] = totals.get(answer, 0) + weight
    best = max(totals.values())
    return next(a for a, total in totals.items() if total == best)


def reward_table(test: list[dict], model: RewardModel, category: str) -> dict[tuple[Any, int], float]:
    """(q_id, cot_id) -> score, checking that rewards and test CoTs match one to one."""
    test_cots = {rec["q_id"]: set(rec["cot_ids"]) for rec in test}
    table = {}
    records = load_records(model.source, category, "reward")
    check_probabilities(model, records_where(model.source, category, "reward"), records)
    for rec in records:
        q_id = rec["q_id"]
        if q_id not in test_cots:
            raise absent_question_error(model, category, q_id, rec["cot_ids"])
        for cot_id, rewards in zip(rec["cot_ids"], rec["rewards"], strict=True):
            if cot_id not in test_cots[q_id]:
                raise absent_cot_error(model, category, q_id, cot_id)
            table[q_id, cot_id] = score(rewards, model.strategy)
    for rec in test:
        for cot_id in rec["cot_ids"]:
            if (rec["q_id"], cot_id) not in table:
                raise missing_reward_error(model, category, rec["q_id"], cot_id)
    return table


def category_accuracies(settings: Settings, category: str) -> RunAccuracies:
    """(table, N, method) -> accuracy of each run, for one category."""
    test = load_records(settings.data_path, category, "test")
    if not test:
        raise UserError(f"{settings.data_path}: category {category} has no questions")
    for rec in test:
        if not rec["cot_ids"]:
            raise UserError(f"{settings.data_path}: category {category}, q_id {rec['q_id']!r} has no CoTs")
    tables = {m.name: reward_table(test, m, category) for m in settings.models}
    out: dict[tuple[str, int, str], np.ndarray] = {}
    for n in settings.Ns:
        correct: dict[tuple[str, str], list[list[bool]]] = {}
        for run in range(settings.num_runs):
            run_correct: dict[tuple[str, str], list[bool]] = {}
            for rec in test:
                picked = subsample(len(rec["cot_ids"]), n, settings.seed, run, rec["q_id"])
                answers = [normalize(rec["parsed_answers"][i]).lower() for i in picked]
                gold = str(rec["answer"]).strip().lower()
                hits = {
                    ("", MV): vote(answers, [1] * len(answers)) == gold,
                    ("", PASS): gold in answers,
                }
                for name, table in tables.items():
                    scores = [table[rec["q_id"], rec["cot_ids"][i]] for i in picked]
                    best = max(range(len(scores)), key=scores.__getitem__)  # first maximum
                    hits[BEST_OF_N, name] = answers[best] == gold
                    hits[WEIGHTED_VOTE, name] = vote(answers, scores) == gold
                for key, hit in hits.items():
                    run_correct.setdefault(key, []).append(hit)
            for key, hits_of_run in run_correct.items():
                correct.setdefault(key, []).append(hits_of_run)
        for (table, method), per_run in correct.items():
            accuracy = np.array([100 * np.mean(hits) for hits in per_run])
            for t in [table] if table else list(TABLES):
                out[t, n, method] = accuracy
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rmflow.evaluation.reference", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        settings = settings_from_args(args)
        per_category = {
            c: category_accuracies(settings, c) for c in progress(settings.categories, desc="reference")
        }
        write_tables(
            settings.output_dir, per_category, settings.categories, settings.Ns, settings.model_names
        )
    except UserError as exc:
        print(f"reference evaluate: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
