"""SFT examples of gORM/gPRM, tokenised, labelled and cut as the published adapters were trained.

The published adapters were trained with TRL 0.23.1 on examples tokenised ahead of the trainer: the
user turn rendered alone (no generation prompt, no thinking switch) is the prompt, everything after it
(the assistant header, the critique and the EOS closing the turn) the completion. TRL then cut each
example to its first ``max_length`` tokens and, by its default for prompt-completion data, put only the
completion in the loss; an example whose prompt alone fills ``max_length`` stayed in the data with no
token in the loss. :func:`tokenize_example` does all of it here, so the examples do not depend on the
TRL version installed (later versions also mask the generation prompt and drop fully masked examples).
Nothing here imports torch.
"""

from __future__ import annotations

import logging
from typing import Any

from rmflow.prompts import task_prompt

log = logging.getLogger(__name__)
IGNORE = -100


def sft_examples(task_type: str, category: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conversational prompt-completion examples: user prompt -> assistant critique."""
    return [
        {
            "prompt": [
                {"role": "user", "content": task_prompt(task_type, category, r["question"], r["cot"])}
            ],
            "completion": [{"role": "assistant", "content": r["critique"]}],
        }
        for r in records
    ]


def _encode(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_example(
    example: dict[str, Any], tokenizer: Any, max_length: int | None, completion_only: bool
) -> dict[str, Any]:
    """``input_ids`` and ``labels`` (-100 outside the loss) of one example, cut to ``max_length`` tokens
    (None: whole). ``num_tokens``: its length before the cut; ``prompt_is_prefix``: whether the prompt's
    tokens start the whole example's (the mask follows the prompt's length either way)."""
    prompt = _encode(tokenizer, example["prompt"])
    ids = _encode(tokenizer, example["prompt"] + example["completion"])
    labels = [IGNORE] * len(prompt) + ids[len(prompt) :] if completion_only else list(ids)
    cut = slice(None, max_length)
    return {
        "input_ids": ids[cut],
        "labels": labels[cut],
        "num_tokens": len(ids),
        "prompt_is_prefix": ids[: len(prompt)] == prompt,
    }


def report_prompt_mismatch(prefix_flags: list[bool]) -> int:
    """How many prompts do not tokenise as a prefix of their example; one warning when any."""
    bad = prefix_flags.count(False)
    if bad:
        log.warning(
            "%d of %d examples: the tokenised prompt is not a prefix of prompt + completion (the chat "
            "template renders the user turn differently alone); the loss mask follows the prompt's length",
            bad, len(prefix_flags),
        )  # fmt: skip
    return bad


def report_long_examples(
    task_type: str, categories: list[str], lengths: list[int], max_length: int | None
) -> dict[str, int]:
    """Per category, how many examples are longer than ``max_length`` (cut to it); one warning with counts."""
    long = dict.fromkeys(categories, 0)
    if max_length is None:
        return long
    for cat, n in zip(categories, lengths, strict=True):
        long[cat] += n > max_length
    total = sum(long.values())
    if total:
        per_cat = ", ".join(f"{cat} {n}" for cat, n in long.items() if n)
        log.warning(
            "%s training: %d of %d examples are longer than max_length %d tokens and are cut to their first "
            "%d (%s); the longest has %d tokens. The paper presets cut as the published adapters were "
            "trained; set max_length to null (--set max_length=null) for no cap",
            task_type, total, len(lengths), max_length, max_length, per_cat, max(lengths),
        )  # fmt: skip
    return long
