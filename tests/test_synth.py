"""`rmflow synth`: schemas, determinism, label logic, systematic errors, critiques."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmflow.categories import CATEGORIES
from rmflow.cli import main
from rmflow.data import load_records, validate_records
from rmflow.io import read_records
from rmflow.names import SYNTH_KINDS, SYNTH_SUMMARY
from rmflow.prompts import CRITIQUE_HEAD, PRM_VERDICT
from rmflow.synth import KINDS, SCHEMA, TEST_QID_OFFSET, make_test_records, make_train_records, synthesize
from rmflow.synth.cots import GIVE_UP, HEDGES, P_HEDGE, P_HESITATE, parse_answer
from rmflow.synth.critiques import (
    generated_record,
    gold_outcome,
    gold_steps,
    sft_critique,
    teacher_completion,
)
from rmflow.synth.problems import LETTERS, make_problem
from rmflow.synth.stats import plurality, voting_stats
from rmflow.synth.templates import OPS, TEMPLATES

# the preprocess regexes (docs/formats.md#teacher-critiques), written out independently of the code
ORM_RE = re.compile(r"Verification: Is the answer correct \(Yes/No\)\?\s*(Yes|No)", re.I)
PRM_STEP_RE = re.compile(r"The step is \\boxed{(correct|incorrect)}")
PRM_FINAL_RE = re.compile(r"Is the solution correct\?\s*(Yes|No)")
CJK = re.compile("[\u4e00-\u9fff]")
COMPUTATION = re.compile(r"\b(plus|minus|times)\b[^:]*: (\d+) ([-+*]) (\d+) = (-?\d+)\.$")
ANSWER_STEP = re.compile(
    r"comes to (.+?), which is option \(([A-Za-z])\)\. (?:.+, but the|The) answer is \(\2\)\.$"
)
OPTION = re.compile(r"^([A-J])\. (.+)$", re.M)


def _load(root: Path, kind: str, cat: str) -> list[dict]:
    return read_records(root / kind / f"{cat}.jsonl")


@pytest.fixture(scope="module")
def default_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    synthesize(root)
    return root


@pytest.fixture(scope="module")
def data(default_dir: Path) -> dict[str, dict[str, list[dict]]]:
    return {k: {c: _load(default_dir, k, c) for c in CATEGORIES} for k in KINDS}


def _example(rec: dict) -> tuple:
    """What makes an SFT example distinct: its (possibly cut) solution and its critique."""
    return rec["q_id"], rec["cot_id"], len(rec["cot"]), rec["critique"]


# --------------------------------------------------------------------------- schemas and layout
def test_layout_and_schemas(default_dir: Path, data: dict) -> None:
    for kind in KINDS:
        for cat in CATEGORIES:
            path = default_dir / kind / f"{cat}.jsonl"
            records = load_records(default_dir / kind, cat, SCHEMA.get(kind, kind))  # validates
            assert records == data[kind][cat]
            assert records, path
            keys = {
                "train": {"q_id", "question", "cot_id", "cot", "labels", "parsed_answer", "answer"},
                "train_gORM": {"q_id", "question", "cot_id", "cot", "critique", "labels"},
                "train_gPRM": {"q_id", "question", "cot_id", "cot", "critique", "labels"},
                "generated_gPRM": {
                    "q_id",
                    "question",
                    "cot_id",
                    "cot",
                    "labels",
                    "parsed_answer",
                    "answer",
                    "critique",
                },
                "test": {"q_id", "question", "cot_ids", "cots", "parsed_answers", "answer"},
            }[kind]
            assert all(set(r) == keys for r in records), (kind, cat)
    summary = json.loads((default_dir / SYNTH_SUMMARY).read_text())
    assert summary["test_cots"] == 16 and set(summary["categories"]) == set(CATEGORIES)
    # exactly what the workflow's synth rule declares (rules/data.smk reads the same names)
    assert sorted(p.name for p in default_dir.iterdir()) == sorted([*SYNTH_KINDS, SYNTH_SUMMARY])


def test_default_sizes_and_ids(data: dict) -> None:
    for cat in CATEGORIES:
        test = data["test"][cat]
        assert len(test) == 8
        assert len({r["q_id"] for r in test}) == 8
        assert all(r["cot_ids"] == list(range(16)) and len(r["cots"]) == 16 for r in test)
        assert all(isinstance(r["q_id"], int) and r["q_id"] >= TEST_QID_OFFSET for r in test)
        train = data["train"][cat]
        assert len(train) == 24 * 4
        pairs = [(r["q_id"], r["cot_id"]) for r in train]
        assert len(set(pairs)) == len(pairs)
        assert len({r["q_id"] for r in train}) == 24
        # train and test questions are different questions
        assert not {r["question"] for r in train} & {r["question"] for r in test}


def test_questions_are_multiple_choice(data: dict) -> None:
    for cat in CATEGORIES:
        for rec in data["test"][cat] + data["train"][cat]:
            options = OPTION.findall(rec["question"])
            assert [L for L, _ in options] == list(LETTERS)
            assert "\nOptions:\n" in rec["question"]
            assert len({v for _, v in options}) == 10
            assert rec["answer"] in LETTERS


def test_templates_cover_every_domain() -> None:
    assert tuple(TEMPLATES) == CATEGORIES
    stems = [t.stem for ts in TEMPLATES.values() for t in ts]
    assert len(set(stems)) == len(stems) and all(len(ts) >= 3 for ts in TEMPLATES.values())
    for cat, templates in TEMPLATES.items():
        for i, template in enumerate(templates):
            for j in range(20):
                prob = make_problem(cat, random.Random(f"{i}/{j}"), template)
                assert len(set(prob.options)) == 10 and min(prob.options) > 0
                assert prob.options[LETTERS.index(prob.answer)] == prob.correct.final
                assert prob.systematic.final != prob.correct.final
                assert prob.question.isascii() and not CJK.search(prob.question)


# --------------------------------------------------------------------------- determinism
def _bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jsonl"))}


def test_same_bytes_twice(default_dir: Path, tmp_path: Path) -> None:
    synthesize(tmp_path)
    assert _bytes(tmp_path) == _bytes(default_dir)
    other = tmp_path / "seed7"
    synthesize(other, seed=7, category="law", kinds=["test"])
    assert (other / "test/law.jsonl").read_bytes() != (default_dir / "test/law.jsonl").read_bytes()


def test_independent_of_category_and_kind_selection(default_dir: Path, tmp_path: Path) -> None:
    synthesize(tmp_path / "a", category="math,law")
    synthesize(tmp_path / "b", category="chemistry", kinds=["train_gPRM", "test"])
    for cat in ("math", "law"):
        for kind in KINDS:
            assert (tmp_path / "a" / kind / f"{cat}.jsonl").read_bytes() == (
                default_dir / kind / f"{cat}.jsonl"
            ).read_bytes()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["synth.json", "test", "train_gPRM"]
    for kind in ("train_gPRM", "test"):
        assert (tmp_path / "b" / kind / "chemistry.jsonl").read_bytes() == (
            default_dir / kind / "chemistry.jsonl"
        ).read_bytes()


def test_prefix_stable_across_sizes() -> None:
    small = make_test_records(42, "health", 3, 4)
    large = make_test_records(42, "health", 5, 16)
    for s, big in zip(small, large, strict=False):
        assert s["question"] == big["question"] and s["cots"] == big["cots"][:4]


# --------------------------------------------------------------------------- label logic
def _first_bad_step(question: str, steps: list[str]) -> int | None:
    """Recheck a CoT from its text: wrong operator, wrong arithmetic or wrong/absent option."""
    options = dict(OPTION.findall(question))
    for i, step in enumerate(steps):
        m = COMPUTATION.search(step)
        if m:
            word, a, op, b, c = m[1], int(m[2]), m[3], int(m[4]), int(m[5])
            value = a + b if op == "+" else a - b if op == "-" else a * b
            if OPS[op] != word or value != c:
                return i
            continue
        if step == GIVE_UP:
            return i
        ans = ANSWER_STEP.search(step)
        assert ans, step
        if options.get(ans[2]) != ans[1]:
            return i
    return None


def _check_cot(question: str, answer: str, steps: list[str], labels: list[int], parsed: str | None) -> None:
    assert steps and len(labels) == len(steps) and set(labels) <= {1, -1}
    first = labels.index(-1) if -1 in labels else None
    if first is not None:
        assert labels[first:] == [-1] * (len(labels) - first)  # -1 from the first wrong step on
        assert all(x == 1 for x in labels[:first])
    assert first == _first_bad_step(question, steps)
    assert parsed == parse_answer(steps)
    if parsed is not None:
        assert steps[-1].endswith(f"answer is ({parsed}).")
        assert (parsed == answer) == (first is None)  # a wrong step always gives a wrong answer
    else:
        assert "answer is" not in steps[-1]


def test_label_logic(data: dict) -> None:
    for cat in CATEGORIES:
        for r in data["train"][cat]:
            _check_cot(r["question"], r["answer"], r["cot"], r["labels"], r["parsed_answer"])
        for r in data["test"][cat]:
            for cot, parsed in zip(r["cots"], r["parsed_answers"], strict=True):
                labels = [1] * len(cot)
                bad = _first_bad_step(r["question"], cot)
                if bad is not None:
                    labels[bad:] = [-1] * (len(cot) - bad)
                _check_cot(r["question"], r["answer"], cot, labels, parsed)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), cat=st.sampled_from(CATEGORIES))
def test_label_logic_any_seed(seed: int, cat: str) -> None:
    for r in make_train_records(seed, cat, 3, 6):
        _check_cot(r["question"], r["answer"], r["cot"], r["labels"], r["parsed_answer"])


def test_answer_anomalies_exist(data: dict) -> None:
    parsed = [a for c in CATEGORIES for r in data["test"][c] for a in r["parsed_answers"]]
    assert 0 < parsed.count(None) < 0.1 * len(parsed)
    assert any(a is not None and a not in LETTERS for a in parsed)  # off-alphabet answers occur
    questions_with_none = sum(None in r["parsed_answers"] for c in CATEGORIES for r in data["test"][c])
    assert questions_with_none >= 5
    train = [r for c in CATEGORIES for r in data["train"][c]]
    assert any(r["parsed_answer"] is None for r in train)


def test_wrong_cots_hesitate_more(data: dict) -> None:
    hesitant = {True: [], False: []}
    for cat in CATEGORIES:
        for r in data["test"][cat]:
            for cot, parsed in zip(r["cots"], r["parsed_answers"], strict=True):
                if parsed is not None:
                    hesitant[parsed == r["answer"]].append(cot[-1].startswith(HEDGES))
    rate = {right: sum(v) / len(v) for right, v in hesitant.items()}
    for right, p in P_HESITATE.items():  # binomial: within 4 standard errors of the set rate
        assert abs(rate[right] - p) < 4 * (p * (1 - p) / len(hesitant[right])) ** 0.5
    assert rate[False] > 3 * rate[True]


# --------------------------------------------------------------------------- difficulty and voting
def test_systematic_errors_fool_majority_vote(data: dict) -> None:
    tests = [r for c in CATEGORIES for r in data["test"][c]]
    stats = voting_stats(tests)
    # recompute the headline numbers independently
    cot_acc = sum(a == r["answer"] for r in tests for a in r["parsed_answers"]) / (len(tests) * 16)
    assert stats["cot_accuracy"] == pytest.approx(cot_acc)
    assert 0.3 < stats["cot_accuracy"] < 0.6
    assert stats["majority_vote"] < stats["pass"] - 0.15
    assert stats["cot_accuracy"] < stats["majority_vote"]
    assert 0.85 < stats["pass"] < 1.0  # some questions are never solved
    fooled = [r for r in tests if plurality(r["parsed_answers"]) != r["answer"].lower()]
    assert len(fooled) >= 0.15 * len(tests)
    for r in fooled[:20]:
        top, n = Counter(a for a in r["parsed_answers"] if a).most_common(1)[0]
        assert n >= 3 and top != r["answer"]  # the same wrong option recurs


def test_stats_in_summary(default_dir: Path, data: dict) -> None:
    summary = json.loads((default_dir / "synth.json").read_text())
    for cat in CATEGORIES:
        assert summary["categories"][cat]["test"] == pytest.approx(voting_stats(data["test"][cat]))


# --------------------------------------------------------------------------- critiques
def _cut_orm(raw: str) -> str:
    m = ORM_RE.search(raw)
    assert m, raw
    return raw[: m.end()]


def _cut_prm(raw: str) -> str:
    last = list(PRM_STEP_RE.finditer(raw))[-1]
    return raw[: last.end()]


def _judgements(critique: str) -> list[int]:
    return [1 if w == "correct" else -1 for w in PRM_STEP_RE.findall(critique)]


def test_gorm_critiques(data: dict) -> None:
    for cat in CATEGORIES:
        train = {(r["q_id"], r["cot_id"]): r for r in data["train"][cat]}
        recs = data["train_gORM"][cat]
        assert len(set(map(_example, recs))) == len(recs)
        assert sum(r["labels"] == 1 for r in recs) * 2 == len(recs)  # balanced
        for r in recs:
            src = train[(r["q_id"], r["cot_id"])]
            c = r["critique"]
            assert c.startswith("<think>\nLet's verify step by step:")
            assert c.count("</think>") == 1 and c.count("<think>") == 1
            assert len(ORM_RE.findall(c)) == 1 and c.endswith(ORM_RE.findall(c)[0])
            assert ORM_RE.search(c).start() > c.index("</think>")
            assert (ORM_RE.findall(c)[0] == "Yes") == (r["labels"] == 1)
            assert r["labels"] == gold_outcome(src)
            assert r["cot"] == src["cot"] and r["question"] == src["question"]
            assert PRM_FINAL_RE.search(c) is None and PRM_STEP_RE.search(c) is None
            assert not CJK.search(c) and c.isascii()


def test_gprm_critiques(data: dict) -> None:
    for cat in CATEGORIES:
        train = {(r["q_id"], r["cot_id"]): r for r in data["train"][cat]}
        recs = data["train_gPRM"][cat]
        assert len(set(map(_example, recs))) == len(recs)
        assert sum(-1 not in r["labels"] for r in recs) * 2 == len(recs)
        for r in recs:
            src = train[(r["q_id"], r["cot_id"])]
            c, labels = r["critique"], r["labels"]
            assert c.startswith(CRITIQUE_HEAD) and c.count("</think>") == 1
            assert c.index("</think>") < PRM_STEP_RE.search(c).start()
            finals = PRM_FINAL_RE.findall(c)
            assert finals == ["No" if -1 in labels else "Yes"]
            assert c.endswith(f"\n{PRM_VERDICT} {finals[0]}")
            assert _judgements(c) == labels
            # the gold judgements of the CoT, or the correct steps before its first error on their own
            assert labels == gold_steps(src) or labels == [1] * len(labels) == src["labels"][: len(labels)]
            # parsable: all +1 with exactly K entries, or +1s ending in one -1 within K
            k = len(r["cot"])
            assert (labels == [1] * k) or (labels[-1] == -1 and -1 not in labels[:-1] and len(labels) <= k)
            assert r["cot"] == src["cot"][: len(labels)]
            assert ORM_RE.search(c) is None and not CJK.search(c) and c.isascii()


def test_gprm_data_holds_incomplete_correct_solutions(data: dict) -> None:
    """Correct prefixes of wrong CoTs: a gPRM cannot tell right from wrong by where a solution ends."""
    recs = [r for c in CATEGORIES for r in data["train_gPRM"][c]]
    train = {(c, r["q_id"], r["cot_id"]): r for c in CATEGORIES for r in data["train"][c]}
    prefixes = [
        r for c in CATEGORIES for r in data["train_gPRM"][c] if -1 in train[c, r["q_id"], r["cot_id"]]["labels"]
        and -1 not in r["labels"]
    ]  # fmt: skip
    assert len(prefixes) > 0.1 * len(recs)
    ends_in_answer = [ANSWER_STEP.search(r["cot"][-1]) is not None for r in recs if -1 not in r["labels"]]
    assert 0 < sum(ends_in_answer) < len(ends_in_answer)


def test_gprm_data_is_balanced_within_whole_and_cut_solutions(data: dict) -> None:
    """How a solution ends (its answer or a step) says nothing of its verdict."""
    for cat in CATEGORIES:
        train = {(r["q_id"], r["cot_id"]): r for r in data["train"][cat]}
        for whole in (True, False):
            group = [
                r for r in data["train_gPRM"][cat] if (len(r["cot"]) == len(train[r["q_id"], r["cot_id"]]["cot"])) == whole
            ]  # fmt: skip
            assert sum(-1 in r["labels"] for r in group) * 2 == len(group), (cat, whole)


def test_critiques_state_their_finding_first(data: dict) -> None:
    symbol = {word: sym for sym, word in OPS.items()}
    for task in ("gORM", "gPRM"):
        for rec in data[f"train_{task}"]["math"]:
            finding = rec["critique"].split("\n")[2]
            if -1 in (rec["labels"] if task == "gPRM" else [rec["labels"]]):
                assert finding.startswith("One step is wrong: "), finding
                step = rec["cot"][rec["labels"].index(-1)] if task == "gPRM" else None
                m = COMPUTATION.search(step) if step else None
                if m and OPS[m[3]] != m[1]:  # an operator confusion: the step's word and its symbol
                    assert finding == f"One step is wrong: {m[1]} means {symbol[m[1]]}, not {m[3]}."
                elif m:  # an arithmetic slip
                    assert finding == "One step is wrong: its arithmetic is off."
            else:
                assert finding == "Every step checks out.", finding
            assert not re.search(r"\d", finding), finding  # nothing copied from the solution


def test_wrong_steps_hedge_more(data: dict) -> None:
    """A CoT's first wrong computation opens with a hedge far more often than a right one does."""
    hedged: dict[bool, list[bool]] = {True: [], False: []}
    for rec in (r for c in CATEGORIES for r in data["train"][c]):
        first = rec["labels"].index(-1) if -1 in rec["labels"] else None
        for i, step in enumerate(rec["cot"][:-1]):
            if first is None or i <= first:
                hedged[i == first].append(step.startswith(HEDGES))
    rate = {k: sum(v) / len(v) for k, v in hedged.items()}
    assert abs(rate[True] - P_HEDGE[True]) < 0.1 and rate[False] < 0.1, rate


