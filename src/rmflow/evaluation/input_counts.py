"""What the tables absorb without failing, counted: answers that are not a letter A-J, NaN rewards.

Both are legal (docs/formats.md#scores-and-answers): such an answer is ``N/A`` and still votes, a NaN
or null reward counts as 0.5. ``rmflow evaluate`` logs the counts (one warning line each) and writes
them to ``summary.json``, so a parsing problem or a scorer that rarely reached a verdict shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def answers_summary(per_category: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Totals and per-category counts of parsed answers that are not a letter A-J, and of such gold answers."""
    totals = {key: sum(c[key] for c in per_category.values()) for key in ("null", "other", "gold")}
    examples = list(dict.fromkeys(e for c in per_category.values() for e in c["examples"]))[:3]
    return {**totals, "examples": examples, "categories": {k: dict(v) for k, v in per_category.items()}}


def answers_warning(summary: Mapping[str, Any], cots: int, questions: int) -> str | None:
    """One line on answers that are not a single letter A-J, or None when every one is."""
    parts = []
    not_letter = summary["null"] + summary["other"]
    if not_letter:
        worst = sorted(summary["categories"].items(), key=lambda kv: -(kv[1]["null"] + kv[1]["other"]))
        per_cat = ", ".join(f"{c} {v['null'] + v['other']}" for c, v in worst[:3] if v["null"] + v["other"])
        examples = f", e.g. {', '.join(summary['examples'])}" if summary["examples"] else ""
        parts.append(
            f"{not_letter} of {cots} parsed answers are not a single letter A-J ({summary['null']} null, "
            f"{summary['other']} other{examples}; most in {per_cat}) and count as N/A, which still votes"
        )
    if summary["gold"]:
        parts.append(f"{summary['gold']} of {questions} gold answers are not a letter A-J and match nothing")
    return "; ".join(parts) if parts else None


def nan_summary(per_category: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, Any]:
    """Per reward model: NaN/null reward entries and unscored CoTs, in total (with the NaN share) and
    per category; ``per_category`` is category -> model -> :func:`rmflow.evaluation.scores.missing_counts`."""
    models = list(dict.fromkeys(m for per_model in per_category.values() for m in per_model))
    out: dict[str, Any] = {}
    for model in models:
        cats = {c: dict(per_model[model]) for c, per_model in per_category.items() if model in per_model}
        total = {key: sum(c[key] for c in cats.values()) for key in ("entries", "nan", "lists", "unscored")}
        share = total["nan"] / total["entries"] if total["entries"] else 0.0
        out[model] = {**total, "nan_share": share, "categories": cats}
    return out


def nan_line(model: str, counts: Mapping[str, Any]) -> str:
    """The log line of one reward model's NaN share."""
    line = (
        f"{model}: {100 * counts['nan_share']:.2f}% of reward entries are NaN or null ({counts['nan']} of "
        f"{counts['entries']}), each counted as 0.5"
    )
    if counts["unscored"]:
        line += f"; {counts['unscored']} of {counts['lists']} CoTs have no score at all and get 0.5"
    return line
