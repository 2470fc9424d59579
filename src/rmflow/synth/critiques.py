"""Teacher critiques for gORM/gPRM SFT data, raw (as a teacher generates them) and preprocessed.

A critique states its finding first: ``Every step checks out.``, or ``One step is wrong: {why}.`` for
the first wrong step, ``why`` read off it without copying a number (the operation its words name against
the one it computes, a slip, an answer that is no option). A ~1M-parameter model can neither copy a
solution nor find its k-th step, but it can decide at that first token whether anything in the solution
is wrong; the rest follows, and no token it cannot learn dilutes that decision in the SFT loss. Then a
closing line, ``</think>`` and the verdict of docs/formats.md (gPRM: the step judgements, then ``Is the
solution correct?``). :func:`teacher_completion`
renders what a teacher generates after the prompt's ``Let's verify step by step:`` prefix;
:func:`sft_critique` renders what ``rmflow preprocess`` keeps from it:
``"<think>\\nLet's verify step by step:"`` + the completion cut right after the gORM verdict (gORM) or the
last step judgement (gPRM, plus the final ``Is the solution correct?`` line). gPRM sets also hold the
correct steps before a CoT's first error as an incomplete solution of their own (:func:`critique_set`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rmflow.chat_template import THINK_CLOSE
from rmflow.prompts import CRITIQUE_HEAD, ORM_VERDICT, PRM_VERDICT, step_judgement
from rmflow.synth.cots import GIVE_UP
from rmflow.synth.templates import OPS

_COMPUTATION = re.compile(r"\b(plus|minus|times)\b[^:]*: (\d+) ([-+*]) (\d+) = (-?\d+)\.$")
_BARE_COMPUTATION = re.compile(r"(\d+) ([-+*]) (\d+) = (-?\d+)\.?$")
_ANSWER_STEP = re.compile(r"comes to (.+), which is option \(([A-Za-z])\)\.")
_OPTION = re.compile(r"^([A-J])\. (.+)$", re.M)
_SYMBOL = {word: sym for sym, word in OPS.items()}
GOOD_FINDING = "Every step checks out"
BAD_FINDING = "One step is wrong:"
_GOOD_END = (
    "So the solution is correct.",
    "The solution holds up.",
    "So the final answer is right.",
)
_BAD_END = (
    "The error carries to the final answer.",
    "So the final answer is wrong.",
    "The solution fails here.",
)


# ------------------------------------------------------------ gold labels (docs/formats.md#train)
def gold_outcome(record: dict[str, Any]) -> int:
    """gORM gold: +1 if parsed_answer == answer; if either is null, -1 if any step label is -1 else +1."""
    parsed, answer = record.get("parsed_answer"), record.get("answer")
    if parsed is None or answer is None:
        return -1 if -1 in (record.get("labels") or []) else 1
    return 1 if parsed == answer else -1


def gold_steps(record: dict[str, Any]) -> list[int]:
    """gPRM gold: +1 up to the first -1 step label, which is kept and ends the list."""
    labels = list(record.get("labels") or [])
    return labels[: labels.index(-1) + 1] if -1 in labels else labels


def gold_verdict(record: dict[str, Any], task_type: str) -> int | list[int]:
    """The verdict of a teacher that agrees with the gold labels: gORM ±1, gPRM the step judgements."""
    return gold_outcome(record) if task_type == "gORM" else gold_steps(record)


# --------------------------------------------------------------------------- step judgements
def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def error_reason(step: str, question: str) -> str:
    """Why ``step`` is wrong, read off the step and the options, without copying a number.

    ``times means *, not +`` (the operation its words name against the one it computes), ``its
    arithmetic is off`` (a slip), ``it chooses no option``, ``(K) is not an option``, ``option (C) is
    another value``.
    """
    m = _COMPUTATION.search(step)
    bare = _BARE_COMPUTATION.search(step)
    if bare:
        a, op, b, c = int(bare[1]), bare[2], int(bare[3]), int(bare[4])
        if m and _SYMBOL[m[1]] != op:
            return f"{m[1]} means {_SYMBOL[m[1]]}, not {op}"
        return "its arithmetic is off" if _apply(a, op, b) != c else "it does not follow from the question"
    if step == GIVE_UP:
        return "it chooses no option"
    ans = _ANSWER_STEP.search(step)
    if ans:
        options = dict(_OPTION.findall(question))
        if ans[2] not in options:
            return f"({ans[2]}) is not an option"
        if options[ans[2]] != ans[1]:
            return f"option ({ans[2]}) is another value"
    return "it does not follow from the question"


def finding(steps: Sequence[str], question: str, flagged: int | None) -> str:
    """The critique's first line: its finding, stated before anything else.

    ``Every step checks out.`` or ``One step is wrong: {why}.`` for the ``flagged`` step (0-based),
    ``why`` from :func:`error_reason`. Nothing in it copies a number from the solution: a
    ~1M-parameter model cannot learn to copy, and the loss of tokens it cannot learn would drown the
    one token that decides the verdict.
    """
    if flagged is None:
        return f"{GOOD_FINDING}."
    return f"{BAD_FINDING} {error_reason(steps[flagged], question)}."


def _rng(variant: int | str) -> random.Random:
    return random.Random(f"rmflow.synth.critique/{variant}")


# --------------------------------------------------------------------------- gORM
def _orm_body(record: dict[str, Any], verdict: int, rng: random.Random) -> str:
    steps, labels = record["cot"], list(record.get("labels") or [])
    if verdict == 1:
        flagged = None
    elif -1 in labels[: len(steps)]:
        flagged = labels.index(-1)
    else:
        flagged = len(steps) - 1
    end = rng.choice(_GOOD_END if flagged is None else _BAD_END)
    word = "Yes" if verdict == 1 else "No"
    return f"\n{finding(steps, record['question'], flagged)}\n{end}\n{THINK_CLOSE}\n\n{ORM_VERDICT} {word}"


# --------------------------------------------------------------------------- gPRM
def _prm_body(record: dict[str, Any], verdict: Sequence[int], rng: random.Random) -> str:
    steps = record["cot"]
    if not verdict or len(verdict) > len(steps):
        raise ValueError(f"gPRM verdict of {len(verdict)} judgements for {len(steps)} steps")
    flagged = list(verdict).index(-1) if -1 in verdict else None
    end = rng.choice(_GOOD_END if flagged is None else _BAD_END)
    judged = "\n".join(step_judgement(k + 1, j) for k, j in enumerate(verdict))
    shown = steps[: len(verdict)]
    return f"\n{finding(shown, record['question'], flagged)}\n{end}\n{THINK_CLOSE}\n\n{judged}"


def _prm_final(verdict: Sequence[int]) -> str:
    return f"{PRM_VERDICT} {'No' if -1 in verdict else 'Yes'}"


# --------------------------------------------------------------------------- public API
def teacher_completion(
    record: dict[str, Any],
    task_type: str,
    verdict: int | Sequence[int],
    *,
    variant: int | str = 0,
    tail: str = "",
) -> str:
    """A raw teacher completion (the text generated after ``Let's verify step by step:``).

    ``verdict`` is the teacher's judgement: ±1 for gORM, the list of ±1 step judgements for gPRM (a run
    of +1, optionally ended by one -1). gPRM completions end with ``\\n\\nIs the solution correct? X``
    (which preprocess cuts off and re-adds); ``tail`` is appended verbatim, e.g. to exercise the cut.
    """
    rng = _rng(variant)
    if task_type == "gORM":
        return _orm_body(record, int(verdict), rng) + tail  # type: ignore[arg-type]
    if task_type == "gPRM":
        verdict = list(verdict)  # type: ignore[arg-type]
        return _prm_body(record, verdict, rng) + f"\n\n{_prm_final(verdict)}" + tail
    raise ValueError(f"no teacher critique for task type {task_type!r}")


def generated_record(
    record: dict[str, Any],
    task_type: str,
    verdict: int | Sequence[int],
    *,
    variant: int | str = 0,
    tail: str = "",
) -> dict[str, Any]:
    """A ``generated`` record: the train record plus the raw teacher completion."""
    return {**record, "critique": teacher_completion(record, task_type, verdict, variant=variant, tail=tail)}


def sft_critique(
    record: dict[str, Any], task_type: str, verdict: int | Sequence[int], *, variant: int | str = 0
) -> str:
    """The critique ``rmflow preprocess`` keeps from ``teacher_completion(record, task_type, verdict)``."""
    rng = _rng(variant)
    if task_type == "gORM":
        return CRITIQUE_HEAD + _orm_body(record, int(verdict), rng)  # type: ignore[arg-type]
    if task_type == "gPRM":
        verdict = list(verdict)  # type: ignore[arg-type]
        return CRITIQUE_HEAD + _prm_body(record, verdict, rng) + "\n" + _prm_final(verdict)
    raise ValueError(f"no teacher critique for task type {task_type!r}")


def sft_record(record: dict[str, Any], task_type: str, *, variant: int | str = 0) -> dict[str, Any]:
    """The kept SFT record for a teacher that agrees with the gold label."""
    verdict = gold_verdict(record, task_type)
    cot = record["cot"] if task_type == "gORM" else record["cot"][: len(verdict)]  # type: ignore[arg-type]
    return {
        "q_id": record["q_id"],
        "question": record["question"],
        "cot_id": record["cot_id"],
        "cot": cot,
        "critique": sft_critique(record, task_type, verdict, variant=variant),
        "labels": verdict,
    }


def is_positive(record: dict[str, Any]) -> bool:
    """gORM: label +1; gPRM: every judged step +1."""
    labels = record["labels"]
    return labels == 1 if isinstance(labels, int) else all(x == 1 for x in labels)


def critique_set(
    train: Iterable[dict[str, Any]], task_type: str, samples: int, key: str
) -> list[dict[str, Any]]:
    """SFT records for ``samples`` teacher critiques per CoT: deduplicated, balanced, shuffled.

    A repeated sample (the same critique of the same, possibly cut, solution) is dropped and the majority
    class (positives vs negatives) is undersampled to the size of the minority, within whole solutions and
    within cut ones apart, leaving out a group of one class (gPRM; a gORM set has whole ones only): whole
    solutions are nearly all right, and balanced only overall they would teach a gPRM that a solution
    ending in its answer is right. The templated critiques repeat across solutions, so unlike preprocess,
    which drops a critique text already seen, the same text pairs with each solution it judges. ``key``
    seeds the phrasing and the sampling. gPRM sets also judge the correct steps before a CoT's first
    error on their own (an incomplete solution, all steps correct): otherwise every solution that stops
    before its answer would be wrong.
    """
    seen: set[tuple[Any, ...]] = set()
    records: list[tuple[dict[str, Any], bool]] = []  # (SFT record, whether its solution is whole)
    for rec in train:
        if not rec.get("labels") or not rec.get("cot"):
            continue
        sources = [rec]
        k = rec["labels"].index(-1) if -1 in rec["labels"] else 0
        if task_type == "gPRM" and k > 0:  # also the correct steps before the first error, on their own
            sources.append({**rec, "cot": rec["cot"][:k], "labels": rec["labels"][:k]})
        for src in sources:
            for s in range(samples):
                out = sft_record(
                    src, task_type, variant=f"{key}/{rec['q_id']}/{rec['cot_id']}/{len(src['cot'])}/{s}"
                )
                example = (rec["q_id"], rec["cot_id"], len(src["cot"]), out["critique"])
                if example not in seen:
                    seen.add(example)
                    records.append((out, len(out["cot"]) == len(rec["cot"])))
    rng = random.Random(f"rmflow.synth.balance/{key}")
    kept = []
    for whole in (True, False):
        group = [r for r, w in records if w == whole]
        pos = [r for r in group if is_positive(r)]
        neg = [r for r in group if not is_positive(r)]
        n = min(len(pos), len(neg))  # a group with one class empty is left out
        kept += (rng.sample(pos, n) if len(pos) > n else pos) + (rng.sample(neg, n) if len(neg) > n else neg)
    if not kept:  # no group holds both classes: nothing to balance
        kept = [r for r, _ in records]
    rng.shuffle(kept)
    return kept


def teacher_generations(train: Iterable[dict[str, Any]], task_type: str, key: str) -> list[dict[str, Any]]:
    """What a teacher agreeing with the gold labels generates for each whole training CoT (``generated``
    records: the train record plus the raw completion); ``key`` seeds the phrasing."""
    return [
        generated_record(
            rec, task_type, gold_verdict(rec, task_type), variant=f"{key}/{rec['q_id']}/{rec['cot_id']}"
        )
        for rec in train
        if rec.get("labels") and rec.get("cot")
    ]
