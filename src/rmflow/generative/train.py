"""``rmflow train --task_type gORM|gPRM``: LoRA SFT of a generative reward model.

Prompt-completion conversational data: user = ORM/PRM prompt built from the record's category,
question and CoT; assistant = ``critique`` (the chat template closes the turn with EOS). Examples are
tokenised, labelled and cut to ``max_length`` tokens as the published adapters' were
(:mod:`rmflow.generative.sft_data`; the paper presets: 1024, null: no cap; how many are cut is logged
per category and recorded), the loss on the completion only unless ``completion_only_loss`` is false.
Settings: :class:`~rmflow.generative.train_config.GenerativeTrainingConfig` from the preset
(``config/presets/g{ORM,PRM}-*.yaml``, ``--set KEY=VALUE`` overrides); gradient accumulation is derived so
that per-device batch x processes x accumulation = ``effective_batch_size``.
DeepSeek-R1 backbones get the reasoning-keeping chat template (:mod:`rmflow.model_loading`), saved with
the adapter. Checkpoints go to ``--work_dir`` (default ``OUT``) as ``checkpoint-*``; a rerun with the same
settings, data and backbone resumes from the last one (:mod:`rmflow.training_resume`), and they are
removed once the adapter is saved. Output: LoRA adapter + tokenizer + training summary
(:mod:`rmflow.train_summary`).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.data import load_records
from rmflow.errors import UserError
from rmflow.generative.sft_data import (
    report_long_examples,
    report_prompt_mismatch,
    sft_examples,
    tokenize_example,
)
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

__all__ = ["add_arguments", "build_trainer", "resolve_settings", "run", "train"]


def resolve_settings(args: argparse.Namespace) -> Any:
    """The :class:`~rmflow.generative.train_config.GenerativeTrainingConfig` of the command line."""
    from rmflow.generative.train_config import GenerativeTrainingConfig

    return config_from_args(GenerativeTrainingConfig, args)


def _closes_with_eos(tokenizer: Any, example: dict[str, Any]) -> bool:
    text = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    return text.rstrip().endswith(tokenizer.eos_token)


def build_trainer(
    cfg: Any, records_by_category: dict[str, list[dict[str, Any]]], revision: str | None = None
) -> Any:
    """A ready ``trl.SFTTrainer`` (LoRA model, tokenised prompt-completion dataset, ``cfg``); its
    ``rmflow_long_examples`` holds, per category, how many examples ``max_length`` cuts."""
    from datasets import Dataset
    from trl import SFTTrainer

    task_type, max_length = cfg.task_type, cfg.example_max_length
    tokenizer, model = load_backbone(cfg, revision)
    if not tokenizer.chat_template:
        raise UserError(f"{cfg.model_id}: tokenizer has no chat template")
    examples = [ex for cat, recs in records_by_category.items() for ex in sft_examples(task_type, cat, recs)]
    categories = [cat for cat, recs in records_by_category.items() for _ in recs]
    if not examples:
        raise UserError("no training records in the selected categories")
    if not _closes_with_eos(tokenizer, examples[0]):
        log.info("chat template does not end the assistant turn with EOS: appending %r", tokenizer.eos_token)
        for ex in examples:
            ex["completion"][0]["content"] += tokenizer.eos_token
    dataset = Dataset.from_list(examples).map(
        tokenize_example,
        fn_kwargs={
            "tokenizer": tokenizer,
            "max_length": max_length,
            "completion_only": cfg.completion_only_loss,
        },
        remove_columns=["prompt", "completion"],
        desc="Tokenising",
    )
    report_prompt_mismatch(dataset["prompt_is_prefix"])
    long = report_long_examples(task_type, categories, dataset["num_tokens"], max_length)
    dataset = dataset.remove_columns(["num_tokens", "prompt_is_prefix"])  # TRL keeps input_ids and labels
    trainer = SFTTrainer(
        model=model, args=cfg, train_dataset=dataset, processing_class=tokenizer, peft_config=lora_config(cfg)
    )
    trainer.rmflow_long_examples = long  # recorded in the training summary
    return trainer


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train, save adapter + tokenizer + training summary; return that summary."""
    cfg = resolve_settings(args)
    out = Path(args.output_dir)
    work = Path(args.work_dir) if args.work_dir else out
    cfg.output_dir = str(work)
    start = time.perf_counter()
    records = {
        cat: load_records(cfg.data_path, cat, f"train_{args.task_type}", args.revision)
        for cat in resolve_categories(args.category, cfg.data_path)
    }
    trainer = build_trainer(cfg, records, args.revision)
    history = loss_log()
    trainer.add_callback(history)
    fingerprint = lambda: run_fingerprint(cfg, args.revision, trainer.args.world_size)  # noqa: E731
    resume = resume_point(trainer, work, out, fingerprint, not args.no_resume)
    if resume:
        log.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    data = {
        cat: {"records": len(recs), "cut_to_max_length": trainer.rmflow_long_examples.get(cat, 0)}
        for cat, recs in records.items()
    }
    summary = training_summary(
        cfg, trainer, result, history.history, data, len(trainer.train_dataset), resume, args.revision, start
    )
    if trainer.is_world_process_zero():
        save_checkpoint(trainer, trainer.processing_class, out, work, summary)
        log.info(
            "saved %s adapter to %s (%d steps, train loss %.4f, %.1f s)",
            args.task_type, out, result.global_step, result.training_loss, summary["train_seconds"],
        )  # fmt: skip
    return summary


def run(args: argparse.Namespace) -> None:
    train(args)
