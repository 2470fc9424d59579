"""Verifiers learn: tiny dORM, dPRM, gORM and gPRM, trained briefly on synthetic data with a fixed seed,
score held-out CoTs whose answers are right clearly higher than those whose answers are wrong.

One small world (a few domains, a small backbone pre-trained on their training records) is built once;
each reward model is then trained from its tiny preset for a few steps, scores the held-out test set
(questions never seen in training) through the real CLI, and its aggregated scores must separate right
from wrong CoTs (AUROC) well above chance. A path that stops learning (labels misaligned, a score read
at the wrong token) fails here. The generative models' bound is an expected failure for now
(:data:`GENERATIVE_GAP`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tiny import torch_threads

from rmflow.cli import main
from rmflow.evaluation.scores import aggregate, flatten

pytestmark = pytest.mark.slow
CATS = "math,physics,business"
SYNTH = dict(seed=1, train_questions=64, train_cots=2, test_questions=16, test_cots=6)
BACKBONE = dict(
    seed=0,
    vocab_size=768,
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    num_kv_heads=2,
    intermediate_size=192,
    pretrain_steps=300,
    pretrain_batch_size=4,
    pretrain_seq_len=512,
)
#: optimiser steps of each reward model's brief training (the tiny presets otherwise)
STEPS = {"dORM": 60, "dPRM": 60, "gORM": 40, "gPRM": 40}
STRATEGY = {"dORM": "last", "dPRM": "min", "gORM": "mean", "gPRM": "mean"}
#: chance is 0.5; each model must clear this on the held-out CoTs
MIN_AUROC = 0.62


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from rmflow.backbone import build_backbone
    from rmflow.synth import synthesize

    root = tmp_path_factory.mktemp("learn")
    synthesize(root / "synth", category=CATS, **SYNTH)
    with torch_threads(1):
        build_backbone(root / "backbone", root / "synth", **BACKBONE)
    return root


def auroc(scores: np.ndarray, right: np.ndarray) -> float:
    """Mann-Whitney AUROC, ties counting half."""
    pos, neg = scores[right], scores[~right]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def held_out_auroc(world: Path, rewards: Path, strategy: str) -> float:
    scores, right = [], []
    for cat in CATS.split(","):
        test = {r["q_id"]: r for r in map(json.loads, (world / "synth" / "test" / f"{cat}.jsonl").open())}
        for rec in json.loads((rewards / f"{cat}_reward.json").read_text()):
            flat, lengths = flatten(rec["rewards"])
            scores.extend(aggregate(flat, lengths, strategy))
            q = test[rec["q_id"]]
            right.extend(q["parsed_answers"][c] == q["answer"] for c in rec["cot_ids"])
    return auroc(np.array(scores), np.array(right))


#: the generative verifiers do not learn reliably in a world this small (held-out AUROC about 0.54-0.57 here,
#: also with the default backbone's size; in the 14-domain default run gORM reaches 0.81, gPRM 0.54): their
#: cases run the whole path (SFT, sampled critiques, P(Yes) at the verdict) and a crash fails them, but the
#: AUROC bound is an expected failure until they do
GENERATIVE_GAP = pytest.mark.xfail(
    reason="gORM/gPRM do not learn reliably from three small domains", raises=AssertionError
)


@pytest.mark.parametrize(
    "task", ["dORM", "dPRM", pytest.param("gORM", marks=GENERATIVE_GAP), pytest.param("gPRM", marks=GENERATIVE_GAP)]
)
def test_verifier_separates_right_from_wrong(world, tmp_path, task):
    data = world / "synth" / ("train" if task[0] == "d" else f"train_{task}")
    ckpt, rewards = tmp_path / task, tmp_path / "rewards"
    common = ["--task_type", task, "--category", CATS]
    with torch_threads(1):
        assert (
            main(
                ["train", *common, "--config", f"{task}-tiny", "--model_id", str(world / "backbone")]
                + ["--data_path", str(data), "--output_dir", str(ckpt), "--max_steps", str(STEPS[task])]
            )
            == 0
        )
        scoring = ["--per_device_batch_size", "16"]
        if task[0] == "g":
            scoring += ["--backend", "transformers", "--n_samples", "2", "--max_tokens", "160"]
        assert (
            main(
                ["reward", *common, "--model_id", str(ckpt), "--data_path", str(world / "synth" / "test")]
                + ["--output_dir", str(rewards), *scoring]
            )
            == 0
        )
    value = held_out_auroc(world, rewards, STRATEGY[task])
    assert not math.isnan(value)
    assert value >= MIN_AUROC, f"{task}: AUROC {value:.3f} on held-out CoTs"
