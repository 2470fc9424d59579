"""``rmflow preprocess``: cut, filter order, skip reasons, gold labels, rebuild, balance."""

from __future__ import annotations

import json

import pytest

from rmflow.data import load_records
from rmflow.generative.preprocess import (
    SKIP_REASONS,
    balance,
    filter_record,
    preprocess,
    preprocess_records,
)

HEAD = "<think>\nLet's verify step by step:"
ORM = "Verification: Is the answer correct (Yes/No)?"


def words(text: str) -> int:
    return len(text.split())


def rec(critique: str, *, cot=("s1", "s2", "s3"), labels=(1, 1, 1), parsed="A", answer="A", cot_id=0, q_id=1):
    return {
        "q_id": q_id,
        "question": "Q?",
        "cot_id": cot_id,
        "cot": list(cot),
        "labels": list(labels),
        "parsed_answer": parsed,
        "answer": answer,
        "critique": critique,
    }


def orm_critique(verdict: str = "Yes", body: str = " steps look fine.") -> str:
    return f"{body}</think>\n\n{ORM} {verdict}"


def prm_critique(judgements: list[str], final: str = "No", before: str = " thinking</think>\n") -> str:
    steps = "\n".join(f"Step {i}: The step is \\boxed{{{j}}}" for i, j in enumerate(judgements, 1))
    return f"{before}{steps}\n\nIs the solution correct? {final}"


def run_one(task: str, record: dict, max_tokens: int = 8192, seen: set | None = None):
    return filter_record(task, record, set() if seen is None else seen, words, max_tokens)


# --------------------------------------------------------------------------- gORM
def test_orm_kept_record_is_rebuilt():
    critique = orm_critique("Yes") + " and a long summary after the verdict"
    kept, reason = run_one("gORM", rec(critique))
    assert reason is None
    assert kept == {
        "q_id": 1,
        "question": "Q?",
        "cot_id": 0,
        "cot": ["s1", "s2", "s3"],
        "critique": HEAD + orm_critique("Yes"),
        "labels": 1,
    }


def test_orm_negative_gold_from_answer_mismatch():
    kept, reason = run_one("gORM", rec(orm_critique("No"), parsed="B"))
    assert reason is None and kept["labels"] == -1


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (rec(" no closing think tag " + f"{ORM} Yes"), "think"),
        (rec(orm_critique("Yes", body=" 步骤")), "chinese"),
        (rec(orm_critique("Yes"), cot=()), "0 cot"),
        (rec(" fine</think> no verdict at all"), "not parsable"),
        (rec(orm_critique("No")), "incorrect label"),  # gold +1
        (rec(orm_critique("Yes"), parsed=None, labels=(1, -1, 1)), "incorrect label"),  # gold from steps: -1
    ],
)
def test_orm_skip_reasons(record, reason):
    assert run_one("gORM", record) == (None, reason)


def test_orm_length_counts_the_cut_critique():
    record = rec(orm_critique("Yes") + " many more words after the cut " * 50)
    n = words(orm_critique("Yes"))
    assert run_one("gORM", record, max_tokens=n)[1] is None
    assert run_one("gORM", record, max_tokens=n - 1) == (None, "length")


def test_duplicate_is_judged_on_the_cut_critique_and_checked_first():
    seen: set[str] = set()
    first = rec(orm_critique("Yes") + " tail one")
    second = rec(orm_critique("Yes") + " another tail", cot_id=1)
    assert run_one("gORM", first, seen=seen)[1] is None
    assert run_one("gORM", second, seen=seen) == (None, "duplicate")
    # only kept critiques count as seen (as the published data was made): a dropped one's twin is
    # judged on its own record
    bad = rec(" no think " + f"{ORM} Yes")
    assert run_one("gORM", bad, seen=seen)[1] == "think"
    assert run_one("gORM", bad, seen=seen)[1] == "think"
    wrong = rec(orm_critique("No"), cot_id=2)  # gold +1: dropped
    right = rec(orm_critique("No"), cot_id=3, parsed="B")  # the same text, gold -1: kept
    assert run_one("gORM", wrong, seen=seen)[1] == "incorrect label"
    assert run_one("gORM", right, seen=seen)[1] is None
    assert run_one("gORM", right, seen=seen)[1] == "duplicate"


