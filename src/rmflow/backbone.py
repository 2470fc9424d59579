"""``rmflow init-backbone``: a tiny Qwen2-architecture causal LM for running the pipeline on a laptop.

The backbone gets a byte-level BPE tokenizer trained on the synthetic corpus (every ``*.jsonl`` under
the corpus directory) plus the interface strings (docs/formats.md#model-inputs), the special tokens and the
``KEEP_REASONING_TEMPLATE`` chat template of :mod:`rmflow.chat_template`, and a short language-model
pre-training on the discriminative texts and chat-rendered generative prompts + critiques of the
training records, so that reward models fine-tuned from it learn within minutes on two CPU cores.
The result is saved with ``save_pretrained`` and loads with ``AutoModelForCausalLM`` / ``AutoTokenizer``.

torch/transformers/tokenizers are imported inside functions only.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rmflow.chat_template import (
    ASSISTANT,
    BOS,
    EOS,
    KEEP_REASONING_TEMPLATE,
    PAD,
    THINK_CLOSE,
    THINK_OPEN,
    USER,
)
from rmflow.errors import UserError
from rmflow.io import follow_umask, read_records, write_json
from rmflow.prompts import (
    CRITIQUE_HEAD,
    NEGATIVE_TOKEN,
    ORM_VERDICT,
    POSITIVE_TOKEN,
    PRM_VERDICT,
    STEP_TAG,
    discriminative_text,
    orm_prompt,
    prm_prompt,
    prm_teacher_prompt,
    step_judgement,
)

log = logging.getLogger(__name__)

#: Pre-tokenisation split of the Qwen2 tokenizers, except that punctuation never absorbs the newlines
#: after it: whitespace runs ending in newlines stay one piece, so the step tag " \n\n\n\n" tokenises the
#: same alone and inside a text, and a prompt ending in ``step by step:`` ends on the same token as the
#: training text ``step by step:\n...`` has there (a prompt boundary the tiny model has never seen would
#: derail its critiques).
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: Strings whose LAST token id the reward models read; they must each be a single token.
KEY_STRINGS = (STEP_TAG, POSITIVE_TOKEN, NEGATIVE_TOKEN, " Yes", " No")
#: How often the interface strings are repeated in the tokenizer corpus (keeps their merges frequent).
INTERFACE_REPEAT = 200

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "vocab_size": 2048,
    "hidden_size": 128,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 2,
    "intermediate_size": 384,
    "max_position_embeddings": 4096,
    "pretrain_steps": 300,
    "pretrain_batch_size": 8,
    "pretrain_seq_len": 256,
    "pretrain_lr": 3e-3,
}


# --------------------------------------------------------------------------- corpus
def corpus_files(corpus_dir: str | Path) -> list[Path]:
    """All ``*.jsonl`` files under ``corpus_dir`` (sorted, so the build is deterministic)."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise UserError(f"{root}: corpus directory not found")
    files = sorted(root.rglob("*.jsonl"))
    if not files:
        raise UserError(f"{root}: no *.jsonl files (expected e.g. train/law.jsonl from `rmflow synth`)")
    return files


def _steps(value: Any) -> list[str]:
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def record_texts(rec: dict[str, Any]) -> Iterator[str]:
    """Raw texts of one record of any kind: question, steps, critique."""
    if isinstance(rec.get("question"), str):
        yield rec["question"]
    yield from _steps(rec.get("cot"))
    for cot in rec.get("cots") or []:
        yield from _steps(cot)
    if isinstance(rec.get("critique"), str):
        yield rec["critique"]


def pretrain_documents(rec: dict[str, Any], category: str) -> Iterator[tuple[str, bool]]:
    """Pre-training documents of one training record as ``(text, is_chat)``.

    Step-labelled records give the discriminative text of their steps before the first wrong one (the
    language model learns correct computations; telling wrong ones apart is the verifiers' job); critique
    records give the chat turn (ORM prompt for a scalar label, PRM prompt for a list) followed by the
    critique (:func:`pretrain_critique`). Test records (``cots``) are not used for pre-training.
    """
    question, cot = rec.get("question"), _steps(rec.get("cot"))
    if not isinstance(question, str) or not cot:
        return
    critique = rec.get("critique")
    if isinstance(critique, str):
        prompt = prm_prompt if isinstance(rec.get("labels"), list) else orm_prompt
        yield prompt(category, question, cot), True
        # the critique itself is appended by the caller through the chat template
    else:
        labels = rec.get("labels")
        if isinstance(labels, list) and -1 in labels:  # pre-train on the correct part of a solution only
            cot = cot[: labels.index(-1)]
        if cot:
            yield discriminative_text(question, cot), False


