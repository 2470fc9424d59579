"""``rmflow init-backbone``: tokenizer, chat template, model config, pre-training, determinism, errors."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from tiny import one_thread, tiny_backbone  # noqa: E402, F401

from rmflow import cli  # noqa: E402
from rmflow.backbone import (  # noqa: E402
    KEY_STRINGS,
    build_backbone,
    corpus_files,
    key_token_problems,
    write_mini_corpus,
)
from rmflow.chat_template import ASSISTANT, BOS, EOS, KEEP_REASONING_TEMPLATE, PAD, USER  # noqa: E402
from rmflow.errors import UserError  # noqa: E402
from rmflow.prompts import discriminative_text, generation_prompt, orm_prompt  # noqa: E402

pytestmark = pytest.mark.slow
SIZES = tiny_backbone(pretrain_steps=12, pretrain_lr=1e-2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_mini_corpus(tmp_path_factory.mktemp("corpus"), categories=("math", "law"), questions=6)


@pytest.fixture(scope="module")
def built(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("bb") / "backbone"
    summary = build_backbone(out, corpus, **SIZES)
    return out, summary


def test_loads_with_auto_classes(built):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, summary = built
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "qwen2"
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 1
    assert model.config.vocab_size == len(tok) == summary["vocab"]
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (BOS, EOS, PAD)
    assert model.config.pad_token_id == tok.pad_token_id != tok.eos_token_id
    for special in (USER, ASSISTANT):
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    assert json.loads((out / "rmflow_backbone.json").read_text())["settings"]["hidden_size"] == 32


def test_tokenizer_key_strings_and_bos(built):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(built[0])
    assert key_token_problems(tok) == []
    assert [len(tok.encode(s, add_special_tokens=False)) for s in KEY_STRINGS] == [1] * len(KEY_STRINGS)
    ids = tok("Some text")["input_ids"]
    assert ids[0] == tok.bos_token_id and tok("Some text", add_special_tokens=False)["input_ids"] == ids[1:]
    # byte-level: any text round-trips, including characters never seen in the corpus
    text = "Ünïcødé ∑ 数学 \t tabs"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    # the step tag is one token inside a text too
    tag = tok.encode(" \n\n\n\n", add_special_tokens=False)[0]
    ids = tok(discriminative_text("Q?", ["one.", "two."]), add_special_tokens=False)["input_ids"]
    assert ids.count(tag) == 2


def test_chat_template_keeps_reasoning(built):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(built[0])
    assert tok.chat_template == KEEP_REASONING_TEMPLATE
    prompt = generation_prompt(tok, orm_prompt("math", "Q?", ["a"]))
    assert prompt.endswith(f"{ASSISTANT}<think>\nLet's verify step by step:")
    assert not prompt.startswith(BOS)
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<think>\nx</think> Yes"}]
    rendered = tok.apply_chat_template(chat, tokenize=False)
    assert rendered.endswith(f"{ASSISTANT}<think>\nx</think> Yes{EOS}")
    ids = tok(rendered, add_special_tokens=False)["input_ids"]
    assert "<think>" in tok.decode(ids, skip_special_tokens=True)


def test_pretraining_lowers_loss_and_is_deterministic(tmp_path, corpus, built):
    out, summary = built
    losses = summary["pretrain_losses"]
    assert len(losses) == 12 and sum(losses[-3:]) < sum(losses[:3])
    again = build_backbone(tmp_path / "again", corpus, **SIZES)
    assert again["pretrain_losses"] == losses
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    other = build_backbone(tmp_path / "other", corpus, **{**SIZES, "seed": 1, "pretrain_steps": 0})
    assert other["pretrain_losses"] == []
    assert (tmp_path / "other" / "model.safetensors").read_bytes() != (out / "model.safetensors").read_bytes()


def test_corpus_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        corpus_files(tmp_path / "missing")
    with pytest.raises(UserError, match=r"no \*\.jsonl"):
        corpus_files(tmp_path)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "law.jsonl").write_text('{"q_id": 1, "question": "Q", "cots": [["a"]]}\n')
    with pytest.raises(UserError, match="no training records"):
        build_backbone(tmp_path / "bb", tmp_path, **SIZES)
    with pytest.raises(TypeError, match="unknown backbone settings"):
        build_backbone(tmp_path / "bb", tmp_path, hidden=3)


def test_cli_init_backbone(tmp_path, corpus, capsys):
    argv = ["init-backbone", "--output_dir", str(tmp_path / "bb"), "--corpus_dir", str(corpus)]
    argv += ["--hidden_size", "16", "--num_heads", "2", "--num_kv_heads", "1", "--num_layers", "1"]
    argv += ["--intermediate_size", "32", "--pretrain_steps", "2", "--pretrain_seq_len", "32"]
    assert cli.main(argv) == 0
    assert "parameters" in capsys.readouterr().out
    assert (tmp_path / "bb" / "config.json").is_file()
    bad = argv[:5] + ["--hidden_size", "30", "--num_heads", "4"]
    assert cli.main(bad) == 2
