"""The bulk reader (rmflow.fast_records) accepts a record file only where the strict reader would, with
equal values; everything else it leaves to the strict reader."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmflow import fast_records
from rmflow.data import FAST_SCHEMAS, read_local, validate_records, well_formed
from rmflow.errors import RecordError, UserError
from rmflow.evaluation.inputs import REWARDS
from rmflow.io import read_records

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALUES = st.sampled_from([0.1, 1, 0, -0.0, 1e300, None, math.nan, math.inf, True, "x", "a:b", [0.2], {}])


def strict(path: Path, kind: str) -> list | None:
    """The strict reader's records, or None when it rejects the file."""
    try:
        return validate_records(kind, read_records(path), path)
    except UserError:
        return None


def fast(path: Path, kind: str, schema=None) -> list | None:
    decoded = fast_records.read(path, schema or FAST_SCHEMAS[kind])
    return decoded.records if decoded is not None and well_formed(kind, decoded.records) else None


def same(a, b) -> bool:
    """Equal, NaN equal to NaN and to None (the NaN field), tuples equal to lists."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    nan = [x is None or (isinstance(x, float) and math.isnan(x)) for x in (a, b)]
    if any(nan):
        return all(nan)
    return type(a) is type(b) and a == b


def write(tmp_path: Path, text: str, name: str = "law_reward.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@FAST
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "q_id": st.sampled_from([1, 2, "a", "", "b:c", True, 1.5, None]),
                "cot_ids": st.lists(st.sampled_from([0, 1, 2, True, 2.0, "3"]), max_size=3),
                "rewards": st.lists(st.lists(VALUES, max_size=3) | VALUES, max_size=3),
            },
            optional={"extra": VALUES | st.dictionaries(st.sampled_from(["k", "NaN"]), VALUES, max_size=2)},
        ),
        max_size=3,
    ),
    st.sampled_from([".json", ".jsonl"]),
)
def test_reward_files_agree_with_the_strict_reader(tmp_path, records, suffix):
    text = json.dumps(records) if suffix == ".json" else "\n".join(map(json.dumps, records)) + "\n"
    path = write(tmp_path, text, f"law_reward{suffix}")
    expected = strict(path, "reward")
    for schema in (FAST_SCHEMAS["reward"], REWARDS):
        decoded = fast_records.read(path, schema)
        got = decoded.records if decoded is not None and well_formed("reward", decoded.records) else None
        if got is not None and decoded.nulls is not None:
            flat_nans = sum(v is None for rec in got for lst in rec["rewards"] for v in lst)
            got = got if decoded.nulls == flat_nans else None
        if got is not None:
            assert expected is not None, text
            assert same(got, expected), text
    plain = not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(records))
    if expected is not None and plain:  # nothing for the strict reader to decide
        assert fast(path, "reward") is not None, text


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('[{"q_id": 1, "q_id": 2, "cot_ids": [0], "rewards": [[0.5]]}]', "repeated key"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]], "rewards": [[0.6]]}]', "repeated key"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]], "x": {"a": 1, "a": 2}}]', "nested repeat"),
        ('[{"q_id": 1, "q\\u005fid": 2, "cot_ids": [0], "rewards": [[0.5]]}]', "escaped repeat"),
        ('[{"a\\u003a": 1, "q_id": 1, "q_id": 2, "cot_ids": [0], "rewards": [[0.5]]}]', "colon key"),
        ('[{"q_id": "\\ud800", "cot_ids": [0], "rewards": [[0.5]]}]', "lone surrogate"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]], "x": "\\udc00"}]', "lone surrogate"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[Infinity]]}]', "infinity"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[-NaN]]}]', "not JSON"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[1e400]]}]', "infinite"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]]}', "truncated"),
        ('\ufeff[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]]}]', "byte order mark"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]]}]\u0000', "trailing NUL"),
        ('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]], "x": [' + "[" * 3000 + "]" * 3000 + "]}]", "deep"),
    ],
)
def test_what_the_strict_reader_refuses_is_left_to_it(tmp_path, text, why):
    path = write(tmp_path, text)
    assert strict(path, "reward") is None, why
    assert fast(path, "reward") is None and fast(path, "reward", REWARDS) is None, why
    with pytest.raises(UserError):
        read_local(path, "reward")


@pytest.mark.parametrize("reward", ["0", "1", "-0", "9223372036854775807"])
def test_an_integer_reward_stays_an_int(tmp_path, reward):
    """As the strict reader gives it (a float type would read 0 as 0.0); past int64 it is left to it."""
    path = write(tmp_path, f'[{{"q_id": 1, "cot_ids": [0, 1], "rewards": [[], [{reward}, 0.5]]}}]')
    records = fast(path, "reward")
    assert records == strict(path, "reward")
    assert [type(x) for x in records[0]["rewards"][1]] == [int, float]


def test_an_integer_reward_past_int64_is_left_to_the_strict_reader(tmp_path):
    path = write(tmp_path, '[{"q_id": 1, "cot_ids": [0], "rewards": [[9223372036854775808]]}]')
    assert fast(path, "reward") is None
    assert read_local(path, "reward") == strict(path, "reward")


def test_invalid_utf8_in_an_undeclared_field(tmp_path):
    path = tmp_path / "law_reward.json"
    path.write_bytes(b'[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]], "x": "\xff"}]')
    assert fast(path, "reward") is None
    with pytest.raises(RecordError, match="not valid UTF-8"):
        read_local(path, "reward")


@pytest.mark.parametrize(
    "text",
    [
        '[{"q_id": "NaN", "cot_ids": [0], "rewards": [[NaN]]}]',  # NaN inside a string
        '[{"q_id": 1, "cot_ids": [0], "rewards": [[NaN]], "x": null}]',  # a null elsewhere
        '[{"q_id": 1, "cot_ids": [0], "rewards": [[NaN]], "x": NaN}]',  # a NaN elsewhere
    ],
)
def test_nan_read_as_null_only_in_the_rewards(tmp_path, text):
    path = write(tmp_path, text)
    expected = strict(path, "reward")
    assert expected is not None
    decoded = fast_records.read(path, REWARDS)
    nans = sum(v is None for rec in decoded.records for lst in rec["rewards"] for v in lst)
    assert decoded.nulls != nans  # the caller then asks the strict reader


def test_nan_rewards_and_valid_pairs_are_read(tmp_path):
    records = [{"q_id": "😀:x", "cot_ids": [2, 0], "rewards": [[0.25, math.nan], [None]], "note": {"k": [1]}}]
    path = write(tmp_path, json.dumps(records))  # ensure_ascii: the emoji as a surrogate pair
    decoded = fast_records.read(path, REWARDS)
    assert decoded is not None and decoded.nulls == 2
    assert same(decoded.records, strict(path, "reward"))
    flat = np.array([v for lst in decoded.records[0]["rewards"] for v in lst], dtype=np.float64)
    assert np.isnan(flat).sum() == 2


def test_test_files_with_extra_fields_and_step_labels(tmp_path):
    rec = {
        "q_id": 7,
        "question": "Q: which?",
        "cot_ids": [0, 1],
        "cots": [["Step 1: a", "b"], []],
        "parsed_answers": ["A", None],
        "answer": "A",
        "step_labels": [[1, -1], []],
        "src": {"name": "x:y", "n": [1, 2]},
    }
    for name, text in [("law.json", json.dumps([rec], indent=2)), ("law.jsonl", json.dumps(rec) + "\n\n")]:
        path = write(tmp_path, text, name)
        got = fast(path, "test")
        assert got is not None and same(got, strict(path, "test")), name
    path = write(tmp_path, json.dumps([rec, rec]), "law.json")  # a repeated q_id
    assert fast(path, "test") is None
    with pytest.raises(RecordError, match="duplicate q_id"):
        read_local(path, "test")
