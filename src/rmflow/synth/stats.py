"""Summary statistics of synthetic data: how hard the questions are and how often voting is fooled."""

from __future__ import annotations

from collections import Counter
from statistics import fmean
from typing import Any

from rmflow.synth.problems import LETTERS


def _key(answer: Any) -> str:
    """Answers as majority vote counts them: an option letter (lower-cased) or ``n/a``."""
    text = str(answer).strip() if answer is not None else ""
    return text.lower() if len(text) == 1 and text.upper() in LETTERS else "n/a"


def plurality(answers: list[Any]) -> str:
    """Most frequent answer key (``n/a`` included), ties to the one seen first."""
    keys = [_key(a) for a in answers]
    counts = Counter(keys)
    best = max(counts.values())
    return next(k for k in keys if counts[k] == best)


def voting_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    """Per-CoT accuracy, majority vote and pass over all CoTs of each question, no-answer rate."""
    if not records:
        return {}
    answers = [[_key(a) for a in r["parsed_answers"]] for r in records]
    gold = [r["answer"].lower() for r in records]
    return {
        "questions": len(records),
        "cots": sum(map(len, answers)),
        "cot_accuracy": fmean(a == g for ans, g in zip(answers, gold, strict=True) for a in ans),
        "majority_vote": fmean(plurality(ans) == g for ans, g in zip(answers, gold, strict=True)),
        "pass": fmean(g in ans for ans, g in zip(answers, gold, strict=True)),
        "plurality_wrong": fmean(plurality(ans) != g for ans, g in zip(answers, gold, strict=True)),
        "no_answer": fmean(a is None for r in records for a in r["parsed_answers"]),
    }


def cot_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    """CoTs, fraction with every step correct, fraction of steps labelled -1."""
    if not records:
        return {}
    return {
        "cots": len(records),
        "all_steps_correct": fmean(-1 not in r["labels"] for r in records),
        "negative_steps": fmean(x == -1 for r in records for x in r["labels"]),
    }


def critique_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    """Records and fraction of positives (gORM +1, gPRM all +1)."""
    if not records:
        return {"records": 0}
    pos = [r["labels"] == 1 if isinstance(r["labels"], int) else -1 not in r["labels"] for r in records]
    return {"records": len(records), "positive": fmean(pos)}
