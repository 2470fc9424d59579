"""``rmflow synth``: the embedded synthetic datasets, deterministic from ``--seed``.

Writes ``{output_dir}/{kind}/{category}.jsonl`` for the kinds ``train`` (step-labelled CoTs),
``train_gORM`` / ``train_gPRM`` (teacher-critique SFT data, as ``rmflow preprocess`` writes it),
``generated_gPRM`` (the synthetic teacher's gPRM critiques of whole training CoTs, as ``rmflow generate``
writes them: the corpus from which a built backbone learns to judge a whole solution) and
``test`` (N CoTs per question), in the published schemas (docs/formats.md), plus ``synth.json`` (settings,
counts and statistics). Questions are 10-option multiple-choice word problems with a checkable
multi-step integer solution in each domain's vocabulary (:mod:`rmflow.synth.templates`); CoTs make
visible arithmetic slips and per-question systematic mistakes (:mod:`rmflow.synth.cots`).

Every question and every CoT has its own random stream keyed by (seed, category, split, index), so a
category's data does not depend on which other categories, kinds or sizes are requested (the first
``n`` questions are the same for any size >= ``n``).
"""

from __future__ import annotations

import argparse
import logging
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rmflow.categories import resolve_categories
from rmflow.data import validate_records
from rmflow.errors import UserError
from rmflow.io import staged_outputs, write_json, write_jsonl
from rmflow.names import SYNTH_KINDS, SYNTH_SUMMARY
from rmflow.synth.cots import sample_cot
from rmflow.synth.critiques import (
    critique_set,
    generated_record,
    sft_critique,
    sft_record,
    teacher_completion,
    teacher_generations,
)
from rmflow.synth.problems import Problem, make_problem
from rmflow.synth.stats import cot_stats, critique_stats, voting_stats

__all__ = [
    "KINDS",
    "SCHEMA",
    "synthesize",
    "make_train_records",
    "make_test_records",
    "teacher_completion",
    "teacher_generations",
    "generated_record",
    "sft_critique",
    "sft_record",
]

log = logging.getLogger(__name__)

KINDS = SYNTH_KINDS
#: the data kind each synthetic kind is validated as
SCHEMA = {"generated_gPRM": "generated"}
#: test q_ids start here so that they never coincide with train q_ids
TEST_QID_OFFSET = 100_000
DEFAULTS = {
    "seed": 42,
    "train_questions": 24,
    "train_cots": 4,
    "test_questions": 8,
    "test_cots": 16,
    "critiques_per_cot": 1,
}


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random("rmflow.synth/" + "/".join(map(str, (seed, *parts))))


#: golden-ratio and silver-ratio steps: low-discrepancy sequences of difficulty quantiles
_STEPS = (0.6180339887498949, 0.41421356237309503)


def strata(seed: int, category: str, split: str, n: int) -> list[tuple[float, float]]:
    """Difficulty quantiles of the first ``n`` questions: evenly spread for every prefix of a split."""
    rng = _rng(seed, category, split, "strata")
    start = (rng.random(), rng.random())
    return [((start[0] + i * _STEPS[0]) % 1.0, (start[1] + i * _STEPS[1]) % 1.0) for i in range(n)]


def problems(seed: int, category: str, split: str, n: int) -> list[Problem]:
    """The first ``n`` questions of a split (``train`` or ``test``) of ``category``."""
    return [
        make_problem(category, _rng(seed, category, split, i), strata=q)
        for i, q in enumerate(strata(seed, category, split, n))
    ]


def make_train_records(seed: int, category: str, n_questions: int, n_cots: int) -> list[dict[str, Any]]:
    """``train`` records: one per CoT, with step labels, parsed and gold answer."""
    out = []
    for i, prob in enumerate(problems(seed, category, "train", n_questions)):
        question = prob.question
        for j in range(n_cots):
            cot = sample_cot(prob, _rng(seed, category, "train", i, j))
            out.append(
                {
                    "q_id": i,
                    "question": question,
                    "cot_id": j,
                    "cot": cot.steps,
                    "labels": cot.labels,
                    "parsed_answer": cot.parsed_answer,
                    "answer": prob.answer,
                }
            )
    return out


def make_test_records(
    seed: int, category: str, n_questions: int, n_cots: int, step_labels: bool = False
) -> list[dict[str, Any]]:
    """``test`` records: one per question with ``n_cots`` CoTs and their parsed answers.

    With ``step_labels`` each record also carries the optional extra field ``step_labels`` (the +1/-1
    labels of every CoT's steps, parallel to ``cots``), which the published test schema does not have.
    """
    out = []
    for i, prob in enumerate(problems(seed, category, "test", n_questions)):
        cots = [sample_cot(prob, _rng(seed, category, "test", i, j)) for j in range(n_cots)]
        rec = {
            "q_id": TEST_QID_OFFSET + i,
            "question": prob.question,
            "cot_ids": list(range(n_cots)),
            "cots": [c.steps for c in cots],
            "parsed_answers": [c.parsed_answer for c in cots],
            "answer": prob.answer,
        }
        if step_labels:
            rec["step_labels"] = [c.labels for c in cots]
        out.append(rec)
    return out


