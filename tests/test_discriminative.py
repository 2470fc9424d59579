"""dORM/dPRM on a very small backbone: head maths, scoring, training, checkpoints and the reward stage."""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tiny import dprm_reward_args, one_thread, tiny_backbone  # noqa: E402, F401

from rmflow import cli  # noqa: E402
from rmflow.backbone import build_backbone, write_mini_corpus  # noqa: E402
from rmflow.data import validate_records  # noqa: E402
from rmflow.discriminative import reward as reward_mod  # noqa: E402
from rmflow.discriminative import train as train_mod  # noqa: E402
from rmflow.discriminative.features import IGNORE, encode_cot, special_ids, training_example  # noqa: E402
from rmflow.discriminative.heads import (  # noqa: E402
    decoder_hidden,
    head_rows,
    two_way_logits,
    two_way_loss,
)
from rmflow.io import read_records  # noqa: E402

pytestmark = pytest.mark.slow
SIZES = tiny_backbone(pretrain_steps=8)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("disc")
    corpus = write_mini_corpus(root / "corpus", categories=("math", "law"), questions=6)
    build_backbone(root / "backbone", corpus, **SIZES)
    return root


@pytest.fixture(scope="module")
def base(world):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(world / "backbone").eval(), AutoTokenizer.from_pretrained(
        world / "backbone"
    )


def _cots(world: Path, n: int = 6) -> list[tuple[str, list[str]]]:
    recs = read_records(world / "corpus" / "test" / "math.jsonl")
    flat = [(r["question"], cot) for r in recs for cot in r["cots"]]
    # vary lengths: drop steps from some CoTs, add an empty one
    return [(q, steps[: 1 + i % 3]) for i, (q, steps) in enumerate(flat[:n])] + [(flat[0][0], [])]


def _full_logit_scores(model, tokenizer, question, steps) -> list[float]:
    """Reference: full-vocabulary logits of one unpadded sequence, softmax over the (-, +) entries."""
    ids = special_ids(tokenizer)
    enc = encode_cot(tokenizer, question, steps)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([enc.input_ids])).logits[0]
    two = logits[enc.tag_positions][:, [ids.negative, ids.positive]]
    return torch.softmax(two.double(), -1)[:, 1].tolist()


# --------------------------------------------------------------------------- head maths
def test_two_way_loss_equals_hand_computation():
    logits = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    targets = torch.tensor([1, 0, 0])
    # CE(l, y) = logsumexp(l) - l[y]
    hand = (math.log(1 + math.exp(-1.0)) + math.log(2.0) + math.log(1 + math.exp(-4.0))) / 3
    assert two_way_loss(logits, targets).item() == pytest.approx(hand, rel=1e-6)
    assert two_way_loss(logits[:0], targets[:0]).item() == 0.0


def test_two_row_projection_equals_full_logit_softmax(base):
    model, tok = base
    ids = special_ids(tok)
    x = torch.tensor(
        [
            tok("A question \n\n")["input_ids"]
            + tok("one step \n\n\n\n", add_special_tokens=False)["input_ids"]
        ]
    )
    mask = torch.ones_like(x)
    with torch.no_grad():
        hidden = decoder_hidden(model, x, mask)[0]
        full = model(input_ids=x).logits[0]
        weight, bias = head_rows(model, ids)
        two = two_way_logits(hidden, weight, bias)
    assert torch.allclose(two, full[:, [ids.negative, ids.positive]], atol=1e-5)
    assert torch.allclose(
        torch.softmax(two, -1), torch.softmax(full[:, [ids.negative, ids.positive]], -1), atol=1e-6
    )


def test_scores_batched_equal_single_and_full_logits(world, base):
    model, tok = base
    cots = _cots(world)
    single = reward_mod.score_cots(model, tok, cots, batch_size=1)
    batched = reward_mod.score_cots(model, tok, cots, batch_size=4)
    assert [len(s) for s in single] == [len(steps) for _, steps in cots]
    assert single[-1] == []
    for a, b in zip(single, batched, strict=True):
        assert a == pytest.approx(b, abs=1e-5)
    for (q, steps), got in zip(cots, batched, strict=True):
        assert got == pytest.approx(_full_logit_scores(model, tok, q, steps), abs=1e-5)


