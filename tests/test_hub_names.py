"""Published hub names (rmflow.hub_names): current names, old names as aliases in export and config
checks, and a config picking a published test set by name."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import ROOT, make_workspace, snakemake  # noqa: E402

from rmflow import data, export  # noqa: E402
from rmflow.config_checks import ConfigError, check_config, evaluated_set  # noqa: E402
from rmflow.hub_names import (  # noqa: E402
    OLD_NAMES,
    TEST_SETS,
    current_hub_id,
    published_test_id,
    reward_set_parts,
)

MMLU = "MMLU-Pro_Llama-3.1-8B-Instruct_test"


def paper() -> dict:
    return yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())


def test_published_test_sets():
    assert len(TEST_SETS) == 5 + 5 + 2 + 2 and len(set(TEST_SETS)) == len(TEST_SETS)
    assert "GPQA-diamond_Llama-3.1-70B-Instruct_test" in TEST_SETS
    assert "MedQA_gemma-2-9b-it_test" in TEST_SETS and "MedQA_Qwen2.5-7B-Instruct_test" not in TEST_SETS
    assert published_test_id("LEXam_SmolLM3-3B_test") == "dongboklee/LEXam_SmolLM3-3B_test"
    assert published_test_id("test_gemma") == "dongboklee/MMLU-Pro_gemma-2-9b-it_test"
    assert published_test_id("my_test") is None


@pytest.mark.parametrize(
    "old, current",
    [
        ("dongboklee/test", f"dongboklee/{MMLU}"),
        ("dongboklee/test_llama", "dongboklee/MMLU-Pro_Llama-3.1-70B-Instruct_test"),
        ("dongboklee/train", "dongboklee/MMLU-Pro_Llama-3.1-8B-Instruct_train"),
        ("dongboklee/train_gPRM", "dongboklee/MMLU-Pro_Llama-3.1-8B-Instruct_gPRM_train"),
        ("dongboklee/dORM-14B-test", f"dongboklee/dORM-14B-{MMLU}"),
        ("dongboklee/gPRM-qwen-test_smollm", "dongboklee/gPRM-qwen-MMLU-Pro_SmolLM3-3B_test"),
        # current names, checkpoints, other owners and directories stay as they are
        (f"dongboklee/gORM-8B-{MMLU}", f"dongboklee/gORM-8B-{MMLU}"),
        ("dongboklee/dORM-14B", "dongboklee/dORM-14B"),
        ("dongboklee/dORM-14B-2", "dongboklee/dORM-14B-2"),
        ("someone/test", "someone/test"),
        ("results/data/test", "results/data/test"),
    ],
)
def test_current_hub_id(old, current):
    assert current_hub_id(old) == current


def test_every_old_name_maps_to_a_current_one():
    for old, current in OLD_NAMES.items():
        assert current_hub_id(f"dongboklee/{old}") == f"dongboklee/{current}"
    assert reward_set_parts("dongboklee/dPRM-14B-3-test") == ("dPRM", "14B-3", MMLU)
    assert reward_set_parts("dongboklee/dPRM-14B") is None


def test_export_reads_the_current_name_of_an_old_one(tmp_path, monkeypatch):
    read: list[tuple[str, str]] = []

    def hub_records(source, category, revision):
        read.append((source, category))
        return [{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]]}]

    monkeypatch.setattr(data, "_hub_records", hub_records)
    monkeypatch.setattr(export, "resolve_revision", lambda source, revision: None)
    summary = export.export("dongboklee/dORM-14B-test", "reward", tmp_path / "out", "law")
    assert read == [(f"dongboklee/dORM-14B-{MMLU}", "law")]
    assert summary["source"] == "dongboklee/dORM-14B-test"
    assert summary["hub_id"] == f"dongboklee/dORM-14B-{MMLU}"
    assert json.loads((tmp_path / "out" / "source.json").read_text())["hub_id"] == summary["hub_id"]


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "name, source, expected",
    [
        (MMLU, None, MMLU),  # the paper config: a published name, no source
        ("test_qwen", None, "MMLU-Pro_Qwen2.5-7B-Instruct_test"),  # an old name
        ("test", "dongboklee/test", MMLU),  # the old pair
        ("mine", "dongboklee/MMLU-Pro_gemma-2-9b-it_test", "MMLU-Pro_gemma-2-9b-it_test"),  # own name
        ("GPQA-diamond_SmolLM3-3B_test", None, "GPQA-diamond_SmolLM3-3B_test"),
    ],
)
def test_config_picks_a_published_test_set(name, source, expected):
    config = paper()
    config["datasets"]["test"] = {"name": name, **({"source": source} if source else {})}
    check_config(config)
    assert evaluated_set(config) == expected
    assert config["datasets"]["test"]["source"] == (source or f"dongboklee/{expected}")


def _test(name, source=None):
    return lambda c: c["datasets"].update(test={"name": name, **({"source": source} if source else {})})


def _rewards(model, rewards):
    return lambda c: c["reward_models"][model].update(rewards=rewards)


CASES = [
    ("no source, unknown name", _test("my_test"), "datasets.test.source:", "'my_test' is not a published"),
    ("unknown published test", _test("t", "dongboklee/MMLU-Pro_SmolLM3-3B_tset"),
     "datasets.test.source:", "is not a published test set"),
    ("name and source disagree", _test("test_qwen", "dongboklee/test"),
     "datasets.test.name:", "is the published test set dongboklee/MMLU-Pro_Qwen2.5-7B-Instruct_test"),
    ("single split by source only", _test("gpqa", "dongboklee/GPQA-diamond_SmolLM3-3B_test"),
     "datasets.test.name:", "disagree on whether the set has the single split 'test'"),
    ("rewards of another test set", _rewards("dPRM-14B", "dongboklee/dPRM-14B-test_smollm"),
     "reward_models.dPRM-14B.rewards:", f"holds rewards of the test set MMLU-Pro_SmolLM3-3B_test, but the "
     f"test set evaluated is {MMLU}"),
    ("rewards of another task type", _rewards("dPRM-14B", "dongboklee/dORM-14B-{test}"),
     "reward_models.dPRM-14B.rewards:", "holds rewards of a dORM model, not of a dPRM model"),
    ("not a reward set", _rewards("gORM-14B", "dongboklee/gORM-14B"),
     "reward_models.gORM-14B.rewards:", "is not a published reward set"),
    ("replica of another test set", lambda c: c["analysis"].update(replicas={"dORM-14B": ["dongboklee/dORM-14B-test_qwen"]}),
     "analysis.replicas.dORM-14B[0]:", "holds rewards of the test set MMLU-Pro_Qwen2.5-7B-Instruct_test"),
    ("train set of another kind", lambda c: c["datasets"]["train"].update(source="dongboklee/train_gORM"),
     "datasets.train.source:", "is not the published train set"),
]  # fmt: skip


@pytest.mark.parametrize("name, edit, key, message", CASES, ids=[c[0] for c in CASES])
def test_check_names_the_key(name, edit, key, message):
    config = paper()
    edit(config)
    with pytest.raises(ConfigError) as info:
        check_config(copy.deepcopy(config))
    text = str(info.value)
    assert text.startswith(key) and message in text and "\n" not in text, text


def test_old_names_pass_the_checks():
    config = paper()
    config["datasets"]["test"] = {"name": "test", "source": "dongboklee/test"}
    for kind in ("train", "train_gORM", "train_gPRM"):
        config["datasets"][kind]["source"] = f"dongboklee/{kind}"
    config["reward_models"]["dORM-14B"]["rewards"] = "dongboklee/dORM-14B-test"
    check_config(config)


def test_dry_run_exports_the_published_sets_a_name_picks(tmp_path):
    """`datasets.test.name` alone picks a published set: the export and the reward ids follow it."""
    work = make_workspace(tmp_path)
    config = paper()
    config["datasets"]["test"] = {"name": "GPQA-diamond_SmolLM3-3B_test"}
    (work / "gpqa.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(work, "-n", "--profile", "profiles/default", "--configfile=gpqa.yaml").stdout
    assert "--data_path dongboklee/GPQA-diamond_SmolLM3-3B_test" in out
    assert "--data_path dongboklee/gPRM-14B-GPQA-diamond_SmolLM3-3B_test" in out
    assert "results/paper/rewards/dORM-14B/GPQA-diamond_SmolLM3-3B_test" in out
