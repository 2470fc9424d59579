"""Bad input to the light stages (evaluate, analyze, export, plot, synth, shorten): every fault is one clear
error naming file, record and field, exit status 2, no traceback, and earlier outputs stay byte for byte.

Each case starts from a valid world (a small synthetic test set, a reward set, train sets, an evaluation
CSV), breaks one thing, fills the stage's output directory with "earlier outputs" at the exact paths
the stage writes, runs the stage through ``rmflow.cli.main`` and checks message, status and digest.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rmflow.cli import main
from rmflow.io import read_records, write_jsonl
from rmflow.synth import synthesize

CATS = ("law", "math")


# --------------------------------------------------------------------------- the valid world
def make_pristine(root: Path) -> Path:
    """A valid world in ``root``: ``test/`` (JSON lists), ``rm/dORM/``, ``train*/`` (JSONL),
    ``tables/best_of_n.csv``."""
    synthesize(root / "synth", seed=7, category=",".join(CATS), train_questions=2, train_cots=2,
               test_questions=3, test_cots=4)  # fmt: skip
    for cat in CATS:
        test = read_records(root / "synth" / "test" / f"{cat}.jsonl")
        (root / "test").mkdir(exist_ok=True)
        (root / "test" / f"{cat}.json").write_text(json.dumps(test))
        rewards = [
            {"q_id": r["q_id"], "cot_ids": r["cot_ids"][::-1],
             "rewards": [[0.1 * (i % 9) + 0.05] * len(c) for i, c in enumerate(r["cots"][::-1])]}
            for r in test
        ]  # fmt: skip
        (root / "rm" / "dORM").mkdir(parents=True, exist_ok=True)
        (root / "rm" / "dORM" / f"{cat}_reward.json").write_text(json.dumps(rewards))
    for kind in ("train", "train_gORM", "train_gPRM"):
        shutil.copytree(root / "synth" / kind, root / kind)
    assert main([*EVALUATE_ARGS(root), "--output_dir", str(root / "tables")]) == 0
    return root


def copy_world(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the valid world for one test to break."""
    w = tmp_path / "w"
    shutil.copytree(pristine, w)
    return w


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_pristine(tmp_path_factory.mktemp("pristine"))


def EVALUATE_ARGS(w: Path) -> list[str]:  # noqa: N802 (a constant-like builder)
    return ["evaluate", "--data_path", str(w / "test"), "--reward_dirs", str(w / "rm" / "dORM"),
            "--model_names", "dORM", "--category", "law,math", "--num_runs", "2", "--Ns", "1", "2"]  # fmt: skip


@pytest.fixture
def world(pristine, tmp_path) -> Path:
    return copy_world(pristine, tmp_path)


# --------------------------------------------------------------------------- editing helpers
def edit_json(rel: str, fn: Callable[[list], object]) -> Callable[[Path], None]:
    """Mutation: load the JSON list at ``rel``, let ``fn`` change it in place, write it back."""

    def mutate(w: Path) -> None:
        path = w / rel
        if path.suffix == ".jsonl":
            records = [json.loads(line) for line in path.read_text().splitlines()]
        else:
            records = json.loads(path.read_text())
        fn(records)
        if path.suffix == ".jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
        else:
            path.write_text(json.dumps(records))

    return mutate


def edit_text(rel: str, fn: Callable[[str], str]) -> Callable[[Path], None]:
    def mutate(w: Path) -> None:
        path = w / rel
        path.write_text(fn(path.read_text()))

    return mutate


