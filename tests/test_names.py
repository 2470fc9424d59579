"""Names spelled once: the config schema's lists and the rules agree with the package's."""

from __future__ import annotations

from pathlib import Path

import yaml

from rmflow import names
from rmflow.categories import CATEGORIES, EXTRA_SPLITS
from rmflow.config_checks import TRAIN_DATA
from rmflow.evaluation.scores import STRATEGIES
from rmflow.generative.backend_factory import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text(encoding="utf-8"))
MODEL = SCHEMA["properties"]["reward_models"]["additionalProperties"]


def test_schema_enums_are_the_package_lists() -> None:
    assert SCHEMA["properties"]["categories"]["oneOf"][1]["items"]["enum"] == [*CATEGORIES, *EXTRA_SPLITS]
    assert MODEL["properties"]["task_type"]["enum"] == list(names.TASK_TYPES)
    assert MODEL["if"]["properties"]["task_type"]["enum"] == list(names.DISCRIMINATIVE)
    assert MODEL["properties"]["strategy"]["enum"] == list(STRATEGIES)
    assert SCHEMA["definitions"]["backend"]["enum"] == [b for b in BACKENDS if b != "auto"]
    data = MODEL["properties"]["train"]["properties"]["data"]["enum"]
    assert set(data) == {d for usable in TRAIN_DATA.values() for d in usable}
    assert set(TRAIN_DATA) == set(names.TASK_TYPES)


def test_task_families_split_the_task_types() -> None:
    assert sorted(names.DISCRIMINATIVE + names.GENERATIVE) == sorted(names.TASK_TYPES)


def test_rules_take_the_names_from_the_package() -> None:
    rules = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "rules").glob("*.smk"))}
    restated = ['"best_of_n"', '"weighted_vote"', "ANALYSIS_TABLES =", "ANALYSIS_FIGURES =", r"[\w.-]"]
    for name, text in rules.items():
        for spelling in restated:
            assert spelling not in text, f"rules/{name} restates {spelling}"


def test_hub_ids() -> None:
    assert names.looks_like_hub_id("dongboklee/dORM-14B-test")
    assert not names.looks_like_hub_id("results/rewards/dORM/test")
    assert not names.looks_like_hub_id("-owner/name")
    assert names.reward_file("law") == "law_reward.json"
