"""Ambiguous input: where a silent choice of one meaning used to be made, it is now one error line naming
file, record and field (or flag), exit status 2, no traceback, earlier outputs untouched: two files for one
category, a key given twice in a JSON record or a YAML preset, rewards outside [0, 1] from a model whose
scores are probabilities, a category named twice, an empty path, two model names that give one figure name,
a CSV column given twice. Then the provenance audit: a single edited record, or records that disagree about
an artifact, fail the audit loudly; a lineage forged consistently from the edit to the final outputs does
not (what the README's "Provenance" section says the audit cannot tell).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_audit import build_lineage
from test_reliability_inputs import (
    RW,
    TEST,
    analyze,
    copy_world,
    edit_json,
    edit_text,
    evaluate,
    export,
    make_pristine,
    plant_outputs,
    plot,
    shorten,
    synth,
)

from rmflow import audit as audit_mod
from rmflow import provenance as prov
from rmflow.cli import main


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_pristine(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def world(pristine, tmp_path) -> Path:
    return copy_world(pristine, tmp_path)


# --------------------------------------------------------------------------- mutations
def copy_as(src: str, dst: str, jsonl: bool = False) -> Callable[[Path], None]:
    """A second file for the same category: ``src`` copied to ``dst`` (as JSON lines if ``jsonl``)."""

    def mutate(w: Path) -> None:
        if jsonl:
            records = json.loads((w / src).read_text())
            (w / dst).write_text("".join(json.dumps(r) + "\n" for r in records))
        else:
            shutil.copy(w / src, w / dst)

    return mutate


def add_to_record(rel: str, index: int, text: str) -> Callable[[Path], None]:
    """Record ``index`` of the JSON(L) file ``rel`` gets the JSON member ``text`` at its end, as written."""

    def mutate(w: Path) -> None:
        path = w / rel
        jsonl = path.suffix == ".jsonl"
        records = (
            [json.loads(x) for x in path.read_text().splitlines()] if jsonl else json.loads(path.read_text())
        )
        texts = [json.dumps(r) for r in records]
        texts[index] = f"{texts[index][:-1]}, {text}}}"
        path.write_text("".join(t + "\n" for t in texts) if jsonl else "[" + ", ".join(texts) + "]")

    return mutate


def repeat_key(rel: str, index: int, key: str, value: object) -> Callable[[Path], None]:
    """Record ``index`` of the JSON(L) file ``rel`` gets ``key`` a second time, with ``value``."""
    return add_to_record(rel, index, f"{json.dumps(key)}: {json.dumps(value)}")


def reward_value(record: int, cot: int, step: int, value: float, rel: str = RW) -> Callable[[Path], None]:
    return edit_json(rel, lambda recs: recs[record]["rewards"][cot].__setitem__(step, value))


def rename_model(name: str) -> Callable[[Path], list[str]]:
    """evaluate with the reward set of ``rm/dORM`` named ``name``."""
    return lambda w: [*evaluate()(w), "--model_names", name, "--strategies", "last"]


def two_models(*names: str) -> Callable[[Path], list[str]]:
    """analyze with the ``rm/dORM`` reward set twice, under ``names``."""
    return lambda w: [*analyze()(w), "--reward_dirs", str(w / "rm/dORM"), str(w / "rm/dORM"), "--model_names",
                      *names, "--strategies", "last", "last"]  # fmt: skip


def preset(text: str) -> Callable[[Path], None]:
    return lambda w: (w / "preset.yaml").write_text(text)


def train_with_preset(w: Path) -> list[str]:
    return ["train", "--task_type", "dORM", "--config", str(w / "preset.yaml"), "--model_id", str(w / "none"),
            "--data_path", str(w / "train"), "--output_dir", str(w / "out"), "--category", "law"]  # fmt: skip


def nothing(w: Path) -> None:
    return None


# --------------------------------------------------------------------------- the case table
@dataclass(frozen=True)
class Case:
    fault: str
    name: str
    mutate: Callable[[Path], None]
    argv: Callable[[Path], list[str]]
    message: str  # regex searched in the error line

    @property
    def stage(self) -> str:
        return self.argv(Path("/w"))[0]

    @property
    def id(self) -> str:
        return f"{self.fault}:{self.stage}:{self.name}"


TWICE = r"given twice \(which value is meant is ambiguous\)"
PROBABILITIES = r"reward model {} is named as a {}, whose scores are probabilities"
CASES = [
    # ---- two files for one category
    Case("two files for a category", "test .json and .jsonl", copy_as(TEST, "test/math.jsonl", jsonl=True),
         evaluate(), r"/test: both math\.jsonl and math\.json hold category 'math'; which one is meant is ambiguous"),
    Case("two files for a category", "reward .json and .jsonl", copy_as(RW, "rm/dORM/math_reward.jsonl", jsonl=True),
         evaluate(), r"rm/dORM: both math_reward\.jsonl and math_reward\.json hold category 'math'"),
    Case("two files for a category", "reward _reward.json and .json", copy_as(RW, "rm/dORM/law.json"),
         analyze(), r"rm/dORM: both law_reward\.json and law\.json hold category 'law'"),
    Case("two files for a category", "train .jsonl and .json", copy_as("train/math.jsonl", "train/math.json"),
         export("train", "train"), r"/train: both math\.jsonl and math\.json hold category 'math'"),
    Case("two files for a category", "gORM set", copy_as("train_gORM/law.jsonl", "train_gORM/law.json"),
         shorten("gORM"), r"/train_gORM: both law\.jsonl and law\.json hold category 'law'"),
    Case("two files for a category", "export beside another format", lambda w: (w / "out").mkdir() or
         (w / "out" / "math.json").write_text("[]"), export("train", "train"),
         r"out/math\.json: already holds category 'math', so the exported math\.jsonl beside it would be ambiguous"),
    # ---- a key given twice in one JSON object (json keeps the last silently)
    Case("duplicate key (JSON)", "test answer", repeat_key(TEST, 1, "answer", "Z"), evaluate(),
         rf"test/math\.json: record 1 \(q_id \d+\), field 'answer': key 'answer' {TWICE}"),
    Case("duplicate key (JSON)", "rewards", repeat_key(RW, 2, "rewards", []), evaluate(),
         rf"rm/dORM/math_reward\.json: record 2 \(q_id \d+\), field 'rewards': key 'rewards' {TWICE}"),
    Case("duplicate key (JSON)", "train labels", repeat_key("train/law.jsonl", 3, "labels", [1]), export("train", "train"),
         rf"train/law\.jsonl: record 3 \(q_id \d+\), field 'labels': key 'labels' {TWICE}"),
    Case("duplicate key (JSON)", "nested object", add_to_record(RW, 0, '"meta": {"model": "a", "model": "b"}'), analyze(),
         r"math_reward\.json: record 0 \(q_id \d+\), field 'meta': key 'model' given twice in meta"),
    Case("duplicate key (JSON)", "critique", repeat_key("train_gPRM/math.jsonl", 0, "critique", "other"), shorten("gPRM"),
         rf"train_gPRM/math\.jsonl: record 0 \(q_id \d+\), field 'critique': key 'critique' {TWICE}"),
    Case("duplicate key (YAML)", "preset", preset("task_type: dORM\nlora_r: 8\nlearning_rate: 1.0e-4\nlora_r: 16\n"),
         train_with_preset, r"preset\.yaml, line 4: key 'lora_r' given twice \(first at line 2\); YAML would silently"),
    Case("duplicate column (CSV)", "evaluation table", edit_text("tables/best_of_n.csv", lambda t: t.replace("math_mean", "law_mean", 1)),
         plot(), r"best_of_n\.csv: column 'law_mean' appears twice in the header"),
    # ---- rewards outside [0, 1] from a model whose scores are probabilities
    Case("reward outside [0, 1]", "dORM 3.5", reward_value(1, 2, 0, 3.5), evaluate(),
         r"math_reward\.json: record 1 \(q_id \d+\), field 'rewards': rewards\[2\]\[0\] is 3\.5, outside \[0, 1\]: "
         + PROBABILITIES.format("dORM", "dORM")),
    Case("reward outside [0, 1]", "dORM -0.2", reward_value(2, 1, 0, -0.2), analyze(),
         r"record 2 \(q_id \d+\), field 'rewards': rewards\[1\]\[0\] is -0\.2, outside \[0, 1\]"),
    Case("reward outside [0, 1]", "a logit from a gORM", reward_value(0, 3, 0, 7.25), rename_model("gORM-mine"),
         r"rewards\[3\]\[0\] is 7\.25, outside \[0, 1\]: " + PROBABILITIES.format("gORM-mine", "gORM")),
    Case("reward outside [0, 1]", "a percentage from a dPRM", reward_value(0, 0, 0, 55.0), rename_model("dPRM-x"),
         r"rewards\[0\]\[0\] is 55\.0, outside \[0, 1\]: " + PROBABILITIES.format("dPRM-x", "dPRM")),
    # ---- a category named twice (it would count twice in every macro average)
    *(Case("category named twice", "law twice", nothing, lambda w, s=stage: [*s(w), "--category", "law,math,law"],
           r"--category names 'law' twice \(it would count twice in Overall\)")
      for stage in (evaluate(), analyze(), export("train", "train"), shorten("gORM"), synth())),
    # ---- an empty path (it would read the current directory)
    Case("empty path", "--data_path ''", nothing, lambda w: [*evaluate()(w), "--data_path", ""],
         r"an empty path is not a source \(it would read the current directory\)"),
    Case("empty path", "--reward_dirs ''", nothing, lambda w: [*analyze()(w), "--reward_dirs", ""],
         r"an empty path is not a source"),
    # ---- two outputs under one name
    Case("one name for two outputs", "figure names", nothing, two_models("a/b", "a_b"),
         r"--model_names 'a/b' and 'a_b' give the same figure name length_a_b \(one would overwrite the other\)"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_ambiguous_input_is_one_clear_error(case: Case, world: Path, capsys, tree_digest, assert_one_error):
    case.mutate(world)
    if case.stage in ("evaluate", "analyze", "plot", "export", "synth", "shorten"):
        plant_outputs(world / "out", case.stage)
    before = tree_digest(world / "out")
    code = main(case.argv(world))  # any exception but a UserError escapes: a traceback fails the test
    err = capsys.readouterr().err
    assert code == 2, err
    assert_one_error(err, case.stage, case.message)
    assert tree_digest(world / "out") == before


def test_fault_table_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


def test_scores_on_another_scale_are_fine_under_another_name(world: Path):
    """A model not named as a dORM/dPRM/gORM/gPRM may score on any scale (logits here)."""
    reward_value(1, 2, 0, 3.5)(world)
    reward_value(2, 1, 0, -12.0)(world)
    assert main([*rename_model("my-verifier")(world), "--output_dir", str(world / "logits")]) == 0
    assert (world / "logits" / "best_of_n.csv").read_text().count("my-verifier") == 2


def test_a_single_file_per_category_and_escaped_text_still_read(world: Path):
    """The checks cost no valid input: a valid surrogate pair (an emoji escaped by an ASCII writer), keys
    repeated across records (not within one) and NaN rewards evaluate as before."""
    edit_json(TEST, lambda recs: recs[0].__setitem__("question", "<<pair>>"))(world)
    path = world / TEST
    path.write_text(path.read_text().replace("<<pair>>", "smile \\ud83d\\ude00"))
    reward_value(0, 0, 0, math.nan)(world)
    assert main([*evaluate()(world)[:-2], "--output_dir", str(world / "fine")]) == 0


# --------------------------------------------------------------------------- provenance records
@pytest.fixture
def lineage(tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    return build_lineage(tmp_path)


def reseal(record_file: Path, edit: Callable[[dict], None]) -> None:
    """Edit a provenance record and give it a matching ``record_sha256``, as a careful forger would."""
    rec = json.loads(record_file.read_text())
    edit(rec)
    rec["record_sha256"] = prov.record_hash(rec)
    record_file.write_text(json.dumps(rec, indent=2))


def audit_statuses(capsys) -> tuple[int, dict[str, str], str]:
    """``rmflow audit`` over every final output: exit status, status per artifact, printed report."""
    try:
        code = main(["audit"])
    except SystemExit as exc:
        code = int(exc.code)
    out = capsys.readouterr().out
    _, nodes = audit_mod.audit(audit_mod.default_targets(Path("results")))
    return code, {str(n.path.relative_to(Path.cwd().resolve())): n.status for n in nodes}, out


REWARDS, CSV = "results/rewards/dORM/test", "results/eval/best_of_n.csv"


@pytest.mark.fault("provenance record edited")
def test_an_edited_record_fails_on_its_own_hash(lineage, capsys):
    """params of the reward job changed by hand: the record no longer matches its record_sha256."""
    rec_file = prov.record_path(lineage["rewards"])
    rec = json.loads(rec_file.read_text())
    rec["params"]["scoring"]["n_samples"] = 10
    rec_file.write_text(json.dumps(rec, indent=2))
    code, statuses, out = audit_statuses(capsys)
    assert code == 1
    assert statuses[REWARDS] == "inconsistent"
    assert statuses[CSV] == "inconsistent"  # made from the record as it was: the chain shows it too
    assert (
        "its provenance record test.prov.json was edited (its content no longer matches its record_sha256)"
        in out
    )
    assert "upstream results/rewards/dORM/test is inconsistent" in out


@pytest.mark.fault("provenance record edited")
def test_a_resealed_record_fails_in_its_consumers_record(lineage, capsys):
    """The same edit with a recomputed record_sha256: the evaluation's record chained the old record."""
    reseal(prov.record_path(lineage["rewards"]), lambda r: r["params"]["scoring"].update(n_samples=10))
    code, statuses, out = audit_statuses(capsys)
    assert code == 1
    assert statuses[REWARDS] == "ok"  # on its own it is consistent ...
    assert statuses[CSV] == "inconsistent"  # ... but not the record chained into the evaluation's
    assert (
        "the provenance record of input results/rewards/dORM/test differs from the one chained into this"
        in out
    )