def test_training_and_scoring_read_the_same_positions(world, base):
    """The labelled positions of a training example are the tags the scorer reads, token for token."""
    _, tok = base
    rec = read_records(world / "corpus" / "train" / "math.jsonl")[0]
    assert rec["labels"] == [1, 1, 1]
    enc = encode_cot(tok, rec["question"], rec["cot"])
    ex = training_example(tok, rec, "dPRM", 650)
    assert ex.input_ids == enc.input_ids
    assert [i for i, v in enumerate(ex.labels) if v != IGNORE] == enc.tag_positions
    ids = special_ids(tok)
    assert [enc.input_ids[p] for p in enc.tag_positions] == [ids.tag] * len(rec["cot"])
    # the text tokenised whole gives the same ids (the tag does not merge with its neighbours)
    from rmflow.prompts import discriminative_text

    assert tok(discriminative_text(rec["question"], rec["cot"]))["input_ids"] == enc.input_ids
    dorm = training_example(tok, rec, "dORM", 650)
    assert [i for i, v in enumerate(dorm.labels) if v != IGNORE] == enc.tag_positions[-1:]


# --------------------------------------------------------------------------- adapters
def _random_adapter(path: Path, base) -> object:
    """A LoRA adapter with non-zero (seeded) weights on the tiny base, saved with the tokenizer at ``path``."""
    from peft import LoraConfig, get_peft_model

    model, tok = base
    peft_model = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft_model.save_pretrained(path)
    tok.save_pretrained(path)
    return peft_model


def test_adapter_save_load_round_trip(tmp_path, world, base):
    model, tok = base
    peft_model = _random_adapter(tmp_path / "adapter", base)
    merged = copy.deepcopy(peft_model).merge_and_unload().eval()
    cots = _cots(world)
    expected = reward_mod.score_cots(merged, tok, cots, batch_size=3)
    loaded, loaded_tok = reward_mod.load_scorer(str(tmp_path / "adapter"))
    got = reward_mod.score_cots(loaded, loaded_tok, cots, batch_size=3)
    for a, b in zip(expected, got, strict=True):
        assert a == pytest.approx(b, abs=1e-6)
    assert got != reward_mod.score_cots(model, tok, cots, batch_size=3)  # the adapter changes scores


def test_lora_scoring_as_published_and_the_merged_speed_option(tmp_path, world, base):
    """By default a LoRA checkpoint scores as the published rewards were made: float32 weights, the adapter
    unmerged, the same scores as the full-logit forward of that model. ``--lora merged`` in bfloat16 (the
    speed option) gives a plain model whose scores differ a little (config/README.md: the measured size)."""
    from peft import PeftModel

    _random_adapter(tmp_path / "adapter", base)
    model, tok = reward_mod.load_scorer(str(tmp_path / "adapter"))
    assert isinstance(model, PeftModel) and {p.dtype for p in model.parameters()} == {torch.float32}
    cots = _cots(world)
    published = reward_mod.score_cots(model, tok, cots, batch_size=3)
    for (question, steps), scores in zip(cots, published, strict=True):
        assert scores == pytest.approx(_full_logit_scores(model, tok, question, steps), abs=1e-6)
    fast, _ = reward_mod.load_scorer(str(tmp_path / "adapter"), dtype="bfloat16", lora="merged")
    assert not isinstance(fast, PeftModel) and {p.dtype for p in fast.parameters()} == {torch.bfloat16}
    merged = reward_mod.score_cots(fast, tok, cots, batch_size=3)
    diff = max(abs(a - b) for u, v in zip(published, merged, strict=True) for a, b in zip(u, v, strict=True))
    assert 0 < diff < 0.05
    assert reward_mod.resolve_dtype("auto") == torch.float32  # as published, GPU or not


# --------------------------------------------------------------------------- training
def _train_args(world: Path, task: str, out: Path, *sets: str) -> argparse.Namespace:
    return argparse.Namespace(
        config=f"{task}-tiny",
        set=["logging_steps=1", "save_steps=2", "gradient_checkpointing=false", *sets],
        task_type=task,
        model_id=str(world / "backbone"),
        data_path=str(world / "corpus" / "train"),
        per_device_batch_size=4,
        max_steps=None,
        save_steps=None,
        seed=42,
        category="math,law",
        revision=None,
        no_resume=False,
    )


def test_training_loss_falls_and_adapter_scores(tmp_path, world):
    out = tmp_path / "dprm"
    cfg = train_mod.resolve_settings(_train_args(world, "dPRM", out, "max_steps=12", "learning_rate=0.005"))
    summary = train_mod.train(cfg, out)
    losses = [h["loss"] for h in summary["loss_history"]]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    saved = json.loads((out / "rmflow_train.json").read_text())
    assert saved["task_type"] == "dPRM" and saved["final_loss"] == losses[-1]
    assert saved["data"]["math"]["kept"] == 24
    assert (out / "adapter_config.json").is_file() and not (out / "checkpoints").exists()
    model, tok = reward_mod.load_scorer(str(out))
    assert tok.pad_token_id is not None
    scores = reward_mod.score_cots(model, tok, _cots(world), batch_size=2)
    assert all(0.0 < p < 1.0 for s in scores for p in s)


