"""The step-tagged token sequence (docs/formats.md#model-inputs) of dORM/dPRM training and scoring.

:func:`encode_cot` is the one place that turns a question and its steps into token ids and step-tag
positions: the question part is tokenised with the special tokens the tokenizer adds, each step part
(``step + " \\n\\n\\n\\n"``) on its own without special tokens, and the tag of a step is the last token
of its part. As the published checkpoints were made, scoring strips question and steps first and
training uses them as they are. Training labels (:func:`training_example`) and scores (``reward``) are
read at exactly these positions. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rmflow.errors import RecordError
from rmflow.model_loading import last_token_id
from rmflow.names import DISCRIMINATIVE
from rmflow.prompts import NEGATIVE_TOKEN, POSITIVE_TOKEN, STEP_TAG, discriminative_parts

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    """Token ids of one CoT and the index of each step's tag token (one per step, in order)."""

    input_ids: list[int]
    tag_positions: list[int]


@dataclass(frozen=True)
class SpecialIds:
    """The step tag's token id and the two candidate tokens' (``-`` = 0, ``+`` = 1)."""

    tag: int
    negative: int
    positive: int


def special_ids(tokenizer: Any) -> SpecialIds:
    """The step-tag id and the ``-`` / ``+`` ids of ``tokenizer`` (last token of each string)."""
    return SpecialIds(
        tag=last_token_id(tokenizer, STEP_TAG),
        negative=last_token_id(tokenizer, NEGATIVE_TOKEN),
        positive=last_token_id(tokenizer, POSITIVE_TOKEN),
    )


def encode_cot(
    tokenizer: Any, question: str, steps: Sequence[str], max_steps: int | None = None, training: bool = False
) -> Encoded:
    """Token ids of the discriminative text and its step-tag positions.

    ``max_steps`` keeps only the first steps (dPRM training stops after the first negative step);
    ``training`` uses question and steps as they are, scoring strips them
    (:func:`rmflow.prompts.discriminative_parts`).
    """
    head, parts = discriminative_parts(question, steps, training)
    if max_steps is not None:
        parts = parts[:max_steps]
    ids: list[int] = list(tokenizer(head, add_special_tokens=True)["input_ids"])
    positions: list[int] = []
    for part in parts:
        ids.extend(tokenizer(part, add_special_tokens=False)["input_ids"])
        positions.append(len(ids) - 1)
    return Encoded(ids, positions)


def encoded_lengths(tokenizer: Any, cots: Sequence[tuple[str, Sequence[str]]], batch: int = 512) -> list[int]:
    """``len(encode_cot(tokenizer, question, steps).input_ids)`` of each scored ``(question, steps)``, with
    the parts tokenised in batches (the same tokens, far fewer tokenizer calls)."""
    lengths: list[int] = []
    for start in range(0, len(cots), batch):
        group = [discriminative_parts(q, steps) for q, steps in cots[start : start + batch]]
        heads = tokenizer([head for head, _ in group], add_special_tokens=True)["input_ids"]
        parts = [part for _, ps in group for part in ps]
        part_lens = iter(map(len, tokenizer(parts, add_special_tokens=False)["input_ids"] if parts else []))
        lengths.extend(
            len(h) + sum(next(part_lens) for _ in ps) for h, (_, ps) in zip(heads, group, strict=True)
        )
    return lengths


# --------------------------------------------------------------------------- labels
def outcome_label(parsed_answer: Any, answer: Any, step_labels: Sequence[int]) -> int:
    """dORM label: 1 if ``parsed_answer == answer``; if either is null, 0 if any step is -1 else 1."""
    if parsed_answer is None or answer is None:
        return 0 if any(lab == -1 for lab in step_labels) else 1
    return int(parsed_answer == answer)


def process_labels(step_labels: Sequence[int]) -> list[int]:
    """dPRM labels: 1 per +1 step, 0 for the first -1 step, nothing after it."""
    out: list[int] = []
    for lab in step_labels:
        out.append(1 if lab == 1 else 0)
        if lab != 1:
            break
    return out


@dataclass(frozen=True)
class Example:
    """One training sequence: token ids and per-token labels (-100 except at labelled tags)."""

    input_ids: list[int]
    labels: list[int]


def training_example(
    tokenizer: Any,
    record: dict[str, Any],
    task_type: str,
    max_length: int | None,
    where: tuple[str, Any] = ("<records>", "?"),
) -> Example | str:
    """The training example of one ``train`` record, or the reason it is skipped.

    Reasons: ``no labels`` (missing or empty), ``0 cot``, ``length`` (more than ``max_length`` tokens).
    dPRM sequences end after the first negative step: with causal attention the tokens after it
    would not change any labelled position. A label list whose length differs from the number of
    steps is an error naming the file and record.
    """
    if task_type not in DISCRIMINATIVE:
        raise ValueError(f"task type {task_type!r} is not discriminative")
    step_labels = record.get("labels")
    if not step_labels:
        return "no labels"
    cot = record["cot"]
    if not cot:
        return "0 cot"
    if len(step_labels) != len(cot):
        raise RecordError(where[0], where[1], "labels", f"{len(step_labels)} labels for {len(cot)} steps")
    if task_type == "dPRM":
        targets = process_labels(step_labels)
        enc = encode_cot(tokenizer, record["question"], cot, max_steps=len(targets), training=True)
        labelled = list(zip(enc.tag_positions, targets, strict=True))
    else:
        target = outcome_label(record.get("parsed_answer"), record.get("answer"), step_labels)
        enc = encode_cot(tokenizer, record["question"], cot, training=True)
        labelled = [(enc.tag_positions[-1], target)]
    if max_length is not None and len(enc.input_ids) > max_length:
        return "length"
    labels = [IGNORE] * len(enc.input_ids)
    for pos, target in labelled:
        labels[pos] = target
    return Example(enc.input_ids, labels)
