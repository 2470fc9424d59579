"""``rmflow reward --task_type dORM|dPRM``: P(+) at each step tag of each test CoT (docs/formats.md).

Writes ``OUT/{category}_reward.json`` = ``[{q_id, cot_ids, rewards: [[P(+) per step] per CoT]}]`` in
test-set order. The model is a full causal-LM directory or a LoRA adapter (local or hub id). As the
published rewards were made, by default the weights are float32 and an adapter runs beside its base
(``--lora unmerged``); ``--lora merged`` merges it into the base at ``--dtype`` (``auto``: bfloat16 on
GPUs that support it), faster but with slightly different scores (config/README.md gives the measured
difference). Only the decoder body runs; the final-norm hidden states at the step tags
are projected on the two LM-head rows (``-``, ``+``), never on the full vocabulary. Sequences are
left-padded, batched by length. Questions are scored in chunks saved with
:class:`rmflow.chunks.ChunkStore` in ``--work_dir`` (default ``OUT/.chunks``; removed when every
category is done), so a killed run resumes; under ``accelerate launch`` the chunks are shared
round-robin across processes and rank 0 writes the file (the same bytes as one process). A category
whose reward file exists is skipped.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.chunks import ChunkStore, clear_chunks, split
from rmflow.cli_args import add_once
from rmflow.data import load_records, validate_records
from rmflow.discriminative.features import encode_cot, encoded_lengths, special_ids
from rmflow.errors import UserError
from rmflow.fingerprint import json_sha256, model_fingerprint
from rmflow.input_limits import long_inputs, long_inputs_warning, model_context, training_max_length
from rmflow.io import write_json
from rmflow.logs import progress
from rmflow.model_loading import load_model, load_tokenizer, resolve_checkpoint
from rmflow.names import reward_file

log = logging.getLogger(__name__)

DEFAULT_BATCH = 8
DTYPES = ("auto", "bfloat16", "float16", "float32")
#: how a LoRA checkpoint's adapter runs: beside the base weights (as the published rewards were made) or
#: merged into them (faster; see config/README.md for the measured score difference)
LORA_MODES = ("unmerged", "merged")


def add_arguments(group: Any) -> None:
    """dORM/dPRM-only scoring flags (the common ones come from ``rmflow.cli``)."""
    add_once(
        group,
        "--chunk_questions",
        type=int,
        default=64,
        help="questions per resumable chunk (default 64)",
    )
    add_once(
        group,
        "--dtype",
        choices=DTYPES,
        default="auto",
        help="weights dtype; dORM/dPRM: auto = float32 (as the published rewards were made), with "
        "--lora merged bfloat16 on GPUs that support it",
    )
    group.add_argument(
        "--lora",
        choices=LORA_MODES,
        default="unmerged",
        help="dORM/dPRM LoRA checkpoints: unmerged = the adapter runs beside the base weights, as the "
        "published rewards were made; merged = merged into the base (faster, scores differ slightly)",
    )
    add_once(group, "--base_model", default=None, help="override the adapter's base_model_name_or_path")


# --------------------------------------------------------------------------- model loading
def resolve_dtype(name: str, lora: str = "unmerged") -> Any:
    """``auto``: float32, as the published rewards were made; with a merged adapter bfloat16 on GPUs
    that support it (the speed option)."""
    import torch

    if name == "auto":
        bf16 = lora == "merged" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else torch.float32
    return getattr(torch, name)


def load_scorer(
    model_id: str,
    revision: str | None = None,
    dtype: str = "auto",
    base_model: str | None = None,
    lora: str = "unmerged",
) -> tuple[Any, Any]:
    """Model and tokenizer of a dORM/dPRM checkpoint, in eval mode on CPU; a LoRA adapter stays a
    separate module (``lora="unmerged"``, as the published rewards were made) or is merged into the base."""
    if lora not in LORA_MODES:
        raise UserError(f"--lora {lora!r}: expected one of {', '.join(LORA_MODES)}")
    torch_dtype = resolve_dtype(dtype, lora)
    ref = resolve_checkpoint(model_id, revision, base_model)
    if ref.adapter:
        log.info("LoRA adapter %s on base %s (%s, %s)", model_id, ref.base, lora, torch_dtype)
    model = load_model(ref, torch_dtype, merge=lora == "merged")
    return model.eval(), load_tokenizer(ref)


# --------------------------------------------------------------------------- scoring
def score_cots(
    model: Any,
    tokenizer: Any,
    cots: Sequence[tuple[str, Sequence[str]]],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """P(+) at each step tag of each ``(question, steps)``; batches of similar length, left padding."""
    import torch

    from rmflow.discriminative.heads import decoder_hidden, head_rows, pad_batch, two_way_logits

    ids = special_ids(tokenizer)
    weight, bias = head_rows(model, ids)
    device = weight.device
    encoded = [encode_cot(tokenizer, q, steps) for q, steps in cots]
    scores: list[list[float]] = [[] for _ in encoded]
    todo = sorted(
        (i for i, e in enumerate(encoded) if e.tag_positions), key=lambda i: -len(encoded[i].input_ids)
    )
    if progress and len(todo) < len(encoded):
        progress(len(encoded) - len(todo))  # CoTs without steps score []
    with torch.inference_mode():
        for batch in split(todo, max(1, batch_size)):
            seqs = [encoded[i].input_ids for i in batch]
            padded = pad_batch(seqs, tokenizer.pad_token_id, "left")
            width = padded["input_ids"].shape[1]
            hidden = decoder_hidden(
                model, padded["input_ids"].to(device), padded["attention_mask"].to(device)
            )
            rows, cols = [], []
            for b, i in enumerate(batch):
                offset = width - len(encoded[i].input_ids)
                rows.extend([b] * len(encoded[i].tag_positions))
                cols.extend(offset + p for p in encoded[i].tag_positions)
            at_tags = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
            probs = torch.softmax(two_way_logits(at_tags, weight, bias), dim=-1)[:, 1].tolist()
            start = 0
            for i in batch:
                n = len(encoded[i].tag_positions)
                scores[i] = probs[start : start + n]
                start += n
            if progress:
                progress(len(batch))
    return scores


def score_records(
    model: Any,
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Reward records of test records: ``{q_id, cot_ids, rewards}`` in the same order."""
    flat = [(rec["question"], cot) for rec in records for cot in rec["cots"]]
    scores = score_cots(model, tokenizer, flat, batch_size, progress)
    out, start = [], 0
    for rec in records:
        n = len(rec["cots"])
        out.append(
            {"q_id": rec["q_id"], "cot_ids": list(rec["cot_ids"]), "rewards": scores[start : start + n]}
        )
        start += n
    return out