def test_generated_gprm_judges_whole_solutions(data: dict) -> None:
    train = {(r["q_id"], r["cot_id"]): r for r in data["train"]["law"]}
    generated = data["generated_gPRM"]["law"]
    assert len(generated) == sum(1 for r in train.values() if r["labels"])
    for rec in generated:
        assert rec["cot"] == train[rec["q_id"], rec["cot_id"]]["cot"]  # not cut at the first error
        assert rec["critique"].startswith("\n") and rec["critique"].rstrip().endswith(("Yes", "No"))


@pytest.mark.parametrize("task", ["gORM", "gPRM"])
def test_teacher_completion_matches_preprocess(data: dict, task: str) -> None:
    """prefix + cut(raw completion) (+ the gPRM final line) is exactly the SFT critique."""
    train = [r for c in ("law", "physics", "other") for r in data["train"][c]]
    for n, rec in enumerate(train):
        gold = gold_outcome(rec) if task == "gORM" else gold_steps(rec)
        verdicts = [gold]
        if task == "gORM":
            verdicts.append(-gold)
        elif len(gold) > 1:
            verdicts.append(gold[:-1] if gold[-1] == -1 else gold[:-1] + [-1])
        for verdict in verdicts:
            for tail in ("", "\n\nI am confident in this grade."):
                raw = teacher_completion(rec, task, verdict, variant=n, tail=tail)
                assert raw.endswith(tail) and not raw.startswith("<think>")
                assert "Let's verify step by step:" not in raw
                assert raw.count("</think>") == 1 and not CJK.search(raw)
                expected = sft_critique(rec, task, verdict, variant=n)
                if task == "gORM":
                    assert expected == CRITIQUE_HEAD + _cut_orm(raw)
                    assert ORM_RE.search(raw)[1] == ("Yes" if verdict == 1 else "No")
                else:
                    final = f"\n{PRM_VERDICT} {'No' if -1 in verdict else 'Yes'}"
                    assert expected == CRITIQUE_HEAD + _cut_prm(raw) + final
                    assert _judgements(raw) == list(verdict)


