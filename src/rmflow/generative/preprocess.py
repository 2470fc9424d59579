"""``rmflow preprocess``: filter teacher critiques and balance them into gORM/gPRM SFT data.

Per category, every generated record with non-empty ``labels`` is cut at its verdict and then
checked in this order, the first failing check naming its skip reason: ``duplicate``, ``think``,
``chinese``, ``0 cot``, ``not parsable``, ``incorrect label``, ``length``. Kept records are rebuilt as
``{q_id, question, cot_id, cot, critique, labels}`` (labels = the teacher's verdict) and the majority
class is undersampled to the minority with a fixed seed, then shuffled. ``OUT/{cat}.jsonl`` and
``OUT/stats.json`` are written atomically.
"""

from __future__ import annotations

import argparse
import logging
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.chat_template import THINK_CLOSE
from rmflow.data import load_records
from rmflow.generative.verdict import (
    cut_critique,
    has_chinese,
    is_positive,
    orm_gold,
    orm_verdict,
    prm_gold,
    step_judgements,
    valid_step_judgements,
)
from rmflow.io import staged_outputs, write_json, write_jsonl
from rmflow.names import GENERATIVE
from rmflow.prompts import CRITIQUE_HEAD, PRM_VERDICT

log = logging.getLogger(__name__)

#: Skip reasons in the order they are checked.
SKIP_REASONS = ("duplicate", "think", "chinese", "0 cot", "not parsable", "incorrect label", "length")
Record = dict[str, Any]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task_type", required=True, choices=GENERATIVE)
    p.add_argument("--data_path", required=True, help="directory (or hub id) of generated {category}.jsonl")
    p.add_argument("--model_id", required=True, help="RM backbone whose tokenizer measures critique length")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--category", default="all")
    p.add_argument("--max_tokens", type=int, default=8192, help="drop cut critiques longer than this")
    p.add_argument("--seed", type=int, default=42, help="balancing seed")
    p.add_argument("--revision", default=None, help="hub revision of --model_id / --data_path (hub ids only)")


def filter_record(
    task_type: str,
    rec: Record,
    seen: set[str],
    count_tokens: Callable[[str], int],
    max_tokens: int,
) -> tuple[Record | None, str | None]:
    """Apply the checks to one generated record: ``(kept record, None)`` or ``(None, skip reason)``.

    ``duplicate`` means the cut critique equals one already *kept* in the category (``seen``).
    """
    cut = cut_critique(task_type, rec["critique"])
    if cut in seen:
        return None, "duplicate"
    if THINK_CLOSE not in cut:
        return None, "think"
    if has_chinese(cut):
        return None, "chinese"
    cot = rec["cot"]
    if not cot:
        return None, "0 cot"
    if task_type == "gORM":
        verdict: Any = orm_verdict(cut)
        if verdict is None:
            return None, "not parsable"
        if verdict != orm_gold(rec):
            return None, "incorrect label"
    else:
        verdict = step_judgements(cut)
        if not valid_step_judgements(verdict, len(cot)):
            return None, "not parsable"
        if verdict != prm_gold(rec["labels"]):
            return None, "incorrect label"
    if count_tokens(cut) > max_tokens:
        return None, "length"
    seen.add(cut)  # only kept critiques: a dropped one's twin is judged on its own record
    critique = CRITIQUE_HEAD + cut
    if task_type == "gPRM":
        critique += f"\n{PRM_VERDICT} " + ("No" if -1 in verdict else "Yes")
        cot = cot[: len(verdict)]
    kept = {"q_id": rec["q_id"], "question": rec["question"], "cot_id": rec["cot_id"], "cot": cot}
    kept.update(critique=critique, labels=verdict)
    return kept, None


def balance(task_type: str, records: list[Record], seed: int = 42) -> list[Record]:
    """Undersample the majority class (positive: gORM +1, gPRM all +1) to the minority's size; shuffle.

    As the published data was made: a generator seeded with ``seed`` draws the sample
    (``random.sample``), positives then negatives are joined, and a generator seeded with ``seed`` again
    shuffles them. With one class empty there is nothing to balance against: every record is kept (and
    shuffled).
    """
    pos = [r for r in records if is_positive(task_type, r["labels"])]
    neg = [r for r in records if not is_positive(task_type, r["labels"])]
    if pos and neg and len(pos) > len(neg):
        pos = random.Random(seed).sample(pos, len(neg))
    elif pos and neg and len(neg) > len(pos):
        neg = random.Random(seed).sample(neg, len(pos))
    out = pos + neg
    random.Random(seed).shuffle(out)
    return out