def pretrain_critique(critique: str) -> str:
    """The assistant turn of a critique document: a kept critique as it is, a raw teacher generation
    (``generated`` records: the text after the generation prefix) behind :data:`CRITIQUE_HEAD`."""
    return critique if critique.startswith(CRITIQUE_HEAD) else CRITIQUE_HEAD + critique


def interface_texts() -> list[str]:
    """Interface strings every backbone must tokenise well (verdicts, step tag, prompt scaffolds)."""
    steps = ["First step.", "Second step."]
    return [
        orm_prompt("math", "Question?", steps),
        prm_prompt("math", "Question?", steps),
        prm_teacher_prompt("math", "Question?", steps),
        f"{CRITIQUE_HEAD} Step 1 is fine.{THINK_CLOSE}\n\n{ORM_VERDICT} Yes",
        f"{CRITIQUE_HEAD} Step 1 is wrong.{THINK_CLOSE}\n\n{ORM_VERDICT} No",
        f"{step_judgement(1, 1)}\n{step_judgement(2, -1)}\n{PRM_VERDICT} No",
        f"{step_judgement(1, 1)}\n{PRM_VERDICT} Yes",
        "A step." + STEP_TAG + "Another step." + STEP_TAG,
        "x + y - z = 1 +2 -3",
    ]