def edit_bytes(rel: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def mutate(w: Path) -> None:
        path = w / rel
        path.write_bytes(fn(path.read_bytes()))

    return mutate


def setitem(index: int, key: str, value: object) -> Callable[[list], None]:
    return lambda recs: recs[index].__setitem__(key, value)


def delitem(index: int, key: str) -> Callable[[list], None]:
    return lambda recs: recs[index].pop(key)


def first_reward(value: object) -> Callable[[list], None]:
    return lambda recs: recs[0]["rewards"][0].__setitem__(0, value)


def nothing(w: Path) -> None:
    return None


# --------------------------------------------------------------------------- stages
TEST, RW = "test/math.json", "rm/dORM/math_reward.json"  # the second category: law is already loaded


def evaluate(*extra: str) -> Callable[[Path], list[str]]:
    return lambda w: [*EVALUATE_ARGS(w), "--output_dir", str(w / "out"), *extra]


def analyze(*extra: str) -> Callable[[Path], list[str]]:
    return lambda w: ["analyze", *EVALUATE_ARGS(w)[1:], "--output_dir", str(w / "out"), "--bootstrap", "10",
                      "--plot_dir", str(w / "out" / "plots"), *extra]  # fmt: skip


def export(kind: str, source: str, category: str = "law,math") -> Callable[[Path], list[str]]:
    return lambda w: ["export", "--data_path", str(w / source), "--kind", kind,
                      "--output_dir", str(w / "out"), "--category", category]  # fmt: skip


def plot(*extra: str) -> Callable[[Path], list[str]]:
    return lambda w: ["plot", "--input_file", str(w / "tables" / "best_of_n.csv"),
                      "--output_file", str(w / "out" / "fig"), *extra]  # fmt: skip


def synth(*extra: str) -> Callable[[Path], list[str]]:
    return lambda w: ["synth", "--output_dir", str(w / "out"), "--category", "law", *extra]


def shorten(task: str) -> Callable[[Path], list[str]]:
    return lambda w: ["shorten", "--task_type", task, "--data_path", str(w / f"train_{task}"),
                      "--output_dir", str(w / "out"), "--category", "law,math"]  # fmt: skip


#: files each stage writes into its output directory ("earlier outputs" are planted there)
OUTPUTS = {
    "evaluate": ["best_of_n.csv", "weighted_vote.csv", "summary.json"],
    "analyze": ["verifier_metrics.csv", "plots/calibration.png"],
    "export": ["law.jsonl", "math.jsonl", "law_reward.json", "math_reward.json", "source.json"],
    "plot": ["fig.pdf", "fig.png", "fig_overall.pdf", "fig_overall.png", "fig_legend.pdf", "fig_legend.png"],
    "synth": ["test/law.jsonl", "train/law.jsonl", "synth.json"],
    "shorten": ["law.jsonl", "math.jsonl", "shorten_stats.json"],
}


@dataclass(frozen=True)
class Case:
    fault: str
    name: str
    mutate: Callable[[Path], None]
    argv: Callable[[Path], list[str]]
    message: str  # regex searched in stderr

    @property
    def stage(self) -> str:
        return self.argv(Path("/w"))[0]

    @property
    def id(self) -> str:
        return f"{self.fault}:{self.stage}:{self.name}"


def _drop_question(recs: list) -> None:
    recs.pop(0)


def _shift_q_ids(recs: list) -> None:
    for r in recs:
        r["q_id"] = f"other-{r['q_id']}"


def _more_cots(recs: list) -> None:
    for r in recs:
        r["cot_ids"].append(len(r["cot_ids"]))
        r["rewards"].append([0.5])


BIG_INT = int("9" * 400)  # beyond the float range
MATH_T, MATH_R = r"test/math\.json", r"rm/dORM/math_reward\.json"
CASES = [
    # ---- wrong types
    Case("wrong type", "answer int", edit_json(TEST, setitem(1, "answer", 3)), evaluate(),
         rf"{MATH_T}: record 1 \(q_id \d+\), field 'answer': expected a string, got int 3"),
    Case("wrong type", "cots a string", edit_json(TEST, setitem(0, "cots", "abc")), evaluate(),
         rf"{MATH_T}: record 0 \(q_id \d+\), field 'cots': expected a list of step lists"),
    Case("wrong type", "step not a string", edit_json(TEST, lambda r: r[2]["cots"][1].__setitem__(0, 7)),
         evaluate(), rf"{MATH_T}: record 2 \(q_id \d+\), field 'cots': .* but cots\[1\]\[0\] is int 7"),
    Case("wrong type", "cot_id string", edit_json(TEST, lambda r: r[0]["cot_ids"].__setitem__(2, "2")),
         evaluate(), r"field 'cot_ids': expected a list of ints, but cot_ids\[2\] is str '2'"),
    Case("wrong type", "q_id float", edit_json(TEST, setitem(0, "q_id", 1.5)), evaluate(),
         r"record 0 \(q_id 1\.5\), field 'q_id': expected an int or non-empty string"),
    Case("wrong type", "q_id bool", edit_json(RW, setitem(0, "q_id", True)), evaluate(),
         rf"{MATH_R}: record 0 \(q_id True\), field 'q_id'"),
    Case("wrong type", "parsed answer int", edit_json(TEST, lambda r: r[1]["parsed_answers"].__setitem__(3, 4)),
         evaluate(), r"field 'parsed_answers': expected a list, but parsed_answers\[3\] is int 4"),
    Case("wrong type", "reward string", edit_json(RW, first_reward("0.5")), evaluate(),
         rf"{MATH_R}: record 0 \(q_id \d+\), field 'rewards': .* but rewards\[0\]\[0\] is str '0.5'"),
    Case("wrong type", "reward bool", edit_json(RW, first_reward(True)), evaluate(),
         r"field 'rewards': .* but rewards\[0\]\[0\] is bool True"),
    Case("wrong type", "reward list not nested", edit_json(RW, lambda r: r[1]["rewards"].__setitem__(2, 0.3)),
         evaluate(), r"record 1 \(q_id \d+\), field 'rewards': .* but rewards\[2\] is float 0\.3"),
    Case("wrong type", "record not an object", edit_json(RW, lambda r: r.__setitem__(1, [1, 2])), evaluate(),
         rf"{MATH_R}: record 1: expected a JSON object, got list"),
    Case("wrong type", "top level object", edit_text(TEST, lambda t: '{"records": ' + t + "}"), evaluate(),
         rf"{MATH_T}: record \(top level\): expected a JSON list, got dict"),
    Case("wrong type", "gORM label a list", edit_json("train_gORM/math.jsonl", setitem(0, "labels", [1])),
         export("train_gORM", "train_gORM"), r"train_gORM/math\.jsonl: record 0 \(q_id \d+\), field 'labels': "
         r"expected \+1 or -1, got list \[1\]"),
    Case("wrong type", "gPRM label scalar", edit_json("train_gPRM/law.jsonl", setitem(1, "labels", -1)),
         export("train_gPRM", "train_gPRM"), r"train_gPRM/law\.jsonl: record 1 \(q_id \d+\), field 'labels': "
         r"expected a non-empty list of \+1/-1, got int -1"),
    Case("wrong type", "step label 0", edit_json("train/law.jsonl", lambda r: r[0]["labels"].__setitem__(0, 0)),
         export("train", "train"), r"train/law\.jsonl: record 0 \(q_id \d+\), field 'labels': .* but labels\[0\] is int 0"),
    Case("wrong type", "cot_id bool", edit_json("train/math.jsonl", setitem(2, "cot_id", False)),
         export("train", "train"), r"train/math\.jsonl: record 2 \(q_id \d+\), field 'cot_id': expected an int, got bool"),
    Case("wrong type", "critique null", edit_json("train_gORM/law.jsonl", setitem(0, "critique", None)),
         shorten("gORM"), r"train_gORM/law\.jsonl: record 0 \(q_id \d+\), field 'critique': expected a string"),
    # ---- missing fields
    Case("missing field", "answer", edit_json(TEST, delitem(2, "answer")), evaluate(),
         rf"{MATH_T}: record 2 \(q_id \d+\), field 'answer': missing"),
    Case("missing field", "cot_ids", edit_json(TEST, delitem(0, "cot_ids")), evaluate(),
         r"record 0 \(q_id \d+\), field 'cot_ids': missing"),
    Case("missing field", "rewards", edit_json(RW, delitem(1, "rewards")), evaluate(),
         rf"{MATH_R}: record 1 \(q_id \d+\), field 'rewards': missing"),
    Case("missing field", "reward q_id", edit_json(RW, delitem(0, "q_id")), evaluate(),
         rf"{MATH_R}: record 0, field 'q_id': missing"),
    Case("missing field", "question", edit_json("train/math.jsonl", delitem(1, "question")),
         export("train", "train"), r"train/math\.jsonl: record 1 \(q_id \d+\), field 'question': missing"),
    Case("missing field", "critique", edit_json("train_gPRM/math.jsonl", delitem(0, "critique")),
         shorten("gPRM"), r"train_gPRM/math\.jsonl: record 0 \(q_id \d+\), field 'critique': missing"),
    Case("missing field", "CSV column", edit_text("tables/best_of_n.csv", lambda t: t.replace("Overall_mean", "Overall")),
         plot(), r"best_of_n\.csv: missing column 'Overall_mean'"),
    # ---- empty categories
    Case("empty category", "test set", edit_text(TEST, lambda t: "[]"), evaluate(),
         rf"{MATH_T}: category math has no questions"),
    Case("empty category", "reward set", edit_text(RW, lambda t: "[]"), evaluate(),
         r"reward model dORM \(.*\), category math: no reward for test CoT q_id \d+, cot_id \d+"),
    Case("empty category", "empty file", edit_text(TEST, lambda t: ""), evaluate(),
         rf"{MATH_T}: record at line 1 column 1: invalid JSON"),
    Case("empty category", "question without CoTs",
         edit_json(TEST, lambda r: r[1].update(cot_ids=[], cots=[], parsed_answers=[])), evaluate(),
         r"category math, q_id \d+ has no CoTs"),
    Case("empty category", "train set", edit_text("train/math.jsonl", lambda t: "\n"), export("train", "train"),
         r"train/math\.jsonl: category math has no records"),
    Case("empty category", "gORM set", edit_text("train_gORM/law.jsonl", lambda t: ""), shorten("gORM"),
         r"train_gORM/law\.jsonl: category law has no records"),
    Case("empty category", "CSV rows", edit_text("tables/best_of_n.csv", lambda t: t.splitlines()[0] + "\n"),
         plot(), r"best_of_n\.csv: no data rows"),
    # ---- NaN / inf / null (NaN and null are valid rewards: see test_nan_and_null_rewards_count_as_half)
    Case("inf reward", "Infinity", edit_json(RW, first_reward(math.inf)), evaluate(),
         r"field 'rewards': expected a list of lists of finite numbers, NaN or null, but rewards\[0\]\[0\] is float inf"),
    Case("inf reward", "-Infinity", edit_json(RW, lambda r: r[2]["rewards"][3].__setitem__(0, -math.inf)),
         evaluate(), r"record 2 \(q_id \d+\), field 'rewards': .* but rewards\[3\]\[0\] is float -inf"),
    Case("inf reward", "1e999 literal", edit_text(RW, lambda t: t.replace("0.05", "1e999", 1)), evaluate(),
         r"field 'rewards': .* is float inf"),
    Case("inf reward", "integer beyond float", edit_json(RW, first_reward(BIG_INT)), evaluate(),
         r"field 'rewards': .* but rewards\[0\]\[0\] is int 9999"),
    Case("inf reward", "analyze Infinity", edit_json(RW, first_reward(math.inf)), analyze(),
         r"field 'rewards': .* but rewards\[0\]\[0\] is float inf"),
    Case("inf reward", "CSV nan", edit_text("tables/best_of_n.csv", lambda t: re.sub(r"\n1,MV,[^,]+,", "\n1,MV,nan,", t, count=1)),
         plot(), r"best_of_n\.csv: row 2, column 'Overall_mean': expected a finite number, got 'nan'"),
    Case("inf reward", "CSV inf", edit_text("tables/best_of_n.csv", lambda t: re.sub(r"\n2,MV,[^,]+,", "\n2,MV,inf,", t, count=1)),
         plot(), r"row 5, column 'Overall_mean': expected a finite number, got 'inf'"),
    # ---- mismatched cot_ids
    Case("mismatched cot_ids", "unknown cot_id", edit_json(RW, lambda r: r[1]["cot_ids"].__setitem__(0, 99)),
         evaluate(), r"reward model dORM \(.*\), category math: reward for q_id \d+, cot_id 99 but the test set has no such CoT"),
    Case("mismatched cot_ids", "missing CoT",
         edit_json(RW, lambda r: r[0].update(cot_ids=r[0]["cot_ids"][1:], rewards=r[0]["rewards"][1:])),
         evaluate(), r"category math: no reward for test CoT q_id \d+, cot_id \d+"),
    Case("mismatched cot_ids", "lengths differ", edit_json(RW, lambda r: r[0]["rewards"].pop()), evaluate(),
         rf"{MATH_R}: record 0 \(q_id \d+\), field 'rewards': lengths differ: \{{'cot_ids': 4, 'rewards': 3\}}"),
    Case("mismatched cot_ids", "duplicate cot_id", edit_json(RW, lambda r: r[0]["cot_ids"].__setitem__(1, r[0]["cot_ids"][0])),
         evaluate(), rf"{MATH_R}: record 0 \(q_id \d+\), field 'cot_ids': duplicate cot_id"),
    Case("mismatched cot_ids", "test lists differ", edit_json(TEST, lambda r: r[2]["parsed_answers"].pop()),
         evaluate(), rf"{MATH_T}: record 2 \(q_id \d+\), field 'cots': lengths differ"),
    # ---- duplicate q_ids
    Case("duplicate q_id", "test", edit_json(TEST, lambda r: r[2].__setitem__("q_id", r[0]["q_id"])), evaluate(),
         rf"{MATH_T}: record 2, field 'q_id': duplicate q_id \d+"),
    Case("duplicate q_id", "reward", edit_json(RW, lambda r: r[1].__setitem__("q_id", r[0]["q_id"])), evaluate(),
         rf"{MATH_R}: record 1, field 'q_id': duplicate q_id \d+"),
    Case("duplicate q_id", "CSV row", edit_text("tables/best_of_n.csv", lambda t: t + t.splitlines()[1] + "\n"),
         plot(), r"best_of_n\.csv: row 8: duplicate row for N=1, method 'MV'"),
    # ---- unknown categories
    Case("unknown category", "evaluate", nothing, evaluate("--category", "law,cooking"),
         r"unknown category 'cooking'; expected 'all' or names from law, psychology"),
    Case("unknown category", "export", nothing, export("test", "test", "cooking"), r"unknown category 'cooking'"),
    Case("unknown category", "synth", nothing, synth("--category", "astrology"), r"unknown category 'astrology'"),
    Case("unknown category", "no file", nothing, evaluate("--category", "law,health"),
         r"test: no file for category 'health' \(expected health\.json or \.jsonl\)"),
    Case("unknown category", "no reward file", lambda w: (w / RW).unlink(), evaluate(),
         r"rm/dORM: no file for category 'math' \(expected math_reward\.json or \.jsonl\)"),
    # ---- non-UTF-8 bytes
    Case("non-UTF-8", "test", edit_bytes(TEST, lambda b: b[:40] + b"\xff\xfe" + b[40:]), evaluate(),
         rf"{MATH_T}: record at byte 40: not valid UTF-8"),
    Case("non-UTF-8", "reward", edit_bytes(RW, lambda b: b[:25] + b"\xc3\x28" + b[25:]), evaluate(),
         rf"{MATH_R}: record at byte 25: not valid UTF-8"),
    Case("non-UTF-8", "train JSONL", edit_bytes("train/law.jsonl", lambda b: b"\x80" + b), export("train", "train"),
         r"train/law\.jsonl: record at byte 0: not valid UTF-8"),
    Case("non-UTF-8", "CSV", edit_bytes("tables/best_of_n.csv", lambda b: b.replace(b"MV", b"M\xe9", 1)), plot(),
         r"best_of_n\.csv: not valid UTF-8 \(at byte \d+\)"),
    Case("non-UTF-8", "analyze reward", edit_bytes(RW, lambda b: b"\xff" + b), analyze(),
         rf"{MATH_R}: record at byte 0: not valid UTF-8"),
    # ---- truncated JSON
    Case("truncated JSON", "test", edit_text(TEST, lambda t: t[: len(t) // 2]), evaluate(),
         rf"{MATH_T}: record at line 1 column \d+: invalid JSON"),
    Case("truncated JSON", "reward", edit_text(RW, lambda t: t[:-3]), evaluate(),
         rf"{MATH_R}: record at line 1 column \d+: invalid JSON"),
    Case("truncated JSON", "JSONL last line", edit_text("train/math.jsonl", lambda t: t[:-30]), export("train", "train"),
         r"train/math\.jsonl: record at line 4: invalid JSON"),
    Case("truncated JSON", "gPRM JSONL", edit_text("train_gPRM/law.jsonl", lambda t: t[:-10]), shorten("gPRM"),
         r"train_gPRM/law\.jsonl: record at line \d+: invalid JSON"),
    Case("truncated JSON", "CSV", edit_text("tables/best_of_n.csv", lambda t: t[:-25]), plot(),
         r"best_of_n\.csv: row 7: expected 8 fields"),
    Case("truncated JSON", "deep nesting", edit_text(RW, lambda t: "[" * 200_000 + "]" * 200_000), evaluate(),
         rf"{MATH_R}: record \(top level\): JSON nested too deeply"),
    # ---- a reward file for another test set
    Case("other test set", "other questions", edit_json(RW, _shift_q_ids), evaluate(),
         r"category math: reward for q_id 'other-\d+' \(cot_id \d+\) but the test set has no such question"),
    Case("other test set", "more CoTs per question", edit_json(RW, _more_cots), evaluate(),
         r"category math: reward for q_id \d+, cot_id 4 but the test set has no such CoT"),
    Case("other test set", "fewer questions", edit_json(RW, _drop_question), evaluate(),
         r"category math: no reward for test CoT q_id \d+, cot_id \d+"),
    Case("other test set", "analyze", edit_json(RW, _shift_q_ids), analyze(),
         r"category math: reward for q_id 'other-\d+' .* no such question"),
    # ---- bad flags
    Case("bad flag", "Ns zero", nothing, evaluate("--Ns", "0"), r"--Ns must be distinct positive integers"),
    Case("bad flag", "names vs dirs", nothing, evaluate("--model_names", "a", "b"),
         r"--model_names has 2 names for 1 --reward_dirs"),
    Case("bad flag", "missing data path", nothing, lambda w: [*evaluate()(w), "--data_path", str(w / "nope")],
         r"nope: neither an existing directory nor a Hugging Face hub id"),
    Case("bad flag", "synth sizes", nothing, synth("--test_cots", "0"), r"--test_cots must be >= 1, got 0"),
    Case("bad flag", "analyze bins", nothing, analyze("--ece_bins", "0"), r"--ece_bins must be at least 1, got 0"),
    Case("bad flag", "plot input is a directory", nothing,
         lambda w: ["plot", "--input_file", str(w / "tables"), "--output_file", str(w / "out" / "fig")],
         r"tables: cannot read: Is a directory"),
    Case("bad flag", "plot input missing", nothing,
         lambda w: ["plot", "--input_file", str(w / "nope.csv"), "--output_file", str(w / "out" / "fig")],
         r"nope\.csv: file not found"),
]  # fmt: skip


def plant_outputs(out: Path, stage: str) -> None:
    """Earlier outputs of ``stage`` at the exact paths it writes."""
    for rel in OUTPUTS[stage]:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"earlier output {rel}\n")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_error(case: Case, world: Path, capsys, tree_digest, assert_one_error):
    case.mutate(world)
    plant_outputs(world / "out", case.stage)
    before = tree_digest(world / "out")
    code = main(case.argv(world))  # any exception but a UserError escapes: a traceback fails the test
    err = capsys.readouterr().err
    assert code == 2, err
    assert_one_error(err, case.stage, case.message)
    assert tree_digest(world / "out") == before  # earlier outputs untouched, no temp files left


def test_fault_table_covers_every_fault_and_stage():
    faults = {c.fault for c in CASES}
    assert faults >= {"wrong type", "missing field", "empty category", "inf reward", "mismatched cot_ids",
                      "duplicate q_id", "unknown category", "non-UTF-8", "truncated JSON", "other test set"}  # fmt: skip
    assert {c.stage for c in CASES} == set(OUTPUTS)
    assert len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- valid edge cases
def test_nan_and_null_rewards_count_as_half(world: Path):
    """NaN and null are valid rewards (they score 0.5): same tables as writing 0.5."""

    def with_value(value: object) -> str:
        edit_json(RW, lambda r: r[0]["rewards"][1].__setitem__(0, value))(world)
        out = world / f"out_{value}"
        assert main([*evaluate()(world)[:-2], "--output_dir", str(out)]) == 0
        return (out / "best_of_n.csv").read_text() + (out / "weighted_vote.csv").read_text()

    half = with_value(0.5)
    assert with_value(math.nan) == half
    assert with_value(None) == half
    assert "NaN" in (world / RW).read_text() or "null" in (world / RW).read_text()


def test_bom_csv_and_jsonl_with_line_separators_are_read(world: Path, tmp_path):
    csv_path = world / "tables" / "best_of_n.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    assert main(plot()(world)) == 0 and (world / "out" / "fig.png").stat().st_size > 0
    # U+2028 / U+0085 inside strings are not line ends: a JSONL round trip keeps them
    recs = read_records(world / "train" / "law.jsonl")
    recs[0]["question"] += "\u2028 next\x85 line\u2029"
    write_jsonl(tmp_path / "t" / "law.jsonl", recs)
    assert read_records(tmp_path / "t" / "law.jsonl") == recs


def test_export_stages_every_category_before_replacing_anything(world: Path, tree_digest):
    """A bad second category leaves the first category's earlier export as it was (not re-exported)."""
    assert main(export("train", "train")(world)) == 0
    before = tree_digest(world / "out")
    edit_json("train/law.jsonl", lambda r: r[0].__setitem__("question", "changed"))(world)
    edit_json("train/math.jsonl", setitem(0, "cot", "not a list"))(world)
    assert main(export("train", "train")(world)) == 2
    assert tree_digest(world / "out") == before


# --------------------------------------------------------------------------- the real command
@pytest.mark.fault("traceback from the real command")
@pytest.mark.parametrize(
    "stage, mutate, message",
    [
        ("evaluate", edit_text(RW, lambda t: t[:-3]), r"math_reward\.json: record at line 1 column \d+: invalid JSON"),
        ("plot", edit_bytes("tables/best_of_n.csv", lambda b: b"\xff" + b), r"best_of_n\.csv: not valid UTF-8"),
        ("export", edit_json("train/math.jsonl", setitem(0, "labels", [2])), r"field 'labels'"),
    ],
)  # fmt: skip
def test_real_command_prints_one_line_and_no_traceback(
    world, stage, mutate, message, run_rmflow, tree_digest
):
    mutate(world)
    argv = {"evaluate": evaluate(), "plot": plot(), "export": export("train", "train")}[stage](world)
    plant_outputs(world / "out", stage)
    before = tree_digest(world / "out")
    proc = run_rmflow(*argv, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and re.search(message, errors[0]), proc.stderr
    assert tree_digest(world / "out") == before