def test_training_resumes_from_last_checkpoint(tmp_path, world, monkeypatch):
    from transformers import TrainerCallback

    out = tmp_path / "dorm"

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt("simulated kill")

    real = train_mod.make_trainer

    def crashing(*a, **kw):
        trainer, history = real(*a, **kw)
        trainer.add_callback(Crash())
        return trainer, history

    cfg = train_mod.resolve_settings(_train_args(world, "dORM", out, "max_steps=4"))
    monkeypatch.setattr(train_mod, "make_trainer", crashing)
    with pytest.raises(KeyboardInterrupt):
        train_mod.train(cfg, out)
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    assert not (out / "rmflow_train.json").exists()
    monkeypatch.setattr(train_mod, "make_trainer", real)
    summary = train_mod.train(cfg, out)
    assert summary["resumed_from"] == "checkpoint-2"
    assert summary["global_steps"] == 4
    assert [h["step"] for h in summary["loss_history"]] == [3, 4]


def test_preset_must_match_task_type(world, tmp_path):
    args = _train_args(world, "dORM", tmp_path)
    args.config = "dPRM-tiny"
    with pytest.raises(Exception, match="is for dPRM"):
        train_mod.resolve_settings(args)


# --------------------------------------------------------------------------- reward stage
def _reward_args(world: Path, model: Path, out: Path, **kw) -> argparse.Namespace:
    return dprm_reward_args(model, world / "corpus" / "test", out, **kw)


def test_reward_stage_writes_valid_files_and_resumes(tmp_path, world, monkeypatch):
    model_dir = world / "backbone"  # a full model directory (no adapter)
    ref = tmp_path / "ref"
    reward_mod.run(_reward_args(world, model_dir, ref))
    for cat in ("math", "law"):
        path = ref / f"{cat}_reward.json"
        recs = validate_records("reward", read_records(path), path)
        test = read_records(world / "corpus" / "test" / f"{cat}.jsonl")
        assert [r["q_id"] for r in recs] == [t["q_id"] for t in test]
        assert [r["cot_ids"] for r in recs] == [t["cot_ids"] for t in test]
        assert [[len(s) for s in r["rewards"]] for r in recs] == [[len(c) for c in t["cots"]] for t in test]
    assert not (ref / ".chunks").exists()

    # kill during the second chunk of math, then rerun: only the missing chunks are scored
    out = tmp_path / "out"
    real = reward_mod.score_records
    calls = []

    def dying(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated kill")
        return real(*a, **kw)

    monkeypatch.setattr(reward_mod, "score_records", dying)
    with pytest.raises(KeyboardInterrupt):
        reward_mod.run(_reward_args(world, model_dir, out))
    assert not (out / "math_reward.json").exists()
    calls.clear()
    monkeypatch.setattr(reward_mod, "score_records", lambda *a, **kw: (calls.append(1), real(*a, **kw))[1])
    reward_mod.run(_reward_args(world, model_dir, out))
    assert len(calls) == 2 + 3  # math: 3 chunks of 2 questions, 1 reused; law: 3
    for cat in ("math", "law"):
        assert (out / f"{cat}_reward.json").read_bytes() == (ref / f"{cat}_reward.json").read_bytes()
    # an existing reward file is not recomputed
    calls.clear()
    reward_mod.run(_reward_args(world, model_dir, out))
    assert calls == []


def test_cli_train_and_reward(tmp_path, world, capsys):
    pytest.importorskip("rmflow.generative.train")
    ckpt, rewards = tmp_path / "ckpt", tmp_path / "rewards"
    argv = ["train", "--task_type", "dORM", "--config", "dORM-tiny", "--model_id", str(world / "backbone")]
    argv += ["--data_path", str(world / "corpus" / "train"), "--output_dir", str(ckpt), "--category", "law"]
    argv += ["--per_device_batch_size", "8", "--max_steps", "2", "--set", "gradient_checkpointing=false"]
    assert cli.main(argv) == 0
    assert json.loads((ckpt / "rmflow_train.json").read_text())["global_steps"] == 2
    argv = [
        "reward",
        "--task_type",
        "dORM",
        "--model_id",
        str(ckpt),
        "--data_path",
        str(world / "corpus" / "test"),
    ]
    argv += ["--output_dir", str(rewards), "--category", "law", "--per_device_batch_size", "4"]
    assert cli.main(argv) == 0
    validate_records("reward", read_records(rewards / "law_reward.json"), "law")
    bad = ["reward", "--task_type", "dORM", "--model_id", str(tmp_path / "missing"), "--data_path"]
    bad += [str(world / "corpus" / "test"), "--output_dir", str(tmp_path / "x"), "--category", "law"]
    assert cli.main(bad) == 2
    assert "error" in capsys.readouterr().err