def parse_kinds(values: Iterable[str]) -> tuple[str, ...]:
    """``["train,test"]`` / ``["train", "test"]`` / ``["all"]`` -> kinds in canonical order."""
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    if "all" in names:
        return KINDS
    unknown = sorted(names - set(KINDS))
    if unknown or not names:
        raise UserError(f"--kinds: unknown kind {unknown[0]!r}" if unknown else "--kinds: nothing selected")
    return tuple(k for k in KINDS if k in names)


def synthesize(
    output_dir: str | Path,
    seed: int = DEFAULTS["seed"],
    category: str = "all",
    train_questions: int = DEFAULTS["train_questions"],
    train_cots: int = DEFAULTS["train_cots"],
    test_questions: int = DEFAULTS["test_questions"],
    test_cots: int = DEFAULTS["test_cots"],
    critiques_per_cot: int = DEFAULTS["critiques_per_cot"],
    kinds: Iterable[str] = KINDS,
) -> dict[str, Any]:
    """Write the selected kinds for the selected categories; return the ``synth.json`` summary."""
    sizes = {
        "train_questions": train_questions,
        "train_cots": train_cots,
        "test_questions": test_questions,
        "test_cots": test_cots,
        "critiques_per_cot": critiques_per_cot,
    }
    for name, value in sizes.items():
        if value < (0 if name.endswith("questions") else 1):
            raise UserError(
                f"--{name} must be {'>= 0' if name.endswith('questions') else '>= 1'}, got {value}"
            )
    kinds = parse_kinds(kinds)
    out = Path(output_dir)
    categories = resolve_categories(category)
    summary: dict[str, Any] = {"seed": seed, **sizes, "kinds": list(kinds), "categories": {}}
    with staged_outputs(out, last=(SYNTH_SUMMARY,)) as staging:  # every file or none
        for cat in tqdm(categories, desc="synth", unit="category", disable=None):
            summary["categories"][cat] = _write_category(
                staging, out, cat, kinds, seed, train_questions, train_cots, test_questions, test_cots,
                critiques_per_cot,
            )  # fmt: skip
        write_json(staging / SYNTH_SUMMARY, summary, indent=2)
    return summary


def _write_category(
    staging: Path,
    out: Path,
    cat: str,
    kinds: tuple[str, ...],
    seed: int,
    train_questions: int,
    train_cots: int,
    test_questions: int,
    test_cots: int,
    critiques_per_cot: int,
) -> dict[str, Any]:
    """Generate and write (into ``staging``, named as under ``out``) the kinds of one category; its stats."""
    stats: dict[str, Any] = {}
    data: dict[str, list[dict[str, Any]]] = {}
    if set(kinds) - {"test"}:  # every other kind is made from the train records
        train = make_train_records(seed, cat, train_questions, train_cots)
        data["train"] = train
        stats["train"] = cot_stats(train)
        for kind in ("train_gORM", "train_gPRM"):
            if kind in kinds:
                data[kind] = critique_set(train, kind[6:], critiques_per_cot, f"{seed}/{cat}/{kind}")
                stats[kind] = critique_stats(data[kind])
        if "generated_gPRM" in kinds:
            data["generated_gPRM"] = teacher_generations(train, "gPRM", f"{seed}/{cat}/generated_gPRM")
    if "test" in kinds:
        data["test"] = make_test_records(seed, cat, test_questions, test_cots)
        stats["test"] = voting_stats(data["test"])
    for kind in kinds:
        records = validate_records(SCHEMA.get(kind, kind), data[kind], out / kind / f"{cat}.jsonl")
        write_jsonl(staging / kind / f"{cat}.jsonl", records)
    log.info("%s: %s", cat, ", ".join(f"{k} {len(data[k])}" for k in kinds))
    return stats


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output_dir", default="results/data/synth", help="root of {kind}/{category}.jsonl")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--category", default="all", help="'all' or comma-separated categories")
    p.add_argument("--train_questions", type=int, default=DEFAULTS["train_questions"], help="per category")
    p.add_argument("--train_cots", type=int, default=DEFAULTS["train_cots"], help="CoTs per train question")
    p.add_argument("--test_questions", type=int, default=DEFAULTS["test_questions"], help="per category")
    p.add_argument("--test_cots", type=int, default=DEFAULTS["test_cots"], help="N: CoTs per test question")
    p.add_argument(
        "--critiques_per_cot",
        type=int,
        default=DEFAULTS["critiques_per_cot"],
        help="teacher samples per train CoT for train_gORM/train_gPRM",
    )
    p.add_argument(
        "--kinds", nargs="+", default=["all"], metavar="KIND", help=f"subset of {', '.join(KINDS)} (or all)"
    )


def run(args: argparse.Namespace) -> None:
    summary = synthesize(
        args.output_dir,
        seed=args.seed,
        category=args.category,
        train_questions=args.train_questions,
        train_cots=args.train_cots,
        test_questions=args.test_questions,
        test_cots=args.test_cots,
        critiques_per_cot=args.critiques_per_cot,
        kinds=args.kinds,
    )
    tests = [s["test"] for s in summary["categories"].values() if s.get("test")]
    if tests:
        mean = {k: sum(t[k] for t in tests) / len(tests) for k in ("cot_accuracy", "majority_vote", "pass")}
        log.info(
            "test: per-CoT accuracy %.3f, majority vote %.3f, pass@N %.3f (mean over categories)",
            mean["cot_accuracy"],
            mean["majority_vote"],
            mean["pass"],
        )