# --------------------------------------------------------------------------- stage
def process_state() -> Any:
    """This process's rank, world size and device (``accelerate``; torchrun / accelerate launch env).

    Without CUDA the processes form a CPU (gloo) group, so sharding works on CPU too.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def reward_category(
    model_loader: Callable[[], tuple[Any, Any]],
    data_path: str,
    category: str,
    out: Path,
    work: Path,
    batch_size: int,
    chunk_questions: int,
    fingerprint: Callable[[], dict[str, Any]],
    revision: str | None = None,
    report: Callable[[str, Sequence[dict[str, Any]]], None] | None = None,
) -> Path:
    """Score one category into ``out/{category}_reward.json``, chunks in ``work`` (resumable; shared across
    processes). ``fingerprint()`` gives the settings and model content the chunks depend on; the main
    process calls ``report(category, test records)`` once the file is written."""
    state = process_state()
    final = out / reward_file(category)
    records = load_records(data_path, category, "test", revision)
    chunks = split(records, chunk_questions)
    if state.is_main_process:  # drops stale chunks once, before anyone writes
        ChunkStore(work, category, {**fingerprint(), "category": category, "data": json_sha256(records)})
    state.wait_for_everyone()
    store = ChunkStore(work, category)
    mine = [
        i for i in range(len(chunks)) if i % state.num_processes == state.process_index and not store.done(i)
    ]
    reused = sum(store.done(i) for i in range(len(chunks)))
    if reused:
        log.info("%s: reusing %d of %d finished chunks", category, reused, len(chunks))
    log.info(
        "%s: process %d/%d scores %d of %d chunks",
        category,
        state.process_index,
        state.num_processes,
        len(mine),
        len(chunks),
    )
    if mine:
        model, tokenizer = model_loader()
        total = sum(len(c) for i in mine for c in (r["cots"] for r in chunks[i]))
        with progress(
            total=total, desc=f"{category} [{state.process_index}]", unit="cot", leave=False
        ) as bar:
            for i in mine:
                store.save(i, score_records(model, tokenizer, chunks[i], batch_size, bar.update))
    state.wait_for_everyone()
    if state.is_main_process:
        merged = store.load_all(len(chunks))
        validate_records("reward", merged, final)
        write_json(final, merged)
        log.info("%s: wrote %s (%d questions)", category, final, len(merged))
        if report is not None:
            report(category, records)
    state.wait_for_everyone()
    return final


def run(args: argparse.Namespace) -> None:
    if not args.data_path or not args.model_id:
        raise UserError("--data_path and --model_id are required")
    if args.chunk_questions < 1:
        raise UserError("--chunk_questions must be at least 1")
    start = time.perf_counter()
    state = process_state()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    batch = args.per_device_batch_size or DEFAULT_BATCH
    cache: dict[str, Any] = {}

    def loader() -> tuple[Any, Any]:
        if "m" not in cache:
            model, tok = load_scorer(args.model_id, args.revision, args.dtype, args.base_model, args.lora)
            cache["m"] = (model.to(state.device), tok)
        return cache["m"]

    def fingerprint() -> dict[str, Any]:  # hashes the checkpoint's files: once, on the main process
        if "f" not in cache:
            cache["f"] = {
                "model": model_fingerprint(args.model_id, args.revision, args.base_model),
                "task_type": args.task_type,
                "dtype": args.dtype,
                "lora": args.lora,
                "batch_size": batch,
                "chunk_questions": args.chunk_questions,
            }
        return cache["f"]

    def report(category: str, records: Sequence[dict[str, Any]]) -> None:  # inputs beyond the model's limits
        if "m" in cache:
            model, tokenizer = cache["m"]
            context = getattr(model.config, "max_position_embeddings", None)
        else:  # every chunk was scored before: no model loaded here
            tokenizer = load_tokenizer(resolve_checkpoint(args.model_id, args.revision, args.base_model))
            context = model_context(args.model_id, args.revision, args.base_model)
        lengths = encoded_lengths(tokenizer, [(r["question"], cot) for r in records for cot in r["cots"]])
        limits = {"model context": context, "training max_length": training_max_length(args.model_id)}
        warning = long_inputs_warning("CoTs", category, long_inputs(lengths, limits))
        if warning:
            log.warning(warning)

    work = Path(args.work_dir) if args.work_dir else out / ".chunks"
    categories = resolve_categories(args.category, args.data_path)
    for cat in categories:
        final = out / reward_file(cat)
        if final.exists():
            log.info("%s: %s exists, skipped", cat, final)
            continue
        reward_category(
            loader,
            args.data_path,
            cat,
            out,
            work,
            batch,
            args.chunk_questions,
            fingerprint,
            args.revision,
            report,
        )
    if state.is_main_process:  # every category done: chunks are no longer needed
        clear_chunks(work, categories)
        log.info(
            "%s rewards of %d categories in %s (%.1f s)",
            args.task_type,
            len(categories),
            out,
            time.perf_counter() - start,
        )
