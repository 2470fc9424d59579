"""``rmflow train --task_type dORM|dPRM``: LoRA fine-tuning of a causal LM read at step tags.

Examples come from :func:`rmflow.discriminative.features.training_example`; the loss is the two-way
cross-entropy over the (``-``, ``+``) LM-head rows at labelled tags, summed and divided by the number
of labelled positions in the (micro-)batch. Settings: :class:`~rmflow.discriminative.train_config.
DiscriminativeTrainingConfig` from the preset. Training runs under the HF ``Trainer`` (so
``accelerate launch -m rmflow.cli train ...`` runs data-parallel), checkpoints into ``--work_dir``
(default ``OUT/checkpoints``) every ``save_steps`` and resumes from the last one when restarted with the
same settings, data and backbone (:mod:`rmflow.training_resume`). The adapter, tokenizer and training
summary (:mod:`rmflow.train_summary`) are written to a temporary directory and moved into ``OUT``, the
summary last; then the checkpoints are removed.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.data import is_local, load_records, local_file
from rmflow.discriminative.features import Example, special_ids, training_example
from rmflow.errors import UserError
from rmflow.train_summary import training_summary
from rmflow.training import (
    add_arguments,
    config_from_args,
    load_backbone,
    lora_config,
    loss_log,
    run_fingerprint,
    save_checkpoint,
)
from rmflow.training_resume import resume_point

log = logging.getLogger(__name__)

__all__ = ["add_arguments", "resolve_settings", "run", "train"]


def resolve_settings(args: argparse.Namespace) -> Any:
    """The :class:`~rmflow.discriminative.train_config.DiscriminativeTrainingConfig` of the command line."""
    from rmflow.discriminative.train_config import DiscriminativeTrainingConfig

    return config_from_args(DiscriminativeTrainingConfig, args)


# --------------------------------------------------------------------------- data
def build_examples(
    tokenizer: Any, cfg: Any, revision: str | None = None
) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Training examples of every selected category and a report of what was kept and skipped."""
    data_path, task = cfg.data_path, cfg.task_type
    examples: list[dict[str, list[int]]] = []
    report: dict[str, Any] = {}
    for cat in resolve_categories(cfg.category, data_path):
        records = load_records(data_path, cat, "train", revision)
        where = str(local_file(data_path, cat, "train")) if is_local(data_path) else f"{data_path}[{cat}]"
        skipped: Counter[str] = Counter()
        labelled = 0
        for i, rec in enumerate(records):
            ex = training_example(
                tokenizer, rec, task, cfg.example_max_length, (where, f"{i} (q_id {rec['q_id']!r})")
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
def make_trainer(
    model: Any, tokenizer: Any, examples: list[dict[str, list[int]]], cfg: Any
) -> tuple[Any, Any]:
    """An HF ``Trainer`` whose loss is the two-way step-tag cross-entropy, and its loss log."""
    from transformers import Trainer

    from rmflow.discriminative.heads import (
        RightPadCollator,
        final_hidden,
        head_rows,
        two_way_logits,
        two_way_loss,
    )

    ids = special_ids(tokenizer)
    per_device, accum = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    log.info(
        "batch: %d per device x %d processes x %d accumulation = %d; %s",
        per_device,
        cfg.world_size,
        accum,
        per_device * cfg.world_size * accum,
        "bf16" if cfg.bf16 else "fp32",
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

    history = loss_log()
    trainer = TagLossTrainer(
        model=model,
        args=cfg,
        train_dataset=examples,
        data_collator=RightPadCollator(tokenizer.pad_token_id),
        callbacks=[history],
    )
    return trainer, history


def train(
    cfg: Any,
    output_dir: str | Path,
    resume: bool = True,
    revision: str | None = None,
    work_dir: str | Path | None = None,
) -> dict:
    """Train a dORM/dPRM with settings ``cfg`` (see :func:`resolve_settings`); returns the summary.

    ``revision`` pins hub sources (backbone and training data), as ``--revision`` does for every stage.
    Checkpoints go to ``work_dir`` (default ``output_dir/checkpoints``).
    """
    from peft import get_peft_model
    from transformers import set_seed

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = Path(work_dir) if work_dir else out / "checkpoints"
    cfg.output_dir = str(ckpt_dir)
    set_seed(cfg.seed)
    start = time.perf_counter()
    tokenizer, model = load_backbone(cfg, revision)
    model.config.use_cache = False
    model = get_peft_model(model, lora_config(cfg))
    examples, report = build_examples(tokenizer, cfg, revision)
    trainer, history = make_trainer(model, tokenizer, examples, cfg)
    fingerprint = lambda: run_fingerprint(cfg, revision, trainer.args.world_size)  # noqa: E731
    last = resume_point(trainer, ckpt_dir, out, fingerprint, resume)
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)
    summary = training_summary(
        cfg, trainer, result, history.history, report, len(examples), last, revision, start
    )
    if trainer.is_world_process_zero():
        save_checkpoint(trainer, tokenizer, out, ckpt_dir, summary)
        log.info("saved %s adapter to %s (final loss %s)", cfg.task_type, out, summary["final_loss"])
    return summary


def run(args: argparse.Namespace) -> None:
    cfg = resolve_settings(args)
    train(cfg, args.output_dir, resume=not args.no_resume, revision=args.revision, work_dir=args.work_dir)
