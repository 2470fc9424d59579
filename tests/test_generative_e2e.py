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
from rmflow.generative.sampling import SamplingSpec
from rmflow.generative.train import build_trainer, sft_examples
from rmflow.generative.train_config import GenerativeTrainingConfig
from rmflow.generative.transformers_backend import TransformersBackend
from rmflow.model_loading import backbone_ref, load_tokenizer, resolve_checkpoint
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


def tiny_config(world: Path, task: str, out: Path, **overrides) -> GenerativeTrainingConfig:
    """The settings of ``{task}-tiny`` on the test backbone, two examples per device."""
    flags = {
        "model_id": str(world / "backbone"),
        "data_path": str(world / "synth"),
        "per_device_batch_size": 2,
    }
    return GenerativeTrainingConfig.from_preset(
        f"{task}-tiny", overrides, flags, task_type=task, seed=42, output_dir=str(out)
    )


def prepare_tokenizer(model_id: str):
    return load_tokenizer(backbone_ref(model_id))


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
    """As the published adapters were trained: the user turn rendered alone is the prompt; the assistant
    header and the critique (with EOS) are the completion, the only tokens with a loss."""
    records = load_records(world / "synth" / f"train_{task}", "math", f"train_{task}")[:2]
    trainer = build_trainer(tiny_config(world, task, tmp_path), {"math": records})
    tok = trainer.processing_class
    examples = sft_examples(task, "math", records)
    for row, rec, ex in zip(trainer.train_dataset, records, examples, strict=True):
        ids, labels = row["input_ids"], row["labels"]
        prompt_ids = [i for i, lab in zip(ids, labels, strict=True) if lab == -100]
        completion_ids = [i for i in labels if i != -100]
        assert prompt_ids + completion_ids == ids  # the completion is one suffix
        assert tok.decode(prompt_ids) == tok.apply_chat_template(ex["prompt"], tokenize=False)
        assert tok.decode(prompt_ids) == f"{BOS}{USER}{ex['prompt'][0]['content']}"
        assert tok.decode(completion_ids) == f"{ASSISTANT}{rec['critique']}{EOS}"
    assert trainer.rmflow_long_examples == {"math": 0}


def test_max_length_cuts_examples_to_their_start_and_says_how_many(world, tmp_path, caplog):
    """max_length (the paper presets: 1024, as published) cuts every longer example to its first tokens
    and keeps one whose prompt alone fills it, with no token in the loss; null keeps examples whole.
    The cuts are counted per category in one warning."""
    records = {c: load_records(world / "synth" / "train_gPRM", c, "train_gPRM") for c in ("math", "law")}
    whole = build_trainer(tiny_config(world, "gPRM", tmp_path), records)
    rows = list(whole.train_dataset)
    cats = [c for c, recs in records.items() for _ in recs]
    prompts = sorted(row["labels"].index(next(x for x in row["labels"] if x != -100)) for row in rows)
    cap = prompts[len(prompts) // 2]  # the prompt alone fills it for about half of the examples
    lengths = [len(row["input_ids"]) for row in rows]
    long = {c: sum(n > cap for n, cat in zip(lengths, cats, strict=True) if cat == c) for c in records}
    with caplog.at_level("WARNING", logger="rmflow.generative.sft_data"):
        cut = build_trainer(tiny_config(world, "gPRM", tmp_path, max_length=cap), records)
    assert cut.rmflow_long_examples == long and long["math"] > 0 and long["law"] > 0
    assert len(cut.train_dataset) == len(rows)
    for full, row in zip(rows, cut.train_dataset, strict=True):
        assert row["input_ids"] == full["input_ids"][:cap] and row["labels"] == full["labels"][:cap]
    assert any(set(row["labels"]) == {-100} for row in cut.train_dataset)
    (message,) = [r.getMessage() for r in caplog.records if "max_length" in r.getMessage()]
    assert f"{sum(long.values())} of {len(rows)} examples are longer than max_length {cap} tokens" in message
    assert f"cut to their first {cap} (math {long['math']}, law {long['law']})" in message


@pytest.mark.parametrize("size", ["14B", "8B", "qwen"])
def test_paper_presets_train_as_published(size):
    for task in ("gORM", "gPRM"):
        preset = load_preset(f"{task}-{size}")
        assert preset["max_length"] == 1024 and preset["completion_only_loss"] is None
        assert load_preset(f"{task}-{size}", {"max_length": None})["max_length"] is None  # no cap
        cfg = GenerativeTrainingConfig.from_preset(f"{task}-{size}", task_type=task, seed=42)
        assert cfg.example_max_length == 1024 and cfg.max_length is None  # cut before TRL, which keeps all
        assert cfg.completion_only_loss is True


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
    assert [h["loss"] for h in summary["loss_history"]]
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
    # prompt lengths against the loaded model's context (gORM-tiny trains without a max_length)
    context = json.loads((world / "backbone" / "config.json").read_text())["max_position_embeddings"]
    long = json.loads((rewards / "reward_meta.json").read_text())["long_prompts"]
    for cat in CATS.split(","):
        assert long[cat]["inputs"] == 4 and long[cat]["longest"] > 0
        assert set(long[cat]["longer_than"]) == {"model context", "model context less --max_tokens"}
        assert long[cat]["longer_than"]["model context"]["limit"] == context

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
