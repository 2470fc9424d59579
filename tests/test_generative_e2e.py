"""Generative reward models on the tiny backbone: chat template, SFT completion mask, transformers
backend (raw logprobs, stops, batching), and a tiny end-to-end SFT + scoring run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tiny import tiny_backbone

from rmflow.chat_template import ASSISTANT, BOS, EOS, KEEP_REASONING_TEMPLATE, USER
from rmflow.cli import main
from rmflow.data import load_records
from rmflow.generative.backends import SamplingSpec, TransformersBackend, resolve_checkpoint
from rmflow.generative.train import build_trainer, prepare_tokenizer, sft_examples
from rmflow.presets import load_preset
from rmflow.prompts import generation_prompt, orm_prompt

pytestmark = pytest.mark.slow
CATS = "math,law"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Synthetic data (2 categories) and an untrained tiny backbone built from it."""
    from rmflow.backbone import build_backbone
    from rmflow.synth import synthesize

    root = tmp_path_factory.mktemp("gen")
    synthesize(root / "synth", category=CATS, train_questions=2, train_cots=2, test_questions=2, test_cots=2)
    build_backbone(
        root / "backbone", root / "synth", **tiny_backbone(pretrain_steps=0, vocab_size=600, num_layers=2)
    )
    return root


@pytest.fixture(scope="module")
def backend(world) -> TransformersBackend:
    return TransformersBackend(str(world / "backbone"), batch_size=3)


def test_chat_template_keeps_the_critique_and_ends_generation_prompt(world):
    tok = prepare_tokenizer(str(world / "backbone"))
    critique = (
        "<think>\nLet's verify step by step: a</think>\n\nVerification: Is the answer correct (Yes/No)? No"
    )
    text = tok.apply_chat_template(
        [{"role": "user", "content": "U"}, {"role": "assistant", "content": critique}], tokenize=False
    )
    assert text == f"{BOS}{USER}U{ASSISTANT}{critique}{EOS}"
    prompt = generation_prompt(tok, "U")
    assert prompt == f"{USER}U{ASSISTANT}<think>\nLet's verify step by step:"


def test_deepseek_backbone_gets_the_keeping_template(world, tmp_path):
    tok = prepare_tokenizer(str(world / "backbone"))
    tok.chat_template = "{% for m in messages %}{{ m['content'].split('</think>')[-1] }}{% endfor %}"
    tok.save_pretrained(tmp_path / "DeepSeek-R1-Distill-Tiny")
    assert (
        prepare_tokenizer(str(tmp_path / "DeepSeek-R1-Distill-Tiny")).chat_template == KEEP_REASONING_TEMPLATE
    )


@pytest.mark.parametrize("task", ["gORM", "gPRM"])
def test_completion_mask_covers_exactly_the_completion(world, tmp_path, task):
    records = load_records(world / "synth" / f"train_{task}", "math", f"train_{task}")[:2]
    preset = load_preset(f"{task}-tiny")
    trainer = build_trainer(task, preset, str(world / "backbone"), {"math": records}, tmp_path, 2)
    tok = trainer.processing_class
    examples = sft_examples(task, "math", records)
    for row, rec, ex in zip(trainer.train_dataset, records, examples, strict=True):
        ids, labels = row["input_ids"], row["labels"]
        prompt_ids = [i for i, lab in zip(ids, labels, strict=True) if lab == -100]
        completion_ids = [i for i in labels if i != -100]
        assert prompt_ids + completion_ids == ids  # the completion is one suffix
        prompt = tok.apply_chat_template(ex["prompt"], tokenize=False, add_generation_prompt=True)
        assert tok.decode(prompt_ids) == prompt  # user turn + "<｜Assistant｜><think>\n"
        assert rec["critique"].startswith("<think>\n")
        assert tok.decode(completion_ids) == rec["critique"][len("<think>\n") :] + EOS


def test_raw_logprobs_match_a_forward_pass(backend):
    import torch

    tok = backend.tokenizer
    prompt = generation_prompt(
        tok, orm_prompt("math", "What is 2 + 3?", ["2 + 3 = 5.", "The answer is (A)."])
    )
    spec = SamplingSpec(
        n=2, temperature=0.6, top_p=0.9, top_k=50, max_tokens=6, logprobs=5, all_logprobs=True
    )
    (samples,) = backend.generate([prompt], spec)
    assert len(samples) == 2
    enc = tok(prompt, return_tensors="pt")["input_ids"]
    for s in samples:
        assert len(s.logprobs) == len(s.token_ids) == 6 and s.finish_reason == "length"
        with torch.no_grad():
            full = torch.cat([enc, torch.tensor([s.token_ids])], dim=1)
            lp = backend.model(full).logits[0].float().log_softmax(-1)
        for t, (tok_id, entry) in enumerate(zip(s.token_ids, s.logprobs, strict=True)):
            row = lp[enc.shape[1] - 1 + t]
            top = row.topk(5)
            expected = dict(zip(top.indices.tolist(), top.values.tolist(), strict=True))
            expected[tok_id] = row[tok_id].item()  # the sampled token is always included
            assert entry.keys() == expected.keys()
            assert all(entry[k] == pytest.approx(v, abs=1e-4) for k, v in expected.items())