def test_filter_order_first_failing_check_wins():
    # no </think>, Chinese, empty cot and no verdict: "think" comes first
    assert run_one("gORM", rec(" 中文 no verdict", cot=()))[1] == "think"
    # Chinese and empty cot and no verdict: "chinese"
    assert run_one("gORM", rec(" 中文</think> no verdict", cot=()))[1] == "chinese"
    # empty cot and unparsable: "0 cot"
    assert run_one("gORM", rec(" ok</think> no verdict", cot=()))[1] == "0 cot"
    # wrong label and too long: "incorrect label"
    assert run_one("gORM", rec(orm_critique("No")), max_tokens=1)[1] == "incorrect label"


# --------------------------------------------------------------------------- gPRM
def test_prm_kept_record_truncates_cot_and_adds_final_verdict():
    critique = prm_critique(["correct", "incorrect"], final="No") + " trailing"
    kept, reason = run_one("gPRM", rec(critique, labels=(1, -1, 1)))
    assert reason is None
    cut = " thinking</think>\nStep 1: The step is \\boxed{correct}\nStep 2: The step is \\boxed{incorrect}"
    assert kept["critique"] == HEAD + cut + "\nIs the solution correct? No"
    assert kept["labels"] == [1, -1]
    assert kept["cot"] == ["s1", "s2"]


def test_prm_all_correct_kept_with_yes():
    kept, reason = run_one("gPRM", rec(prm_critique(["correct"] * 3, final="Yes")))
    assert reason is None
    assert kept["labels"] == [1, 1, 1] and kept["cot"] == ["s1", "s2", "s3"]
    assert kept["critique"].endswith("\\boxed{correct}\nIs the solution correct? Yes")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        # the last judgement comes before </think>: the cut drops </think>
        (rec(prm_critique(["correct"] * 3, before=" x ") + "</think>"), "think"),
        (rec(prm_critique(["correct"] * 3, before=" 想</think>\n")), "chinese"),
        (rec(prm_critique(["correct"]), cot=(), labels=(1,)), "0 cot"),
        (rec(prm_critique(["correct", "correct"])), "not parsable"),  # fewer than K, no error
        (rec(prm_critique(["correct", "incorrect", "correct"])), "not parsable"),  # goes on after -1
        (rec(prm_critique(["correct"] * 4)), "not parsable"),  # more than K
        (rec(" ok</think> nothing boxed"), "not parsable"),
        (rec(prm_critique(["correct"] * 3), labels=(1, -1, 1)), "incorrect label"),
        (rec(prm_critique(["correct", "incorrect"]), labels=(1, 1, -1)), "incorrect label"),
    ],
)
def test_prm_skip_reasons(record, reason):
    assert run_one("gPRM", record) == (None, reason)


def test_prm_judgements_are_read_in_any_case():
    critique = " t</think>\nStep 1: The step is \\boxed{Correct}\nStep 2: The step is \\boxed{incorrect}"
    kept, reason = run_one("gPRM", rec(critique, labels=(1, -1, 1)))
    assert reason is None and kept["labels"] == [1, -1]


def test_prm_gold_is_monotone():
    # labels after the first -1 do not matter
    kept, reason = run_one("gPRM", rec(prm_critique(["incorrect"]), labels=(-1, 1, -1)))
    assert reason is None and kept["labels"] == [-1] and kept["cot"] == ["s1"]


# --------------------------------------------------------------------------- balance + stats
def _labelled(task: str, labels: list) -> list[dict]:
    return [{"q_id": i, "cot_id": 0, "labels": lab} for i, lab in enumerate(labels)]


def test_balance_undersamples_majority_deterministically():
    records = _labelled("gORM", [1] * 7 + [-1] * 3)
    a, b = balance("gORM", records, 42), balance("gORM", records, 42)
    assert a == b
    assert sorted(r["labels"] for r in a) == [-1] * 3 + [1] * 3
    assert {r["q_id"] for r in a if r["labels"] == -1} == {7, 8, 9}  # the minority is kept whole
    assert any(balance("gORM", records, s) != a for s in range(1, 6))  # the seed matters


