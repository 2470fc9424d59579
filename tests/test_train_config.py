"""Typed training settings: every preset loads into its family's dataclass; an unknown or missing key is
one error naming the preset file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmflow.discriminative.train_config import DiscriminativeTrainingConfig
from rmflow.errors import UserError
from rmflow.generative.train_config import GenerativeTrainingConfig
from rmflow.presets import PRESET_DIR

FAMILY = {"d": DiscriminativeTrainingConfig, "g": GenerativeTrainingConfig}
FLAGS = {"model_id": "backbone", "data_path": "data"}


@pytest.mark.parametrize("path", sorted(PRESET_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_preset_loads_into_its_family_config(path: Path) -> None:
    task = path.stem.split("-")[0]
    cfg = FAMILY[task[0]].from_preset(str(path), None, FLAGS, task_type=task, seed=7)
    assert cfg.task_type == task and cfg.seed == cfg.data_seed == 7
    assert cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps == cfg.effective_batch_size
    assert cfg.warmup_steps == cfg.warmup_ratio and cfg.example_max_length == cfg.settings["max_length"]
    assert set(cfg.settings) <= set(FAMILY[task[0]].preset_fields())  # keys the dataclass declares


def test_flags_and_overrides_win() -> None:
    flags = {**FLAGS, "per_device_batch_size": 8, "max_steps": 3, "save_steps": None}
    cfg = DiscriminativeTrainingConfig.from_preset(
        "dORM-tiny", {"learning_rate": 0.5}, flags, task_type="dORM", seed=1
    )
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (8, 2)
    assert cfg.max_steps == 3 and cfg.save_steps == 50 and cfg.learning_rate == 0.5
    assert cfg.model_id == "backbone" and cfg.settings["per_device_batch_size"] == 8


def _preset(tmp_path: Path, drop: str | None = None, **extra) -> str:
    lines = (PRESET_DIR / "gORM-tiny.yaml").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not (drop and line.startswith(f"{drop}:"))]
    path = tmp_path / "mine.yaml"
    path.write_text("\n".join([*kept, *(f"{k}: {v}" for k, v in extra.items())]) + "\n", encoding="utf-8")
    return str(path)


def test_an_unknown_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = _preset(tmp_path, optim="adamw_torch")
    with pytest.raises(UserError, match=rf"{path}: key 'optim' is not a gORM training setting"):
        GenerativeTrainingConfig.from_preset(path, None, FLAGS, task_type="gORM", seed=1)
    with pytest.raises(UserError, match=r"key 'cpu_bf16' is not a gORM training setting"):  # dORM/dPRM only
        GenerativeTrainingConfig.from_preset(
            _preset(tmp_path, cpu_bf16="false"), None, FLAGS, task_type="gORM", seed=1
        )


def test_a_missing_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = _preset(tmp_path, drop="save_steps")
    with pytest.raises(UserError, match=rf"{path}: missing key 'save_steps'"):
        GenerativeTrainingConfig.from_preset(path, None, FLAGS, task_type="gORM", seed=1)


def test_the_preset_must_match_the_task_and_name_its_sources() -> None:
    with pytest.raises(UserError, match="is for gORM, not --task_type gPRM"):
        GenerativeTrainingConfig.from_preset("gORM-tiny", None, FLAGS, task_type="gPRM", seed=1)
    with pytest.raises(UserError, match="--model_id and --data_path are required"):
        GenerativeTrainingConfig.from_preset("gORM-tiny", None, None, task_type="gORM", seed=1)
