"""Inputs longer than what a reward model can read or was trained on: limits and per-category counts."""

from __future__ import annotations

import json
import logging

import pytest
from test_generative_runner import ScriptedBackend, _stage, reward_argv, test_dir, tokenizer  # noqa: F401

from rmflow.generative.reward import RewardStage
from rmflow.generative.runner import execute
from rmflow.input_limits import long_inputs, long_inputs_warning, token_lengths, training_max_length


@pytest.mark.parametrize(
    "model_id, length",
    [
        ("dongboklee/dORM-14B", 650),
        ("dongboklee/dPRM-14B-4", 650),
        ("dongboklee/gORM-qwen", 1024),  # as published: cut at TRL's default
        ("dongboklee/gPRM-8B", 1024),
        ("dongboklee/gPRM-70B", None),
        ("someone/dORM-14B", None),
    ],
)
def test_training_max_length_of_published_checkpoints(model_id, length):
    assert training_max_length(model_id) == length


def test_training_max_length_of_trained_checkpoints(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "rmflow_train.json").write_text(
        json.dumps({"preset": "dORM-tiny", "settings": {"max_length": 650}})
    )
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "rmflow_train.json").write_text(
        json.dumps({"preset": "gORM-tiny", "settings": {"max_length": None}})
    )
    assert training_max_length(str(tmp_path / "d")) == 650
    assert training_max_length(str(tmp_path / "g")) is None  # trained without a cap
    assert training_max_length(str(tmp_path)) is None  # no record


def test_long_inputs_counts_each_known_limit():
    counts = long_inputs([10, 30, 50, 70], {"model context": 60, "training max_length": 25, "other": None})
    assert counts == {
        "inputs": 4,
        "longest": 70,
        "longer_than": {
            "model context": {"limit": 60, "count": 1},
            "training max_length": {"limit": 25, "count": 3},
        },
    }
    line = long_inputs_warning("CoTs", "law", counts)
    assert line.startswith("law: of 4 CoTs (the longest 70 tokens), 1 longer than the model context (60); ")
    assert "3 longer than the training max_length (25)" in line
    assert long_inputs_warning("CoTs", "law", long_inputs([10], {"model context": 60})) is None


def test_generative_reward_warns_per_category(tokenizer, test_dir, tmp_path, caplog):  # noqa: F811
    model = tmp_path / "ckpt"
    model.mkdir()
    (model / "rmflow_train.json").write_text(
        json.dumps({"preset": "gORM-tiny", "settings": {"max_length": 30}})
    )
    argv = reward_argv(test_dir, tmp_path / "rew", "--max_model_len", "60", "--max_tokens", "20")
    argv[argv.index("--model_id") + 1] = str(model)
    stage = _stage(RewardStage, ScriptedBackend(tokenizer), argv)
    with caplog.at_level(logging.WARNING, logger="rmflow.generative.reward"):
        execute(stage, ["law", "math"])
    meta = json.loads((tmp_path / "rew" / "reward_meta.json").read_text())
    for cat in ("law", "math"):
        lengths = token_lengths(tokenizer, stage.prompts(tokenizer, cat))
        expected = long_inputs(
            lengths, {"model context": 60, "model context less --max_tokens": 40, "training max_length": 30}
        )
        assert meta["long_prompts"][cat] == expected
        assert expected["longer_than"]["training max_length"]["count"] > 0
        (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{cat}: of ")]
        assert line == long_inputs_warning("prompts", cat, expected)


def test_discriminative_reward_warns_per_category(tiny_world, tmp_path, caplog, one_torch_thread):
    """dORM/dPRM scoring: CoT lengths as encoded for scoring, against the context and the training max_length."""
    import shutil

    from tiny import dprm_reward_args

    from rmflow.discriminative import reward
    from rmflow.discriminative.features import encode_cot, encoded_lengths
    from rmflow.io import read_records
    from rmflow.model_loading import load_tokenizer, resolve_checkpoint

    model = tmp_path / "ckpt"
    shutil.copytree(tiny_world / "backbone", model)
    (model / "rmflow_train.json").write_text(
        json.dumps({"preset": "dPRM-tiny", "settings": {"max_length": 60}})
    )
    args = dprm_reward_args(model, tiny_world / "synth" / "test", tmp_path / "out", category="law")
    with caplog.at_level(logging.WARNING, logger="rmflow.discriminative.reward"):
        reward.run(args)
    tok = load_tokenizer(resolve_checkpoint(str(model)))
    records = read_records(tiny_world / "synth" / "test" / "law.jsonl")
    cots = [(r["question"], cot) for r in records for cot in r["cots"]]
    lengths = encoded_lengths(tok, cots, batch=7)
    assert lengths == [len(encode_cot(tok, q, steps).input_ids) for q, steps in cots]
    context = json.loads((model / "config.json").read_text())["max_position_embeddings"]
    counts = long_inputs(lengths, {"model context": context, "training max_length": 60})
    assert counts["longer_than"]["training max_length"]["count"] > 0
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("law: of ")]
    assert line == long_inputs_warning("CoTs", "law", counts)