def load_corpus(corpus_dir: str | Path) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Tokenizer texts and pre-training documents ``(text_or_prompt, critique_or_None)`` of the training
    records (a test set in the corpus directory changes neither, so the backbone does not depend on it)."""
    texts: list[str] = []
    docs: list[tuple[str, str | None]] = []
    for path in corpus_files(corpus_dir):
        records = read_records(path)
        for rec in records:
            if "cots" not in rec:  # test records shape nothing: neither the vocabulary nor the weights
                texts.extend(record_texts(rec))
            for text, is_chat in pretrain_documents(rec, path.stem):
                docs.append((text, pretrain_critique(rec["critique"]) if is_chat else None))
    if not docs:
        raise UserError(f"{corpus_dir}: no training records (with question and cot) in any *.jsonl file")
    return texts, docs


# --------------------------------------------------------------------------- tokenizer
def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` with the chat template's special tokens.

    Encoding adds BOS (like the DeepSeek-R1-Distill tokenizers); ``<think>``/``</think>`` are
    ordinary added tokens so that decoding keeps them.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    specials = [BOS, EOS, PAD, USER, ASSISTANT]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = texts + interface_texts() * INTERFACE_REPEAT
    tok.train_from_iterator(corpus, trainer=trainer, length=len(corpus))
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in (THINK_OPEN, THINK_CLOSE)])
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[USER, ASSISTANT],
        model_max_length=DEFAULTS["max_position_embeddings"],
    )
    fast.chat_template = KEEP_REASONING_TEMPLATE
    return fast


def save_tokenizer(tokenizer: Any, directory: str | Path) -> Any:
    """Save ``tokenizer`` so that ``AutoTokenizer`` reloads it unchanged; returns the reloaded tokenizer.

    For a ``qwen2`` model directory ``AutoTokenizer`` picks ``Qwen2Tokenizer``, which would add an
    ``<|endoftext|>`` unknown token outside the model's vocabulary unless ``unk_token`` is null.
    """
    import json

    from transformers import AutoTokenizer

    tokenizer.save_pretrained(directory)
    path = Path(directory) / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg.update(tokenizer_class="Qwen2Tokenizer", unk_token=None)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return AutoTokenizer.from_pretrained(directory)


def key_token_problems(tokenizer: Any) -> list[str]:
    """Key interface strings that do not encode to exactly one token; empty when all is well."""
    problems = []
    for s in KEY_STRINGS:
        ids = tokenizer.encode(s, add_special_tokens=False)
        if len(ids) != 1:
            problems.append(f"{s!r} -> {tokenizer.convert_ids_to_tokens(ids)}")
    return problems


# --------------------------------------------------------------------------- model
def make_config(tokenizer: Any, sizes: dict[str, Any]) -> Any:
    """A ``Qwen2Config`` for the tokenizer and ``sizes``."""
    from transformers import Qwen2Config

    if sizes["hidden_size"] % sizes["num_heads"] or sizes["num_heads"] % sizes["num_kv_heads"]:
        raise UserError(
            f"hidden_size {sizes['hidden_size']} / num_heads {sizes['num_heads']} / "
            f"num_kv_heads {sizes['num_kv_heads']}: heads must divide hidden size and kv heads must divide heads"
        )
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=sizes["hidden_size"],
        intermediate_size=sizes["intermediate_size"],
        num_hidden_layers=sizes["num_layers"],
        num_attention_heads=sizes["num_heads"],
        num_key_value_heads=sizes["num_kv_heads"],
        max_position_embeddings=sizes["max_position_embeddings"],
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )


def encode_documents(tokenizer: Any, docs: list[tuple[str, str | None]]) -> list[int]:
    """One token stream: each document with BOS, EOS-terminated; chat documents via the template."""
    stream: list[int] = []
    for text, critique in docs:
        if critique is None:
            ids = tokenizer(text, add_special_tokens=True)["input_ids"] + [tokenizer.eos_token_id]
        else:
            messages = [{"role": "user", "content": text}, {"role": "assistant", "content": critique}]
            rendered = tokenizer.apply_chat_template(messages, tokenize=False)
            ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        stream.extend(ids)
    return stream


def pretrain(model: Any, stream: list[int], sizes: dict[str, Any]) -> list[float]:
    """Next-token pre-training on fixed-length blocks of ``stream``; returns the loss per step."""
    import torch
    from tqdm import tqdm

    from rmflow.logs import interactive

    steps, batch, seq = sizes["pretrain_steps"], sizes["pretrain_batch_size"], sizes["pretrain_seq_len"]
    if steps <= 0:
        return []
    data = torch.tensor(stream, dtype=torch.long)
    n_blocks = len(data) // seq
    if n_blocks == 0:  # tiny corpus: repeat it up to one block
        data = data.repeat(seq // max(1, len(data)) + 1)
        n_blocks = len(data) // seq
    blocks = data[: n_blocks * seq].view(n_blocks, seq)
    gen = torch.Generator().manual_seed(sizes["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=sizes["pretrain_lr"], weight_decay=0.01, betas=(0.9, 0.95))
    warmup = max(1, steps // 10)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    order = torch.randperm(n_blocks, generator=gen)
    pos, losses = 0, []
    # the log gets its own line per tenth of the steps (below), a terminal also the bar
    bar = tqdm(range(steps), desc="pre-train", unit="step", leave=False, disable=not interactive())
    for step in bar:
        if pos + batch > len(order):
            order, pos = torch.randperm(n_blocks, generator=gen), 0
        idx = order[pos : pos + batch]
        pos += batch
        x = blocks[idx]
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            log.info("pre-train step %d/%d loss %.4f", step + 1, steps, losses[-1])
    model.eval()
    return losses


def build_backbone(output_dir: str | Path, corpus_dir: str | Path, **sizes: Any) -> dict[str, Any]:
    """Build, pre-train and save the tiny backbone to ``output_dir``; returns its build summary.

    ``sizes`` overrides :data:`DEFAULTS` (seed, vocab_size, hidden_size, num_layers, num_heads,
    num_kv_heads, intermediate_size, max_position_embeddings, pretrain_steps, pretrain_batch_size,
    pretrain_seq_len, pretrain_lr). The directory is written to a temporary sibling and renamed.
    """
    import torch
    from transformers import Qwen2ForCausalLM

    unknown = set(sizes) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown backbone settings: {', '.join(sorted(unknown))}")
    cfg = {**DEFAULTS, **{k: v for k, v in sizes.items() if v is not None}}
    start = time.perf_counter()
    texts, docs = load_corpus(corpus_dir)
    log.info("corpus: %d texts, %d pre-training documents", len(texts), len(docs))
    out = Path(output_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        # the tokenizer as every later stage loads it, also for the pre-training stream
        tokenizer = save_tokenizer(train_tokenizer(texts, cfg["vocab_size"]), tmp)
        problems = key_token_problems(tokenizer)
        if problems:
            log.warning("key strings are not single tokens: %s", "; ".join(problems))
        torch.manual_seed(cfg["seed"])
        model = Qwen2ForCausalLM(make_config(tokenizer, cfg)).float()
        stream = encode_documents(tokenizer, docs)
        log.info(
            "model: %.2fM parameters, vocab %d; pre-training on %d tokens",
            sum(p.numel() for p in model.parameters()) / 1e6,
            len(tokenizer),
            len(stream),
        )
        losses = pretrain(model, stream, cfg)
        model.save_pretrained(tmp)
        summary = {
            "settings": cfg,
            "corpus_dir": str(corpus_dir),
            "corpus_files": len(corpus_files(corpus_dir)),
            "documents": len(docs),
            "tokens": len(stream),
            "vocab": len(tokenizer),
            "parameters": sum(p.numel() for p in model.parameters()),
            "key_token_problems": problems,
            "pretrain_loss_first": losses[0] if losses else None,
            "pretrain_loss_last": losses[-1] if losses else None,
            "pretrain_losses": losses,
            "build_seconds": round(time.perf_counter() - start, 2),
        }
        write_json(tmp / "rmflow_backbone.json", summary, indent=1)
        follow_umask(tmp)  # mkdtemp made it 0700, safetensors writes 0600
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("backbone saved to %s in %.1f s", out, summary["build_seconds"])
    return summary


# --------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output_dir", required=True, help="directory to write the backbone to")
    p.add_argument("--corpus_dir", required=True, help="synthetic data directory (all *.jsonl under it)")
    for key, value in DEFAULTS.items():
        p.add_argument(f"--{key}", type=type(value), default=value, help=f"(default {value})")


def run(args: argparse.Namespace) -> None:
    summary = build_backbone(args.output_dir, args.corpus_dir, **{k: getattr(args, k) for k in DEFAULTS})
    print(
        f"backbone {args.output_dir}: {summary['parameters'] / 1e6:.2f}M parameters, vocab {summary['vocab']}, "
        f"pre-train loss {summary['pretrain_loss_first']} -> {summary['pretrain_loss_last']}, "
        f"{summary['build_seconds']} s"
    )


# --------------------------------------------------------------------------- built-in mini corpus
def write_mini_corpus(
    corpus_dir: str | Path, categories: tuple[str, ...] = ("math", "law"), questions: int = 12, seed: int = 0
) -> Path:
    """Write a small arithmetic corpus in the ``rmflow synth`` layout (for tests and smoke runs).

    ``{train,train_gORM,train_gPRM,test}/{category}.jsonl``: each question asks for a sum; a correct
    CoT states the right total, a wrong one states a wrong total from its second step on.
    """
    import json
    import random

    rng = random.Random(seed)
    letters = "ABCDEFGHIJ"
    out = Path(corpus_dir)
    kinds: dict[str, dict[str, list[dict[str, Any]]]] = {
        k: {c: [] for c in categories} for k in ("train", "train_gORM", "train_gPRM", "test")
    }
    for cat in categories:
        for qi in range(questions):
            a, b = rng.randint(2, 60), rng.randint(2, 60)
            options = sorted({a + b, *rng.sample(range(4, 121), 12)} - {a + b})[:9] + [a + b]
            rng.shuffle(options)
            gold = letters[options.index(a + b)]
            question = f"What is {a} + {b}? " + " ".join(
                f"({L}) {v}" for L, v in zip(letters, options, strict=True)
            )
            cots, labels, parsed = [], [], []
            for ci in range(4):
                good = ci % 2 == 0
                total = a + b if good else options[(options.index(a + b) + 1 + ci) % 10]
                letter = letters[options.index(total)]
                cots.append([f"We add {a} and {b}.", f"{a} + {b} = {total}.", f"The answer is ({letter})."])
                labels.append([1, 1, 1] if good else [1, -1, -1])
                parsed.append(None if ci == 3 else letter)
            q_id = f"{cat}-{qi}"
            kinds["test"][cat].append(
                {
                    "q_id": q_id,
                    "question": question,
                    "cot_ids": list(range(4)),
                    "cots": cots,
                    "parsed_answers": parsed,
                    "answer": gold,
                }
            )
            for ci, (cot, lab, ans) in enumerate(zip(cots, labels, parsed, strict=True)):
                base = {"q_id": q_id, "question": question, "cot_id": ci, "cot": cot}
                kinds["train"][cat].append({**base, "labels": lab, "parsed_answer": ans, "answer": gold})
                ok = all(x == 1 for x in lab)
                check = f"{a} + {b} is {a + b}, " + ("as stated." if ok else f"not {cot[1].split('= ')[1]}")
                kinds["train_gORM"][cat].append(
                    {
                        **base,
                        "labels": 1 if ok else -1,
                        "critique": f"{CRITIQUE_HEAD} {check}{THINK_CLOSE}\n\n"
                        f"{ORM_VERDICT} {'Yes' if ok else 'No'}",
                    }
                )
                cut = lab[: lab.index(-1) + 1] if -1 in lab else lab
                judged = "\n".join(step_judgement(i, x) for i, x in enumerate(cut, 1))
                kinds["train_gPRM"][cat].append(
                    {
                        **base,
                        "cot": cot[: len(cut)],
                        "labels": cut,
                        "critique": f"{CRITIQUE_HEAD} {check}{THINK_CLOSE}\n{judged}\n"
                        f"{PRM_VERDICT} {'Yes' if ok else 'No'}",
                    }
                )
    for kind, per_cat in kinds.items():
        for cat, records in per_cat.items():
            path = out / kind / f"{cat}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return out
