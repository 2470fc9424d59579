"""Fuzzing with hypothesis: the record loaders, the evaluator (``rmflow evaluate`` on broken test and reward
files) and preprocess's record-level filter either give a valid result or a UserError/RecordError, never
another exception. Bounded (fixed seed, modest example counts); each property counts the cases it ran
and the module checks the counts at the end."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmflow.cli import main
from rmflow.data import KINDS, load_records, validate_records
from rmflow.errors import RecordError, UserError
from rmflow.generative.preprocess import SKIP_REASONS, preprocess_records
from rmflow.io import read_records, write_json, write_jsonl
from rmflow.synth import generated_record

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
CASES: Counter[str] = Counter()  # property -> cases run
#: property -> examples it runs (at least 90% must be run: hypothesis may stop a search early)
EXPECTED_CASES = {
    "read_records": 150,
    "validate_records": 150,
    "round trip": 150,
    "evaluate": 80,
    "preprocess": 150,
}
OUTCOMES: Counter[str] = Counter()  # property:outcome -> cases

# --------------------------------------------------------------------------- value strategies
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.integers(-3, 3),
    st.sampled_from([10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True), TEXT,
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["q_id", "question", "cot_id", "cot", "labels", "parsed_answer", "answer", "critique", "cot_ids",
          "cots", "parsed_answers", "rewards"]  # fmt: skip
LETTERS = st.sampled_from(["A", "b", " C ", "J", "K", "N/A", "", "AB"])


def plausible_value(field: str) -> st.SearchStrategy:
    """Mostly well-typed values of a schema field, with the usual corruptions mixed in."""
    steps = st.lists(TEXT, max_size=3)
    good = {
        "q_id": st.one_of(st.integers(0, 5), st.text("ab", min_size=1, max_size=2)),
        "question": TEXT,
        "cot_id": st.integers(0, 5),
        "cot": steps,
        "labels": st.one_of(st.sampled_from([1, -1]), st.lists(st.sampled_from([1, -1]), max_size=4)),
        "parsed_answer": st.one_of(st.none(), LETTERS),
        "answer": st.one_of(st.none(), LETTERS),
        "critique": TEXT,
        "cot_ids": st.lists(st.integers(0, 5), max_size=4),
        "cots": st.lists(steps, max_size=4),
        "parsed_answers": st.lists(st.one_of(st.none(), LETTERS), max_size=4),
        "rewards": st.lists(
            st.lists(st.one_of(st.none(), st.floats(), st.integers(-2, 2)), max_size=3), max_size=4
        ),
    }[field]
    return st.one_of(good, good, good, JSON_VALUES)


RECORDS = st.lists(st.fixed_dictionaries({}, optional={f: plausible_value(f) for f in FIELDS}), max_size=5)
STEPS = st.lists(TEXT, max_size=3)
LABEL_LIST = st.lists(st.sampled_from([1, -1]), min_size=1, max_size=4)


@st.composite
def valid_record(draw, kind: str, q_id: int) -> dict[str, Any]:
    """A record that meets the ``kind`` schema."""
    if kind in ("test", "reward"):
        n = draw(st.integers(0, 3))
        ids = list(draw(st.permutations(range(n))))
        if kind == "reward":
            rewards = st.lists(
                st.one_of(st.none(), st.floats(allow_infinity=False), st.integers(-9, 9)), max_size=3
            )
            return {"q_id": q_id, "cot_ids": ids, "rewards": [draw(rewards) for _ in ids]}
        return {"q_id": q_id, "question": draw(TEXT), "cot_ids": ids, "cots": [draw(STEPS) for _ in ids],
                "parsed_answers": [draw(st.one_of(st.none(), LETTERS)) for _ in ids], "answer": draw(LETTERS)}  # fmt: skip
    rec = {"q_id": q_id, "question": draw(TEXT), "cot_id": draw(st.integers(0, 9)), "cot": draw(STEPS)}
    if kind == "train":
        rec.update(labels=draw(st.one_of(st.none(), LABEL_LIST)), parsed_answer=draw(st.one_of(st.none(), LETTERS)),
                   answer=draw(st.one_of(st.none(), LETTERS)))  # fmt: skip
    else:
        labels = {"generated": st.one_of(st.none(), LABEL_LIST), "train_gORM": st.sampled_from([1, -1]),
                  "train_gPRM": LABEL_LIST}[kind]  # fmt: skip
        rec.update(critique=draw(TEXT), labels=draw(labels))
    return rec


@st.composite
def kind_records(draw, kind: str) -> list[dict[str, Any]]:
    """Valid records of ``kind``; half the time one of them broken (a field changed, dropped or added)."""
    records = [draw(valid_record(kind, q)) for q in range(draw(st.integers(0, 4)))]
    if records and draw(st.booleans()):
        rec = draw(st.sampled_from(records))
        how = draw(st.sampled_from(["change", "drop", "dup q_id"]))
        field = draw(st.sampled_from(sorted(rec)))
        if how == "change":
            rec[field] = draw(JSON_VALUES)
        elif how == "drop":
            del rec[field]
        else:
            rec["q_id"] = records[0]["q_id"]
    return records


def outcome(name: str, kind: str) -> None:
    CASES[name] += 1
    OUTCOMES[f"{name}:{kind}"] += 1


# --------------------------------------------------------------------------- loaders
@FUZZ
@given(
    kind=st.sampled_from(KINDS),
    suffix=st.sampled_from([".json", ".jsonl"]),
    data=st.data(),
)
def test_loaders_give_records_or_a_record_error(kind: str, suffix: str, data):
    def as_file(records: list) -> bytes:
        if suffix == ".jsonl":
            return "".join(json.dumps(r) + "\n" for r in records).encode()
        return json.dumps(records).encode()

    raw = data.draw(st.one_of(
        kind_records(kind).map(as_file),  # valid records, or one broken record
        kind_records(kind).map(as_file),
        st.tuples(kind_records(kind), st.integers(0, 300)).map(lambda t: as_file(t[0])[: t[1]]),  # truncated
        st.tuples(kind_records(kind), st.integers(0, 300), st.binary(min_size=1, max_size=2)).map(
            lambda t: as_file(t[0])[: t[1]] + t[2] + as_file(t[0])[t[1]:]),  # stray bytes
        st.binary(max_size=200),  # arbitrary bytes
        st.integers(100, 50_000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),  # any JSON document
        st.lists(st.one_of(JSON_VALUES.map(json.dumps), TEXT), max_size=5).map(lambda x: "\n".join(x).encode()),
    ))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"law{'_reward' if kind == 'reward' else ''}{suffix}"
        path.write_bytes(raw)
        try:
            records = read_records(path)
        except UserError as exc:
            assert str(path) in str(exc)
            return outcome("read_records", "error")
        assert isinstance(records, list) and all(isinstance(r, dict) for r in records)
        try:
            loaded = load_records(tmp, "law", kind)
        except UserError as exc:
            assert str(path) in str(exc)
            return outcome("read_records", "invalid records")
        assert json.dumps(loaded) == json.dumps(records)  # (as text: NaN never equals NaN)
        outcome("read_records", "valid")


@FUZZ
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_validate_records_accepts_or_names_record_and_field(kind: str, data):
    records = data.draw(
        st.one_of(kind_records(kind), RECORDS, st.lists(st.dictionaries(TEXT, JSON_VALUES, max_size=4)))
    )
    try:
        out = validate_records(kind, records, "fuzz.json")
    except RecordError as exc:
        assert exc.path == "fuzz.json" and str(exc).startswith("fuzz.json: record ")
        return outcome("validate_records", "error")
    assert out is records
    outcome("validate_records", "valid")


@FUZZ
@given(records=st.lists(st.fixed_dictionaries({"q_id": st.integers(0, 9), "text": TEXT,
                                               "x": st.floats(allow_nan=False)}), max_size=4))  # fmt: skip
def test_writers_round_trip_any_text(records: list[dict[str, Any]]):
    """Whatever text a record holds (line and paragraph separators, NEL, ...), JSONL and JSON read back equal."""
    with tempfile.TemporaryDirectory() as tmp:
        write_jsonl(Path(tmp) / "a.jsonl", records)
        write_json(Path(tmp) / "a.json", records)
        assert read_records(Path(tmp) / "a.jsonl") == records == read_records(Path(tmp) / "a.json")
    outcome("round trip", "equal")


# --------------------------------------------------------------------------- the evaluator
GOOD_REWARDS = st.one_of(
    st.sampled_from([0.0, 0.3, 1.0, None, math.nan]), st.floats(-2, 2), st.integers(-1, 2)
)
BAD_REWARDS = st.one_of(
    st.sampled_from([math.inf, -math.inf, 10**400, -(10**400), True]),
    st.integers(-(10**400), 10**400),
    TEXT,
    st.lists(st.floats(), max_size=1),
)


def sometimes(draw, one_in: int) -> bool:
    """True about once in ``one_in`` draws (False is the simple value hypothesis leans to)."""
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


@st.composite
def evaluation_inputs(draw) -> tuple[dict[str, list], dict[str, list], str, list[int], int]:
    """Per category: test records and reward records derived from them, some corrupted at random."""
    test, rewards = {}, {}
    for cat in ("law", "math"):
        records, rws = [], []
        for q in range(0 if sometimes(draw, 12) else draw(st.integers(1, 3))):
            n = 0 if sometimes(draw, 12) else draw(st.integers(1, 4))
            cot_ids = list(draw(st.permutations(range(n))))
            records.append({"q_id": draw(st.sampled_from([q, str(q), q + 100])), "question": "q",
                            "cot_ids": cot_ids, "cots": [["s"] * draw(st.integers(0, 2)) for _ in range(n)],
                            "parsed_answers": draw(st.lists(st.one_of(st.none(), LETTERS), min_size=n, max_size=n)),
                            "answer": draw(LETTERS)})  # fmt: skip
            order = draw(st.permutations(range(n)))
            values = BAD_REWARDS if sometimes(draw, 6) else GOOD_REWARDS
            rws.append({"q_id": records[-1]["q_id"], "cot_ids": [cot_ids[i] for i in order],
                        "rewards": [draw(st.lists(values, max_size=3)) for _ in order]})  # fmt: skip
        if records and sometimes(draw, 8):  # a test field changed
            rec = draw(st.sampled_from(records))
            field = draw(st.sampled_from(sorted(rec)))
            rec[field] = draw(plausible_value(field) if field in FIELDS else JSON_VALUES)
        if rws and sometimes(draw, 8):  # reward side: drop, duplicate or renumber something
            how = draw(st.sampled_from(["drop", "dup", "cot", "qid"]))
            i = draw(st.integers(0, len(rws) - 1))
            if how == "drop":
                rws.pop(i)
            elif how == "dup":
                rws.append(dict(rws[i]))
            elif how == "cot" and rws[i]["cot_ids"]:
                rws[i]["cot_ids"][0] = 99
            else:
                rws[i]["q_id"] = "elsewhere"
        test[cat], rewards[cat] = records, rws
    strategy = draw(st.sampled_from(["last", "min", "max", "mean", "prod"]))
    Ns = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True))
    return test, rewards, strategy, Ns, draw(st.integers(1, 3))


@settings(FUZZ, max_examples=80)
@given(inputs=evaluation_inputs())
def test_evaluator_gives_tables_or_one_user_error(inputs):
    test, rewards, strategy, Ns, runs = inputs
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for cat in test:
            (root / "test").mkdir(exist_ok=True)
            (root / "rm").mkdir(exist_ok=True)
            (root / "test" / f"{cat}.json").write_text(json.dumps(test[cat]))
            (root / "rm" / f"{cat}_reward.json").write_text(json.dumps(rewards[cat]))
        argv = ["evaluate", "--data_path", str(root / "test"), "--reward_dirs", str(root / "rm"),
                "--model_names", "fuzzRM", "--strategies", strategy, "--category", "law,math",
                "--output_dir", str(root / "out"), "--num_runs", str(runs), "--Ns", *map(str, Ns)]  # fmt: skip
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(argv)  # anything but a UserError escapes and fails the test
        if code == 2:
            errors = [
                line for line in err.getvalue().splitlines() if line.startswith("rmflow evaluate: error:")
            ]
            assert len(errors) == 1
            assert not (root / "out" / "best_of_n.csv").exists()
            return outcome("evaluate", "error")
        assert code == 0
        for table in ("best_of_n", "weighted_vote"):
            with open(root / "out" / f"{table}.csv", newline="") as fh:
                rows = list(csv.DictReader(fh))
            assert [r["Method"] for r in rows] == ["MV", "fuzzRM", "Pass@N"] * len(Ns)
            values = [float(v) for r in rows for k, v in r.items() if k.endswith(("_mean", "_std"))]
            assert all(0.0 <= v <= 100.0 for v in values)
        outcome("evaluate", "tables")


# --------------------------------------------------------------------------- preprocess
FRAGMENTS = st.sampled_from([
    "<think>", "</think>", "\n", " ok ", "中", "Verification: Is the answer correct (Yes/No)? Yes",
    "verification: is the answer correct (yes/no)?\n No", "Verification: Is the answer correct (Yes/No)?",
    "The step is \\boxed{correct}", "The step is \\boxed{incorrect}", "The step is \\boxed{Correct}",
    "Is the solution correct? Yes", "Is the solution correct? No",
])  # fmt: skip


@st.composite
def generated(draw, task: str) -> dict[str, Any]:
    """A teacher output record: a realistic completion (right or wrong verdict, optional tail) or noise."""
    n = 0 if sometimes(draw, 8) else draw(st.integers(1, 4))
    rec = {"q_id": draw(st.integers(0, 3)), "question": draw(TEXT), "cot_id": draw(st.integers(0, 3)),
           "cot": [draw(TEXT) for _ in range(n)],
           "labels": None if sometimes(draw, 8) else draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n)),
           "parsed_answer": draw(st.one_of(st.none(), LETTERS)), "answer": draw(st.one_of(st.none(), LETTERS))}  # fmt: skip
    tail = draw(st.lists(FRAGMENTS, max_size=2).map("".join)) if sometimes(draw, 4) else ""
    if n and not sometimes(draw, 5):
        if task == "gORM":
            verdict: Any = draw(st.sampled_from([1, -1]))
        else:
            k = draw(st.integers(1, n))
            verdict = [1] * k if draw(st.booleans()) else [1] * (k - 1) + [-1]
        return generated_record(rec, task, verdict, variant=draw(st.integers(0, 3)), tail=tail)
    return {**rec, "critique": draw(st.lists(st.one_of(FRAGMENTS, TEXT), max_size=8).map("".join)) + tail}


@FUZZ
@given(task=st.sampled_from(["gORM", "gPRM"]), max_tokens=st.sampled_from([8192, 8192, 8192, 60, 0]),
       seed=st.integers(0, 3), data=st.data())  # fmt: skip
def test_preprocess_filters_and_balances_or_rejects_the_record(task, max_tokens, seed, data):
    records = data.draw(st.lists(generated(task), min_size=1, max_size=8))
    if records and sometimes(data.draw, 5):  # a field of one record replaced by any JSON value
        rec = data.draw(st.sampled_from(records))
        rec[data.draw(st.sampled_from(sorted(rec)))] = data.draw(JSON_VALUES)
    try:
        validate_records("generated", records, "generated.jsonl")
    except RecordError:
        return outcome("preprocess", "rejected by the loader")
    kept, stats = preprocess_records(task, records, lambda text: len(text.split()), max_tokens, seed)
    assert stats["total"] == len(records)
    assert stats["no_labels"] + stats["kept"] + sum(stats["skipped"].values()) == len(records)
    assert set(stats["skipped"]) == set(SKIP_REASONS)
    pos, neg = stats["balance_after"]["positive"], stats["balance_after"]["negative"]
    assert len(kept) == pos + neg and (pos == neg or min(pos, neg) == 0)
    assert validate_records(f"train_{task}", kept, "kept") is kept  # kept records are valid SFT data
    outcome("preprocess", "kept" if kept else "all skipped")


def test_zz_case_counts():
    """Runs last in this file: every property ran its cases (reported with the suite)."""
    if len(CASES) < 5:
        pytest.skip("run with the whole file to count the fuzz cases")
    for name, count in EXPECTED_CASES.items():
        assert CASES[name] >= count * 0.9, (name, CASES)
    print("\nfuzz cases:", dict(CASES), "\noutcomes:", dict(sorted(OUTCOMES.items())))