def test_generated_records_validate(data: dict) -> None:
    train = data["train"]["economics"]
    for task in ("gORM", "gPRM"):
        verdicts = [gold_outcome(r) if task == "gORM" else gold_steps(r) for r in train]
        gen = [
            generated_record(r, task, v, variant=i)
            for i, (r, v) in enumerate(zip(train, verdicts, strict=True))
        ]
        validate_records("generated", gen, "generated")
        for i, (g, r, v) in enumerate(zip(gen, train, verdicts, strict=True)):
            assert g == {**r, "critique": teacher_completion(r, task, v, variant=i)}


def test_critiques_per_cot(tmp_path: Path) -> None:
    synthesize(tmp_path, category="biology", kinds=["train_gORM"], critiques_per_cot=3)
    recs = read_records(tmp_path / "train_gORM/biology.jsonl")
    validate_records("train_gORM", recs, "x")
    per_cot = Counter((r["q_id"], r["cot_id"]) for r in recs)
    assert max(per_cot.values()) > 1 and len(set(map(_example, recs))) == len(recs)
    assert sum(r["labels"] == 1 for r in recs) * 2 == len(recs)


def test_no_cjk_and_ascii_everywhere(default_dir: Path) -> None:
    for path in default_dir.rglob("*.json*"):
        text = path.read_text(encoding="utf-8")
        assert text.isascii() and not CJK.search(text), path


# --------------------------------------------------------------------------- CLI
def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["synth", "--output_dir", str(out), "--category", "law", "--kinds", "test,train"]
    assert main([*args, "--test_questions", "2", "--test_cots", "4", "--train_questions", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["synth.json", "test", "train"]
    test = read_records(out / "test/law.jsonl")
    assert len(test) == 2 and all(len(r["cots"]) == 4 for r in test)
    assert len(read_records(out / "train/law.jsonl")) == 4
    assert main(["synth", "--output_dir", str(out), "--kinds", "bogus"]) == 2
    assert "unknown kind 'bogus'" in capsys.readouterr().err
    assert main(["synth", "--output_dir", str(out), "--test_cots", "0"]) == 2
    assert main(["synth", "--output_dir", str(out), "--category", "astrology"]) == 2


def test_light_import() -> None:
    code = "import sys, rmflow.synth, rmflow.cli; assert not {'torch', 'transformers'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
