"""Step-tagged token sequences and training labels of dORM/dPRM checked by hand.

A character-level tokenizer (one id per character, BOS = 1 added only with special tokens) makes
every position countable by hand.
"""

from __future__ import annotations

import pytest

from rmflow.discriminative.features import (
    IGNORE,
    Example,
    encode_cot,
    outcome_label,
    process_labels,
    special_ids,
    training_example,
)
from rmflow.errors import RecordError

BOS = 1


class CharTokenizer:
    """One token per character (its code point); BOS prepended when special tokens are requested."""

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text, add_special_tokens)}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return ([BOS] if add_special_tokens else []) + [ord(c) for c in text]


TOK = CharTokenizer()
TAG = ord("\n")  # last character of " \n\n\n\n"


def test_special_ids_are_last_tokens():
    ids = special_ids(TOK)
    assert (ids.tag, ids.negative, ids.positive) == (TAG, ord("-"), ord("+"))


def test_encode_cot_by_hand():
    enc = encode_cot(TOK, "  Q? \n\n\n\n", ["a", " bc \n\n\n\n"])
    # head "Q? \n\n" (question stripped, tag removed) with BOS -> 1 + 5 tokens
    head = [BOS] + [ord(c) for c in "Q? \n\n"]
    step1 = [ord(c) for c in "a \n\n\n\n"]
    step2 = [ord(c) for c in "bc \n\n\n\n"]
    assert enc.input_ids == head + step1 + step2
    assert enc.tag_positions == [6 + 6 - 1, 6 + 6 + 7 - 1] == [11, 18]
    assert all(enc.input_ids[p] == TAG for p in enc.tag_positions)


def test_training_text_is_not_stripped():
    """As the published checkpoints were trained: question and steps as they are, only scoring strips."""
    enc = encode_cot(TOK, "  Q? ", ["a ", " b"], training=True)
    assert enc.input_ids == [BOS] + [ord(c) for c in "  Q?  \n\n" + "a  \n\n\n\n" + " b \n\n\n\n"]
    assert all(enc.input_ids[p] == TAG for p in enc.tag_positions)
    ex = training_example(TOK, _rec(question=" Q ", cot=[" a", "b ", "c"]), "dPRM", None)
    assert ex.input_ids == encode_cot(TOK, " Q ", [" a", "b ", "c"], max_steps=2, training=True).input_ids
    assert ex.input_ids != encode_cot(TOK, " Q ", [" a", "b ", "c"], max_steps=2).input_ids


def test_encode_cot_without_steps_and_max_steps():
    assert encode_cot(TOK, "Q", []).tag_positions == []
    assert encode_cot(TOK, "Q", ["a", "b", "c"], max_steps=2).tag_positions == [10, 16]


@pytest.mark.parametrize(
    ("parsed", "answer", "labels", "expected"),
    [
        ("A", "A", [-1, -1], 1),  # answers decide when both present, whatever the steps say
        ("B", "A", [1, 1], 0),
        (None, "A", [1, 1], 1),  # null answer: 0 if any step is -1 else 1
        (None, "A", [1, -1], 0),
        ("A", None, [-1], 0),
        (None, None, [1], 1),
    ],
)
def test_outcome_label(parsed, answer, labels, expected):
    assert outcome_label(parsed, answer, labels) == expected


def test_process_labels_stop_after_first_negative():
    assert process_labels([1, 1, 1]) == [1, 1, 1]
    assert process_labels([1, -1, 1, -1]) == [1, 0]
    assert process_labels([-1, 1]) == [0]


def _rec(**kw):
    base = {
        "q_id": 7,
        "question": "Q",
        "cot": ["a", "b", "c"],
        "labels": [1, -1, 1],
        "parsed_answer": "B",
        "answer": "A",
    }
    return {**base, **kw}


def test_dorm_example_only_last_tag_labelled():
    ex = training_example(TOK, _rec(), "dORM", None)
    assert isinstance(ex, Example)
    enc = encode_cot(TOK, "Q", ["a", "b", "c"])
    assert ex.input_ids == enc.input_ids  # whole CoT kept
    labelled = {i: v for i, v in enumerate(ex.labels) if v != IGNORE}
    assert labelled == {enc.tag_positions[-1]: 0}  # parsed B != gold A
    ex = training_example(TOK, _rec(parsed_answer=None), "dORM", None)
    assert [v for v in ex.labels if v != IGNORE] == [0]  # null answer, a -1 step
    ex = training_example(TOK, _rec(parsed_answer=None, labels=[1, 1, 1]), "dORM", None)
    assert [v for v in ex.labels if v != IGNORE] == [1]


def test_dprm_example_labels_every_tag_until_first_negative():
    ex = training_example(TOK, _rec(), "dPRM", None)
    enc = encode_cot(TOK, "Q", ["a", "b"])
    assert ex.input_ids == enc.input_ids  # ends after the first negative step
    labelled = {i: v for i, v in enumerate(ex.labels) if v != IGNORE}
    assert labelled == {enc.tag_positions[0]: 1, enc.tag_positions[1]: 0}
    ex = training_example(TOK, _rec(labels=[1, 1, 1]), "dPRM", None)
    full = encode_cot(TOK, "Q", ["a", "b", "c"])
    assert [i for i, v in enumerate(ex.labels) if v != IGNORE] == full.tag_positions


def test_question_tokens_never_labelled():
    ex = training_example(TOK, _rec(labels=[1, 1, 1]), "dPRM", None)
    head_len = len(encode_cot(TOK, "Q", []).input_ids)
    assert all(v == IGNORE for v in ex.labels[:head_len])
    assert ex.input_ids[0] == BOS


def test_skip_reasons_and_length_cap():
    assert training_example(TOK, _rec(labels=[]), "dPRM", 650) == "no labels"
    assert training_example(TOK, _rec(labels=None), "dORM", 650) == "no labels"
    rec = _rec()
    del rec["labels"]
    assert training_example(TOK, rec, "dORM", 650) == "no labels"
    assert training_example(TOK, _rec(cot=[], labels=[1]), "dORM", 650) == "0 cot"
    n = len(encode_cot(TOK, "Q", ["a", "b", "c"]).input_ids)
    assert isinstance(training_example(TOK, _rec(), "dORM", n), Example)
    assert training_example(TOK, _rec(), "dORM", n - 1) == "length"
    # dPRM is measured on the sequence it trains on (cut after the first negative step)
    m = len(encode_cot(TOK, "Q", ["a", "b"]).input_ids)
    assert isinstance(training_example(TOK, _rec(), "dPRM", m), Example)


def test_label_count_mismatch_names_file_record_field():
    with pytest.raises(RecordError) as err:
        training_example(TOK, _rec(labels=[1, 1]), "dPRM", None, ("data/law.json", "3 (q_id 7)"))
    assert "data/law.json" in str(err.value) and "3 (q_id 7)" in str(err.value) and "labels" in str(err.value)
