"""``rmflow train --task_type dORM|dPRM``: LoRA fine-tuning of a causal LM read at step tags.

Examples come from :func:`rmflow.discriminative.features.training_example`; the loss is the two-way
cross-entropy over the (``-``, ``+``) LM-head rows at labelled tags, summed and divided by the number
of labelled positions in the (micro-)batch. Training runs under the HF ``Trainer`` (so
``accelerate launch -m rmflow.cli train ...`` runs data-parallel), checkpoints into ``--work_dir``
(default ``OUT/checkpoints``) every ``save_steps`` and resumes from the last one when restarted with the
same settings, data and backbone (:mod:`rmflow.training_resume`). The adapter, tokenizer
and ``rmflow_train.json`` are written to a temporary directory and moved into ``OUT``,
``rmflow_train.json`` last; then the checkpoints are removed.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rmflow.adapter_base import make_base_portable
from rmflow.categories import resolve_categories
from rmflow.data import is_local, load_records, local_file
from rmflow.discriminative import add_once
from rmflow.discriminative.features import Example, special_ids, training_example
from rmflow.errors import UserError
from rmflow.io import staged_outputs, write_json
from rmflow.presets import gradient_accumulation, load_preset, parse_overrides
from rmflow.training_resume import clear_work_dir, resume_point, work_fingerprint

log = logging.getLogger(__name__)

#: Preset keys every discriminative preset must define.
REQUIRED_KEYS = (
    "task_type",
    "model_id",
    "data_path",
    "max_length",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "effective_batch_size",
    "per_device_batch_size",
    "lr_scheduler_type",
    "warmup_ratio",
    "weight_decay",
    "bf16",
    "cpu_bf16",
    "gradient_checkpointing",
    "save_steps",
    "save_total_limit",
    "logging_steps",
)
SUMMARY_FILE = "rmflow_train.json"


def add_arguments(group: Any) -> None:
    """dORM/dPRM-only training flags (the common ones come from ``rmflow.cli``)."""
    add_once(
        group, "--max_steps", type=int, default=None, help="stop after N optimiser steps (preset max_steps)"
    )
    add_once(
        group, "--save_steps", type=int, default=None, help="checkpoint every N steps (preset save_steps)"
    )
    add_once(
        group,
        "--no_resume",
        action="store_true",
        help="start over even if the work directory holds a checkpoint",
    )


# --------------------------------------------------------------------------- settings
def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Preset + ``--set`` overrides + explicit flags (flags win), checked against ``--task_type``."""
    if not args.config:
        raise UserError(f"--config is required for {args.task_type} training (e.g. {args.task_type}-tiny)")
    cfg = load_preset(args.config, parse_overrides(args.set))
    missing = [k for k in REQUIRED_KEYS if k not in cfg]
    if missing:
        raise UserError(f"preset {args.config}: missing keys {', '.join(missing)}")
    if cfg["task_type"] != args.task_type:
        raise UserError(f"preset {args.config} is for {cfg['task_type']}, not --task_type {args.task_type}")
    for key in ("model_id", "data_path", "per_device_batch_size", "max_steps", "save_steps"):
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    cfg["seed"] = args.seed
    cfg["category"] = args.category
    cfg["preset"] = args.config
    return cfg