def test_stop_string_is_kept_and_ends_the_sample(backend):
    tok = backend.tokenizer
    prompt = generation_prompt(tok, orm_prompt("law", "Q?", ["step"]))
    (greedy,) = backend.generate([prompt], SamplingSpec(temperature=0, max_tokens=12))
    text = greedy[0].text
    stop = text[3:7]
    assert len(stop.strip()) > 0
    (stopped,) = backend.generate(
        [prompt], SamplingSpec(temperature=0, max_tokens=12, stop=(stop,), logprobs=3)
    )
    s = stopped[0]
    assert s.finish_reason == "stop" and s.text.endswith(stop) and text.startswith(s.text)
    assert len(s.token_ids) < 12 and len(s.logprobs) == 1 and s.token_ids[-1] in s.last_logprobs


def test_batching_across_prompts_matches_one_at_a_time(backend):
    tok = backend.tokenizer
    prompts = [
        generation_prompt(tok, orm_prompt("math", "Short?", ["a"])),
        generation_prompt(
            tok, orm_prompt("law", "A much longer question " * 6, ["first step", "second step"])
        ),
        generation_prompt(tok, orm_prompt("", "Q", ["x"])),
    ]
    spec = SamplingSpec(n=2, temperature=0, max_tokens=5, logprobs=3)
    batched = backend.generate(prompts, spec)
    single = [backend.generate([p], spec)[0] for p in prompts]
    for b, s in zip(batched, single, strict=True):
        assert [x.token_ids for x in b] == [x.token_ids for x in s]
        for x, y in zip(b, s, strict=True):
            assert x.last_logprobs.keys() == y.last_logprobs.keys()
            assert all(
                x.last_logprobs[k] == pytest.approx(y.last_logprobs[k], abs=1e-4) for k in x.last_logprobs
            )


def test_tiny_sft_then_scoring(world, tmp_path):
    ckpt, rewards = tmp_path / "gORM", tmp_path / "rewards"

    def train(max_steps: int) -> int:
        argv = ["train", "--task_type", "gORM", "--config", "gORM-tiny", "--output_dir", str(ckpt)]
        argv += ["--model_id", str(world / "backbone"), "--data_path", str(world / "synth" / "train_gORM")]
        argv += ["--category", CATS, "--per_device_batch_size", "2", "--max_steps", str(max_steps)]
        return main([*argv, "--set", "effective_batch_size=2"])

    assert train(2) == 0
    summary = json.loads((ckpt / "rmflow_train.json").read_text())
    assert summary["global_steps"] == 2 and summary["gradient_accumulation_steps"] == 1
    assert [h["loss"] for h in summary["log_history"] if "loss" in h]
    adapter = json.loads((ckpt / "adapter_config.json").read_text())
    assert adapter["r"] == 32 and adapter["lora_alpha"] == 16
    ref = resolve_checkpoint(str(ckpt))
    assert (
        ref.base == str(world / "backbone") and ref.adapter == str(ckpt) and ref.tokenizer_source == str(ckpt)
    )

    rc = main(
        [
            "reward",
            "--task_type",
            "gORM",
            "--model_id",
            str(ckpt),
            "--data_path",
            str(world / "synth" / "test"),
        ]
        + ["--output_dir", str(rewards), "--category", CATS, "--backend", "transformers"]
        + ["--n_samples", "3", "--max_tokens", "8", "--per_device_batch_size", "2"]
    )
    assert rc == 0
    for cat in CATS.split(","):
        recs = load_records(rewards, cat, "reward")
        test = load_records(world / "synth" / "test", cat, "test")
        assert [r["cot_ids"] for r in recs] == [t["cot_ids"] for t in test]
        values = [v for r in recs for per_cot in r["rewards"] for v in per_cot]
        assert len(values) == 3 * sum(len(t["cots"]) for t in test)
        assert all(math.isnan(v) or 0.0 <= v <= 1.0 for v in values)
    counts = json.loads((rewards / "nan_counts.json").read_text())
    assert set(counts) == set(CATS.split(",")) and all(c["samples"] == 12 for c in counts.values())

    # the finished run left no resume state in its output (resuming: tests/test_reliability_kill_train.py)
    assert not [p.name for p in ckpt.iterdir() if p.name.startswith(("checkpoint-", ".rmflow"))]


def test_gprm_scoring_of_a_full_model(world, tmp_path):
    rc = main(
        ["reward", "--task_type", "gPRM", "--model_id", str(world / "backbone")]
        + ["--data_path", str(world / "synth" / "test"), "--output_dir", str(tmp_path), "--category", "law"]
        + ["--backend", "transformers", "--n_samples", "1", "--max_tokens", "4"]
    )
    assert rc == 0
    assert len(load_records(tmp_path, "law", "reward")) == 2