@pytest.mark.fault("records disagree about an artifact")
def test_records_that_disagree_about_an_artifact_fail(lineage, capsys):
    """The CSV changed, and the plot's record was resealed to list the new CSV as its input: the plot's
    record and the CSV's own record now disagree about the CSV."""
    csv = lineage["csv"]
    csv.write_text("N,Method\n1,MV\n1,dORM\n")
    new = prov.digest(csv)
    reseal(prov.record_path(lineage["plot"]), lambda r: r["inputs"].update({"../eval/best_of_n.csv": new}))
    code, statuses, out = audit_statuses(capsys)
    assert code == 1
    assert statuses[CSV] == "modified" and statuses["results/plots/best_of_n.pdf"] == "inconsistent"
    assert "its record lists input results/eval/best_of_n.csv with sha256" in out
    assert "the input's own record with" in out


@pytest.mark.fault("records disagree about an artifact")
def test_a_producer_record_resealed_with_another_output_hash_fails(lineage, capsys):
    """The reward job's record, resealed to list another hash for its output: the evaluation's record of
    that input disagrees with it, and its chain holds the old record."""
    rel = "test"  # the reward directory, relative to its record

    def edit(rec: dict) -> None:
        rec["outputs"][rel] = {**rec["outputs"][rel], "sha256": "0" * 64}

    reseal(prov.record_path(lineage["rewards"]), edit)
    code, statuses, out = audit_statuses(capsys)
    assert code == 1 and statuses[REWARDS] == "modified" and statuses[CSV] == "inconsistent"
    assert "its record lists input results/rewards/dORM/test with sha256" in out
    assert "the input's own record with 000000000000" in out