# --------------------------------------------------------------------------- data
def build_examples(
    tokenizer: Any, cfg: dict[str, Any], revision: str | None = None
) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Training examples of every selected category and a report of what was kept and skipped."""
    data_path, task = cfg["data_path"], cfg["task_type"]
    examples: list[dict[str, list[int]]] = []
    report: dict[str, Any] = {}
    for cat in resolve_categories(cfg["category"], data_path):
        records = load_records(data_path, cat, "train", revision)
        where = str(local_file(data_path, cat, "train")) if is_local(data_path) else f"{data_path}[{cat}]"
        skipped: Counter[str] = Counter()
        labelled = 0
        for i, rec in enumerate(records):
            ex = training_example(
                tokenizer, rec, task, cfg["max_length"], (where, f"{i} (q_id {rec['q_id']!r})")
            )
            if isinstance(ex, Example):
                examples.append({"input_ids": ex.input_ids, "labels": ex.labels})
                labelled += sum(1 for x in ex.labels if x != -100)
            else:
                skipped[ex] += 1
        kept = len(records) - sum(skipped.values())
        report[cat] = {
            "records": len(records),
            "kept": kept,
            "labelled_tags": labelled,
            "skipped": dict(skipped),
        }
        log.info("%s: %d records, %d kept, skipped %s", cat, len(records), kept, dict(skipped) or "none")
    if not examples:
        raise UserError(f"{data_path}: no usable training examples for {task} (see the skip counts above)")
    return examples, report


# --------------------------------------------------------------------------- trainer
def _use_bf16(cfg: dict[str, Any]) -> bool:
    import torch

    if torch.cuda.is_available():
        return bool(cfg["bf16"]) and torch.cuda.is_bf16_supported()
    return bool(cfg["bf16"]) and bool(cfg["cpu_bf16"])


def _checkpointing_args(enabled: bool) -> dict[str, Any]:
    """Gradient-checkpointing arguments under the name this transformers version uses."""
    import inspect

    from transformers import TrainingArguments

    params = inspect.signature(TrainingArguments.__init__).parameters
    name = "activation_checkpointing" if "activation_checkpointing" in params else "gradient_checkpointing"
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False}}


def make_trainer(
    model: Any, tokenizer: Any, examples: list[dict[str, list[int]]], cfg: dict[str, Any], ckpt_dir: Path
):
    """An HF ``Trainer`` whose loss is the two-way step-tag cross-entropy, checkpointing into ``ckpt_dir``."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from rmflow.discriminative.heads import (
        RightPadCollator,
        final_hidden,
        head_rows,
        two_way_logits,
        two_way_loss,
    )

    ids = special_ids(tokenizer)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device = int(cfg["per_device_batch_size"])
    accum = gradient_accumulation(int(cfg["effective_batch_size"]), per_device, world)
    bf16 = _use_bf16(cfg)
    log.info(
        "batch: %d per device x %d processes x %d accumulation = %d; %s",
        per_device,
        world,
        accum,
        per_device * world * accum,
        "bf16" if bf16 else "fp32",
    )

    class TagLossTrainer(Trainer):
        """Trainer with the two-way step-tag loss (per micro-batch mean over labelled tags; GA averages)."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.model_accepts_loss_kwargs = False  # the loss is already a per-batch mean: let GA divide

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            hidden = final_hidden(model, inputs["input_ids"], inputs["attention_mask"])
            mask = labels.ne(-100)
            weight, bias = head_rows(self.model, ids)
            logits2 = two_way_logits(hidden[mask], weight, bias)
            loss = two_way_loss(logits2, labels[mask])
            return (loss, {"logits": logits2}) if return_outputs else loss

    class LossHistory(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict[str, float]] = []

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.history.append({"step": state.global_step, "loss": float(logs["loss"])})
                if state.is_world_process_zero:
                    log.info("step %d/%d loss %.4f", state.global_step, state.max_steps, float(logs["loss"]))

    targs = TrainingArguments(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accum,
        learning_rate=float(cfg["learning_rate"]),
        num_train_epochs=float(cfg["num_train_epochs"]),
        max_steps=int(cfg["max_steps"]),
        lr_scheduler_type=cfg["lr_scheduler_type"],
        warmup_steps=float(cfg["warmup_ratio"]),
        weight_decay=float(cfg["weight_decay"]),
        bf16=bf16,
        **_checkpointing_args(bool(cfg["gradient_checkpointing"])),
        logging_steps=int(cfg["logging_steps"]),
        logging_first_step=True,
        save_strategy="steps",
        save_steps=int(cfg["save_steps"]),
        save_total_limit=int(cfg["save_total_limit"]),
        seed=int(cfg["seed"]),
        data_seed=int(cfg["seed"]),
        report_to="none",
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,
        use_cpu=not torch.cuda.is_available(),
    )
    history = LossHistory()
    trainer = TagLossTrainer(
        model=model,
        args=targs,
        train_dataset=examples,
        data_collator=RightPadCollator(tokenizer.pad_token_id),
        callbacks=[history],
    )
    return trainer, history


def load_backbone(
    model_id: str, bf16: bool, cfg: dict[str, Any], revision: str | None = None
) -> tuple[Any, Any]:
    """Tokenizer and LoRA-wrapped causal LM of the backbone (``revision`` pins a hub backbone)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if Path(model_id).is_dir():  # the adapter records its base: make a local one findable from anywhere
        model_id = str(Path(model_id).resolve())
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(
            model_id, revision=revision, dtype=torch.bfloat16 if bf16 else torch.float32
        )
    except (OSError, ValueError) as exc:  # missing files / unrecognized config or tokenizer
        raise UserError(f"--model_id {model_id}: cannot load backbone: {exc}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.use_cache = False
    lora = LoraConfig(
        r=int(cfg["lora_r"]),
        lora_alpha=int(cfg["lora_alpha"]),
        lora_dropout=float(cfg["lora_dropout"]),
        target_modules=cfg["lora_target_modules"],
        task_type="CAUSAL_LM",
    )
    return tokenizer, get_peft_model(model, lora)


def train(
    cfg: dict[str, Any],
    output_dir: str | Path,
    resume: bool = True,
    revision: str | None = None,
    work_dir: str | Path | None = None,
) -> dict:
    """Train a dORM/dPRM with settings ``cfg`` (see :func:`resolve_settings`); returns the summary.

    ``revision`` pins hub sources (backbone and training data), as ``--revision`` does for every stage.
    Checkpoints go to ``work_dir`` (default ``output_dir/checkpoints``).
    """
    import torch
    from transformers import set_seed

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(int(cfg["seed"]))
    start = time.perf_counter()
    tokenizer, model = load_backbone(
        cfg["model_id"], _use_bf16(cfg) and torch.cuda.is_available(), cfg, revision
    )
    examples, report = build_examples(tokenizer, cfg, revision)
    ckpt_dir = Path(work_dir) if work_dir else out / "checkpoints"
    trainer, history = make_trainer(model, tokenizer, examples, cfg, ckpt_dir)
    fingerprint = lambda: work_fingerprint(cfg, revision, trainer.args.world_size)  # noqa: E731
    last = resume_point(trainer, ckpt_dir, out, fingerprint, resume)
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)
    summary = {
        "task_type": cfg["task_type"],
        "preset": cfg["preset"],
        "settings": {k: v for k, v in cfg.items() if k != "preset"},
        "revision": revision,
        "examples": len(examples),
        "data": report,
        "global_steps": trainer.state.global_step,
        "device": str(trainer.args.device),
        "precision": "bf16" if trainer.args.bf16 else "fp32",
        "world_size": trainer.args.world_size,
        "resumed_from": Path(last).name if last else None,
        "final_loss": history.history[-1]["loss"] if history.history else None,
        "mean_train_loss": float(result.training_loss),
        "loss_history": history.history,
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    if trainer.is_world_process_zero():
        with staged_outputs(out, last=(SUMMARY_FILE,)) as tmp:
            trainer.model.save_pretrained(tmp)
            make_base_portable(tmp, out)  # a backbone in the same results tree: by relative path
            tokenizer.save_pretrained(tmp)
            write_json(tmp / SUMMARY_FILE, summary, indent=1)
        clear_work_dir(ckpt_dir, out)  # finished: resume state no longer needed
        log.info("saved %s adapter to %s (final loss %s)", cfg["task_type"], out, summary["final_loss"])
    return summary


def run(args: argparse.Namespace) -> None:
    cfg = resolve_settings(args)
    train(cfg, args.output_dir, resume=not args.no_resume, revision=args.revision, work_dir=args.work_dir)