@pytest.mark.parametrize("n_pos, n_neg", [(7, 3), (3, 7), (4, 4)])
def test_balance_seeds_the_sample_and_again_the_shuffle(n_pos, n_neg):
    """As the published data was made: random.seed(42) before the sample, and again before the shuffle."""
    import random

    records = _labelled("gORM", [1] * n_pos + [-1] * n_neg)
    pos, neg = records[:n_pos], records[n_pos:]
    random.seed(42)
    if n_pos > n_neg:
        pos = random.sample(pos, n_neg)
    elif n_neg > n_pos:
        neg = random.sample(neg, n_pos)
    expected = pos + neg
    random.seed(42)
    random.shuffle(expected)
    assert balance("gORM", records, 42) == expected


def test_balance_gprm_positive_means_all_correct():
    records = _labelled("gPRM", [[1, 1], [1, -1], [-1], [1, 1, 1], [1]])
    out = balance("gPRM", records, 42)
    assert sum(all(x == 1 for x in r["labels"]) for r in out) == 2
    assert len(out) == 4


def test_balance_with_one_class_empty_keeps_everything():
    records = _labelled("gORM", [1, 1, 1])
    assert sorted(r["q_id"] for r in balance("gORM", records, 42)) == [0, 1, 2]


def test_preprocess_records_stats():
    records = [
        rec(orm_critique("Yes"), cot_id=0),
        rec(orm_critique("Yes") + " x", cot_id=0),  # duplicate after the cut
        rec(orm_critique("No", body=" other"), cot_id=1, parsed="B"),
        rec(orm_critique("Yes", body=" third"), cot_id=2),
        rec(orm_critique("Yes", body=" 中"), cot_id=3),
        {**rec(orm_critique("Yes", body=" unlabeled")), "labels": []},
    ]
    kept, stats = preprocess_records("gORM", records, words, 8192, 42)
    assert stats["total"] == 6 and stats["no_labels"] == 1 and stats["kept"] == 3
    assert stats["skipped"] == dict.fromkeys(SKIP_REASONS, 0) | {"duplicate": 1, "chinese": 1}
    assert stats["balance_before"] == {"positive": 2, "negative": 1}
    assert stats["balance_after"] == {"positive": 1, "negative": 1}
    assert stats["unique_pairs_kept"] == 3 and stats["unique_pairs_written"] == 2
    assert len(kept) == stats["written"] == 2


def test_synthetic_teacher_critiques_survive_preprocess_unchanged():
    """Critiques rendered by rmflow.synth as a teacher agreeing with gold come out as its SFT records."""
    from rmflow.synth import make_train_records
    from rmflow.synth.critiques import generated_record, gold_outcome, gold_steps, sft_record

    train = [r for r in make_train_records(3, "math", 4, 3) if r["labels"] and r["cot"]]
    for task in ("gORM", "gPRM"):
        for i, r in enumerate(train):
            verdict = gold_outcome(r) if task == "gORM" else gold_steps(r)
            gen = generated_record(r, task, verdict, variant=i, tail="\nSome text after the verdict.")
            kept, reason = filter_record(task, gen, set(), words, 8192)
            assert reason is None, (task, i)
            assert kept == sft_record(r, task, variant=i)


# --------------------------------------------------------------------------- stage
def test_preprocess_stage_writes_records_and_stats(tmp_path):
    from rmflow.backbone import train_tokenizer

    tok_dir = tmp_path / "tok"
    train_tokenizer(["Step one is correct. Verification: Yes No"] * 5, 300).save_pretrained(tok_dir)
    gen_dir = tmp_path / "gen"
    gen_dir.mkdir()
    records = [
        rec(orm_critique("Yes"), cot_id=0),
        rec(orm_critique("No", body=" bad"), cot_id=1, parsed="C"),
        rec(orm_critique("No", body=" wrong"), cot_id=2),
    ]
    (gen_dir / "law.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = preprocess("gORM", str(gen_dir), str(tok_dir), tmp_path / "out", "law", 8192, 42)
    out = load_records(tmp_path / "out", "law", "train_gORM")
    assert sorted(r["labels"] for r in out) == [-1, 1]
    assert all(r["critique"].startswith(HEAD) for r in out)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats == json.loads(json.dumps(summary))
    assert stats["categories"]["law"]["skipped"]["incorrect label"] == 1