def _class_counts(task_type: str, records: Iterable[Record]) -> dict[str, int]:
    labels = [is_positive(task_type, r["labels"]) for r in records]
    return {"positive": sum(labels), "negative": len(labels) - sum(labels)}


def _pairs(records: Iterable[Record]) -> int:
    return len({(str(r["q_id"]), r["cot_id"]) for r in records})


def preprocess_records(
    task_type: str,
    records: list[Record],
    count_tokens: Callable[[str], int],
    max_tokens: int = 8192,
    seed: int = 42,
) -> tuple[list[Record], dict[str, Any]]:
    """Filter, rebuild and balance one category; return the records and its statistics."""
    seen: set[str] = set()
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    kept: list[Record] = []
    no_labels = 0
    for rec in records:
        if not rec.get("labels"):
            no_labels += 1
            continue
        out, reason = filter_record(task_type, rec, seen, count_tokens, max_tokens)
        if out is None:
            skipped[reason] += 1  # type: ignore[index]
        else:
            kept.append(out)
    balanced = balance(task_type, kept, seed)
    stats = {
        "total": len(records),
        "no_labels": no_labels,
        "kept": len(kept),
        "skipped": skipped,
        "balance_before": _class_counts(task_type, kept),
        "balance_after": _class_counts(task_type, balanced),
        "written": len(balanced),
        "unique_pairs_kept": _pairs(kept),
        "unique_pairs_written": _pairs(balanced),
    }
    return balanced, stats


def token_counter(model_id: str, revision: str | None = None) -> Callable[[str], int]:
    """Number of tokens of a text under ``model_id``'s tokenizer (no special tokens)."""
    from transformers import AutoTokenizer

    from rmflow.errors import UserError

    try:
        tok = AutoTokenizer.from_pretrained(model_id, revision=revision)
    except (OSError, ValueError) as exc:  # missing files / not a tokenizer directory
        raise UserError(f"{model_id}: cannot load tokenizer: {exc}") from None
    return lambda text: len(tok.encode(text, add_special_tokens=False))


def preprocess(
    task_type: str,
    data_path: str,
    model_id: str,
    output_dir: str | Path,
    category: str = "all",
    max_tokens: int = 8192,
    seed: int = 42,
    revision: str | None = None,
) -> dict[str, Any]:
    """Run every category; return the stats written to ``stats.json``."""
    count = token_counter(model_id, revision)
    all_stats: dict[str, Any] = {}
    with staged_outputs(output_dir) as staging:  # a bad later category leaves earlier outputs as they were
        for cat in resolve_categories(category, data_path):
            records = load_records(data_path, cat, "generated", revision)
            kept, stats = preprocess_records(task_type, records, count, max_tokens, seed)
            write_jsonl(staging / f"{cat}.jsonl", kept)
            all_stats[cat] = stats
            log.info(
                "%s: %d records, %d kept, %d written (balance %s -> %s); skipped %s",
                cat,
                stats["total"],
                stats["kept"],
                stats["written"],
                stats["balance_before"],
                stats["balance_after"],
                {k: v for k, v in stats["skipped"].items() if v},
            )
            if stats["kept"] and 0 in stats["balance_before"].values():
                log.warning("%s: one class is empty, nothing to balance against", cat)
        summary = {
            "task_type": task_type,
            "data_path": str(data_path),
            "tokenizer": model_id,
            "max_tokens": max_tokens,
        }
        summary.update(seed=seed, categories=all_stats)
        write_json(staging / "stats.json", summary, indent=2)
    return summary


def run(args: argparse.Namespace) -> None:
    preprocess(
        args.task_type,
        args.data_path,
        args.model_id,
        args.output_dir,
        args.category,
        args.max_tokens,
        args.seed,
        args.revision,
    )
