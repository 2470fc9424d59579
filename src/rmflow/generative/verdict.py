"""Verdicts of generative reward models: regexes, parsing, gold labels and reward arithmetic.

Light module (no torch): used by preprocess, shorten and scoring alike (docs/formats.md#teacher-critiques).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rmflow.prompts import (
    ORM_VERDICT,
    PRM_VERDICT,
    STEP_JUDGEMENT_CLOSE,
    STEP_JUDGEMENT_OPEN,
    STEP_WORDS,
)

#: gORM verdict (case-insensitive); group 1 is Yes/No.
ORM_VERDICT_RE = re.compile(re.escape(ORM_VERDICT) + r"\s*(Yes|No)", re.IGNORECASE)
#: gPRM step judgement; group 1 is correct/incorrect. Case-sensitive: where critiques are cut.
STEP_JUDGEMENT_RE = re.compile(
    re.escape(STEP_JUDGEMENT_OPEN) + f"({STEP_WORDS[1]}|{STEP_WORDS[-1]})" + re.escape(STEP_JUDGEMENT_CLOSE)
)
#: The same, any case: how judgements are read (as the published data was made).
STEP_JUDGEMENT_ANY_CASE_RE = re.compile(STEP_JUDGEMENT_RE.pattern, re.IGNORECASE)
#: gPRM final verdict (case-insensitive); group 1 is Yes/No.
PRM_FINAL_RE = re.compile(re.escape(PRM_VERDICT) + r"\s*(Yes|No)", re.IGNORECASE)
_CJK = re.compile("[\u4e00-\u9fff]")

Label = int  # +1 or -1


def stop_strings(task_type: str) -> list[str]:
    """The two verdict strings at which scoring stops (kept in the output)."""
    verdict = {"gORM": ORM_VERDICT, "gPRM": PRM_VERDICT}[task_type]
    return [f"{verdict} Yes", f"{verdict} No"]


def has_chinese(text: str) -> bool:
    """True if ``text`` holds a character in U+4E00..U+9FFF."""
    return _CJK.search(text) is not None


def cut_critique(task_type: str, critique: str) -> str:
    """gORM: cut right after the first verdict (any case); gPRM: right after the last step judgement
    written in lower case (the judgements are then read in any case, :func:`step_judgements`).

    Without a match the critique is returned unchanged (it will then be ``not parsable``).
    """
    if task_type == "gORM":
        m = ORM_VERDICT_RE.search(critique)
        return critique[: m.end()] if m else critique
    matches = list(STEP_JUDGEMENT_RE.finditer(critique))
    return critique[: matches[-1].end()] if matches else critique


def orm_verdict(text: str) -> Label | None:
    """+1/-1 from the first gORM verdict in ``text``, None if there is none."""
    m = ORM_VERDICT_RE.search(text)
    return None if m is None else (1 if m.group(1).lower() == "yes" else -1)


def step_judgements(text: str) -> list[Label]:
    """Every ``The step is \\boxed{correct|incorrect}`` in ``text``, in any case, as +1/-1, in order."""
    return [
        1 if m.group(1).lower() == STEP_WORDS[1] else -1 for m in STEP_JUDGEMENT_ANY_CASE_RE.finditer(text)
    ]


def valid_step_judgements(judgements: Sequence[Label], n_steps: int) -> bool:
    """All +1 with exactly ``n_steps`` entries, or a run of +1 ending in one -1 with at most ``n_steps``."""
    if not judgements or len(judgements) > n_steps:
        return False
    if all(j == 1 for j in judgements):
        return len(judgements) == n_steps
    return judgements[-1] == -1 and all(j == 1 for j in judgements[:-1])


def orm_gold(record: Mapping[str, Any]) -> Label:
    """gORM gold label: answer match, or (either answer null) -1 iff any step label is -1."""
    parsed, answer = record.get("parsed_answer"), record.get("answer")
    if parsed is None or answer is None:
        return -1 if -1 in (record.get("labels") or []) else 1
    return 1 if parsed == answer else -1


def prm_gold(labels: Sequence[Label]) -> list[Label]:
    """gPRM gold: the step labels made monotone (+1 up to the first -1, cut right after it)."""
    out: list[Label] = []
    for label in labels:
        out.append(1 if label == 1 else -1)
        if label != 1:
            break
    return out


def is_positive(task_type: str, labels: Label | Sequence[Label]) -> bool:
    """Positive class for balancing: gORM +1, gPRM all +1."""
    if task_type == "gORM":
        return labels == 1
    return all(x == 1 for x in labels)  # type: ignore[union-attr]


def verdict_token_reward(top_logprobs: Mapping[int, float] | None, yes_id: int, no_id: int) -> float:
    """P(Yes) from the last generated token's logprobs (top-k plus the sampled token).

    Both present: ``e^lp(Yes) / (e^lp(Yes) + e^lp(No))`` (computed stably); only Yes: 1.0; only No: 0.0;
    neither (or no logprobs): NaN.
    """
    if not top_logprobs:
        return math.nan
    yes, no = top_logprobs.get(yes_id), top_logprobs.get(no_id)
    if yes is None and no is None:
        return math.nan
    if no is None:
        return 1.0
    if yes is None:
        return 0.0
    # 1 / (1 + e^(no - yes)) is the same ratio without overflow.
    return 1.0 / (1.0 + math.exp(no - yes))


def sample_reward(
    text: str, top_logprobs: Mapping[int, float] | None, task_type: str, yes_id: int, no_id: int
) -> float:
    """Reward of one sampled critique: NaN without a verdict string, else :func:`verdict_token_reward`."""
    if not any(s in text for s in stop_strings(task_type)):
        return math.nan
    return verdict_token_reward(top_logprobs, yes_id, no_id)
