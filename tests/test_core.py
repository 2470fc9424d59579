"""Shared infrastructure: categories, record I/O, dataset validation, presets, chunks, CLI errors."""

import json
import math

import pytest

from rmflow.categories import CATEGORIES, resolve_categories
from rmflow.chunks import ChunkStore, split
from rmflow.cli import main
from rmflow.data import load_records, validate_records
from rmflow.errors import RecordError, UserError
from rmflow.io import read_records, write_json, write_jsonl
from rmflow.presets import gradient_accumulation, load_preset, parse_overrides

TEST_REC = {
    "q_id": 1,
    "question": "Q",
    "cot_ids": [0, 1],
    "cots": [["a"], ["b", "c"]],
    "parsed_answers": ["A", None],
    "answer": "A",
}


def test_categories_order_and_resolution():
    assert len(CATEGORIES) == 14 and CATEGORIES[0] == "law" and CATEGORIES[-1] == "other"
    assert resolve_categories("all", "dongboklee/test") == list(CATEGORIES)
    assert resolve_categories("all", "dongboklee/GPQA-diamond_SmolLM3-3B_test") == ["test"]
    assert resolve_categories("law,math") == ["law", "math"]
    with pytest.raises(UserError, match="unknown category 'lawx'"):
        resolve_categories("lawx")


def test_read_records_errors_name_file_and_record(tmp_path):
    bad = tmp_path / "law.jsonl"
    bad.write_text('{"q_id": 1}\n{"q_id": \n')
    with pytest.raises(RecordError, match=r"law.jsonl: record at line 2"):
        read_records(bad)
    trunc = tmp_path / "x.json"
    trunc.write_text('[{"q_id": 1}, {"q_')
    with pytest.raises(RecordError, match="invalid JSON"):
        read_records(trunc)
    binary = tmp_path / "b.json"
    binary.write_bytes(b'[{"q": "\xff"}]')
    with pytest.raises(RecordError, match="not valid UTF-8"):
        read_records(binary)
    notlist = tmp_path / "n.json"
    notlist.write_text('{"a": 1}')
    with pytest.raises(RecordError, match="expected a JSON list"):
        read_records(notlist)


def test_nan_roundtrip(tmp_path):
    write_json(tmp_path / "r.json", [{"q_id": 1, "cot_ids": [0], "rewards": [[float("nan"), None, 0.5]]}])
    (rec,) = read_records(tmp_path / "r.json")
    assert math.isnan(rec["rewards"][0][0]) and rec["rewards"][0][1] is None


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"cot_ids": [0, "1"]}, "cot_ids"),
        ({"cots": [["a"], "b"]}, "cots"),
        ({"parsed_answers": ["A"]}, "cots"),
        ({"answer": None}, "answer"),
        ({"cot_ids": [0, 0]}, "cot_ids"),
    ],
)
def test_validate_test_records(patch, field):
    with pytest.raises(RecordError, match=f"field '{field}'"):
        validate_records("test", [{**TEST_REC, **patch}], "t.json")


def test_validate_missing_field_and_duplicates():
    rec = dict(TEST_REC)
    del rec["question"]
    with pytest.raises(RecordError, match="record 0 .*field 'question': missing"):
        validate_records("test", [rec], "t.json")
    with pytest.raises(RecordError, match="duplicate q_id 1"):
        validate_records("test", [TEST_REC, TEST_REC], "t.json")
    with pytest.raises(RecordError, match="rewards"):
        validate_records("reward", [{"q_id": 1, "cot_ids": [0], "rewards": [[float("inf")]]}], "r.json")


def test_load_records_local_prefers_jsonl(tmp_path):
    write_jsonl(tmp_path / "law.jsonl", [TEST_REC])
    assert load_records(tmp_path, "law", "test") == [TEST_REC]
    with pytest.raises(UserError, match="no file for category 'math'"):
        load_records(tmp_path, "math", "test")
    with pytest.raises(UserError, match="neither an existing directory nor a Hugging Face hub id"):
        load_records(tmp_path / "missing" / "deeper", "law", "test")


def test_export_cli_and_clean_error(tmp_path, capsys):
    src = tmp_path / "src"
    write_jsonl(src / "law.jsonl", [TEST_REC])
    write_jsonl(src / "math.jsonl", [{**TEST_REC, "cots": 5}])
    out = tmp_path / "out"
    assert (
        main(
            [
                "export",
                "--data_path",
                str(src),
                "--kind",
                "test",
                "--output_dir",
                str(out),
                "--category",
                "law",
            ]
        )
        == 0
    )
    assert json.loads((out / "source.json").read_text())["counts"] == {"law": 1}
    rc = main(
        [
            "export",
            "--data_path",
            str(src),
            "--kind",
            "test",
            "--output_dir",
            str(out),
            "--category",
            "law,math",
        ]
    )
    assert rc == 2
    assert "math.jsonl: record 0 (q_id 1), field 'cots'" in capsys.readouterr().err
    assert read_records(out / "law.jsonl") == [TEST_REC]  # earlier output intact


def test_presets(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("lora_r: 16\nlr: 1.0e-4\n")
    assert load_preset(str(p), parse_overrides(["lora_r=8"])) == {"lora_r": 8, "lr": 1e-4}
    with pytest.raises(UserError, match="unknown key 'lora_rank'"):
        load_preset(str(p), {"lora_rank": 8})
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_overrides(["oops"])
    assert gradient_accumulation(16, 4, 2) == 2
    with pytest.raises(UserError):
        gradient_accumulation(16, 3, 1)


@pytest.mark.fault("stale work reused")
def test_chunk_store_resume_and_fingerprint(tmp_path):
    assert [list(c) for c in split([1, 2, 3], 2)] == [[1, 2], [3]]
    store = ChunkStore(tmp_path / "w", "law", {"n": 1})
    store.save(0, [{"a": 1}])
    again = ChunkStore(tmp_path / "w", "law", {"n": 1})
    assert again.done(0) and not again.done(1)
    changed = ChunkStore(tmp_path / "w", "law", {"n": 2})
    assert not changed.done(0)
    changed.save(0, [1])
    changed.save(1, [2])
    assert changed.load_all(2) == [1, 2]
    changed.clear()
    assert not (tmp_path / "w").exists()