@pytest.mark.fault("provenance record edited")
def test_a_removed_record_fails_in_its_consumers_record(lineage, capsys):
    prov.record_path(lineage["rewards"]).unlink()
    code, statuses, out = audit_statuses(capsys)
    assert code == 1 and statuses[CSV] == "inconsistent"
    assert "the provenance record of input results/rewards/dORM/test is gone" in out


def test_a_lineage_forged_to_the_end_passes(lineage, capsys):
    """What the audit cannot tell: a reward file changed and every record from it to the final outputs
    written again (``rmflow provenance`` rerun without the jobs). No secret is involved, so whoever can
    write results/ can do this; the README says so."""
    (lineage["rewards"] / "law_reward.json").write_text('[{"q_id": 1, "cot_ids": [0], "rewards": [[0.9]]}]')
    assert audit_statuses(capsys)[0] == 1  # caught, until ...
    downstream = False
    for rule, params, inputs, outputs, started in lineage["jobs"]:
        downstream = downstream or lineage["rewards"] in outputs
        if downstream:  # the reward job and everything after it, in order
            prov.record(rule, params, inputs, outputs, started=started, resolve_hub=False)
    code, statuses, _ = audit_statuses(capsys)
    assert code == 0 and set(statuses.values()) == {"ok", "source"}
