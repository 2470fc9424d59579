"""``rmflow train --task_type gORM|gPRM``: LoRA SFT of a generative reward model.

Prompt-completion conversational data: user = ORM/PRM prompt built from the record's category,
question and CoT; assistant = ``critique`` (the chat template closes the turn with EOS). Examples are
tokenised, labelled and cut to ``max_length`` tokens as the published adapters' were
(:mod:`rmflow.generative.sft_data`; the paper presets: 1024, null: no cap; how many are cut is logged
per category and recorded), the loss on the completion only unless ``completion_only_loss`` is false.
Hyper-parameters come from a preset (``config/presets/g{ORM,PRM}-*.yaml``, ``--set KEY=VALUE``
overrides); gradient accumulation is derived so that per-device batch x processes x accumulation =
``effective_batch_size``.
DeepSeek-R1 backbones get the reasoning-keeping chat template, saved with the adapter. Checkpoints go to
``--work_dir`` (default ``OUT``) as ``checkpoint-*``; a rerun with the same settings, data and backbone
resumes from the last one (:mod:`rmflow.training_resume`), and they are removed once the adapter is
saved. Output: LoRA adapter + tokenizer + ``rmflow_train.json`` (settings, data counts, loss history).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from rmflow.adapter_base import make_base_portable
from rmflow.categories import resolve_categories
from rmflow.chat_template import KEEP_REASONING_TEMPLATE, is_deepseek_r1
from rmflow.data import load_records
from rmflow.discriminative import add_once
from rmflow.discriminative.train import _checkpointing_args
from rmflow.errors import UserError
from rmflow.generative.sft_data import (
    report_long_examples,
    report_prompt_mismatch,
    sft_examples,
    tokenize_example,
)
from rmflow.io import staged_outputs, write_json
from rmflow.presets import gradient_accumulation, load_preset, parse_overrides
from rmflow.training_resume import clear_work_dir, resume_point, work_fingerprint

log = logging.getLogger(__name__)


def add_arguments(group: Any) -> None:
    """Training flags; shared with the discriminative family (same meaning, defined once)."""
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


def prepare_tokenizer(model_id: str, revision: str | None = None) -> Any:
    """Backbone tokenizer; DeepSeek-R1 backbones get :data:`KEEP_REASONING_TEMPLATE`; a pad token is set."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_id, revision=revision)
    except (OSError, ValueError) as exc:  # missing files / not a tokenizer directory
        raise UserError(f"{model_id}: cannot load tokenizer: {exc}") from None
    if is_deepseek_r1(model_id, tok.chat_template):
        tok.chat_template = KEEP_REASONING_TEMPLATE
    if not tok.chat_template:
        raise UserError(f"{model_id}: tokenizer has no chat template")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _closes_with_eos(tokenizer: Any, example: dict[str, Any]) -> bool:
    text = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    return text.rstrip().endswith(tokenizer.eos_token)


def build_trainer(
    task_type: str,
    preset: dict[str, Any],
    model_id: str,
    records_by_category: dict[str, list[dict[str, Any]]],
    output_dir: str | Path,
    per_device_batch_size: int,
    seed: int = 42,
    revision: str | None = None,
) -> Any:
    """A ready ``trl.SFTTrainer`` (LoRA model, tokenised prompt-completion dataset, SFTConfig); its
    ``rmflow_long_examples`` holds, per category, how many examples ``max_length`` cuts."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    tokenizer = prepare_tokenizer(model_id, revision)
    examples = [ex for cat, recs in records_by_category.items() for ex in sft_examples(task_type, cat, recs)]
    categories = [cat for cat, recs in records_by_category.items() for _ in recs]
    if not examples:
        raise UserError("no training records in the selected categories")
    if not _closes_with_eos(tokenizer, examples[0]):
        log.info("chat template does not end the assistant turn with EOS: appending %r", tokenizer.eos_token)
        for ex in examples:
            ex["completion"][0]["content"] += tokenizer.eos_token
    max_length = preset.get("max_length")
    # null: TRL's default, which for prompt-completion data is the completion only
    completion_only = preset.get("completion_only_loss") is not False
    dataset = Dataset.from_list(examples).map(
        tokenize_example,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "completion_only": completion_only},
        remove_columns=["prompt", "completion"],
        desc="Tokenising",
    )
    report_prompt_mismatch(dataset["prompt_is_prefix"])
    long = report_long_examples(task_type, categories, dataset["num_tokens"], max_length)
    dataset = dataset.remove_columns(["num_tokens", "prompt_is_prefix"])  # TRL keeps input_ids and labels
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accum = gradient_accumulation(int(preset["effective_batch_size"]), per_device_batch_size, world)
    bf16 = bool(preset.get("bf16")) and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    model = AutoModelForCausalLM.from_pretrained(
        model_id, dtype=torch.bfloat16 if bf16 else torch.float32, revision=revision
    )
    config = SFTConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=per_device_batch_size,
        gradient_accumulation_steps=accum,
        learning_rate=float(preset["learning_rate"]),
        num_train_epochs=float(preset["num_train_epochs"]),
        max_steps=int(preset.get("max_steps", -1)),
        lr_scheduler_type=preset["lr_scheduler_type"],
        warmup_steps=float(preset["warmup_ratio"]),  # a float < 1 is a ratio of the total steps
        weight_decay=float(preset["weight_decay"]),
        bf16=bf16,
        **_checkpointing_args(bool(preset["gradient_checkpointing"])),  # the name this transformers uses
        max_length=None,  # examples are cut already: TRL would also drop fully masked ones
        completion_only_loss=completion_only,
        logging_steps=int(preset.get("logging_steps", 10)),
        save_strategy="steps",
        save_steps=int(preset.get("save_steps", 200)),
        save_total_limit=preset.get("save_total_limit"),
        seed=seed,
        data_seed=seed,
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )
    lora = LoraConfig(
        r=int(preset["lora_r"]),
        lora_alpha=int(preset["lora_alpha"]),
        lora_dropout=float(preset["lora_dropout"]),
        target_modules=preset.get("lora_target_modules", "all-linear"),
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora
    )
    trainer.rmflow_long_examples = long  # recorded in rmflow_train.json
    return trainer


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train, save adapter + tokenizer + ``rmflow_train.json``; return that summary."""
    if not args.config:
        raise UserError(f"--config is required for {args.task_type} training (e.g. {args.task_type}-14B)")
    preset = load_preset(args.config, parse_overrides(args.set))
    for key in ("max_steps", "save_steps"):
        if getattr(args, key, None) is not None:
            preset[key] = getattr(args, key)
    if preset.get("task_type", args.task_type) != args.task_type:
        raise UserError(f"preset {args.config} is for {preset['task_type']}, not {args.task_type}")
    model_id = args.model_id or preset.get("model_id")
    data_path = args.data_path or preset.get("data_path")
    if not model_id or not data_path:
        raise UserError("--model_id and --data_path are required (or set them in the preset)")
    per_device = args.per_device_batch_size or int(preset.get("per_device_batch_size", 4))
    out = Path(args.output_dir)
    work = Path(args.work_dir) if args.work_dir else out
    records = {
        cat: load_records(data_path, cat, f"train_{args.task_type}", args.revision)
        for cat in resolve_categories(args.category, data_path)
    }
    trainer = build_trainer(
        args.task_type, preset, model_id, records, work, per_device, args.seed, args.revision
    )
    settings = {
        "task_type": args.task_type,
        "preset": args.config,
        "settings": preset,
        "model_id": model_id,
        "data_path": data_path,
        "category": args.category,
        "per_device_batch_size": per_device,
        "seed": args.seed,
    }
    fingerprint = lambda: work_fingerprint(settings, args.revision, trainer.args.world_size)  # noqa: E731
    resume = resume_point(trainer, work, out, fingerprint, not args.no_resume)
    if resume:
        log.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    summary = _summary(args, preset, model_id, data_path, records, per_device, trainer, result, resume)
    if trainer.is_world_process_zero():  # adapter, tokenizer, then the summary as completion marker
        with staged_outputs(out, last=("rmflow_train.json",)) as tmp:
            trainer.model.save_pretrained(tmp)
            make_base_portable(tmp, out)  # a backbone in the same results tree: by relative path
            trainer.processing_class.save_pretrained(tmp)
            write_json(tmp / "rmflow_train.json", summary, indent=2)
        clear_work_dir(work, out)  # finished: resume state no longer needed
        seconds = result.metrics.get("train_runtime", 0.0)
        log.info(
            "saved %s adapter to %s (%d steps, train loss %.4f, %.1f s)",
            args.task_type, out, result.global_step, result.training_loss, seconds,
        )  # fmt: skip
    return summary


def _summary(
    args: argparse.Namespace,
    preset: dict[str, Any],
    model_id: str,
    data_path: str,
    records: dict[str, list[Any]],
    per_device: int,
    trainer: Any,
    result: Any,
    resume: str | None,
) -> dict[str, Any]:
    import peft
    import torch
    import transformers
    import trl

    return {
        "task_type": args.task_type,
        "model_id": model_id,
        "data_path": str(data_path),
        "revision": args.revision,
        "records": {cat: len(recs) for cat, recs in records.items()},
        "cut_to_max_length": trainer.rmflow_long_examples,
        "preset": preset,
        "per_device_batch_size": per_device,
        "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
        "world_size": trainer.args.world_size,
        "bf16": trainer.args.bf16,
        "seed": args.seed,
        "chat_template_replaced": is_deepseek_r1(model_id, None)
        or trainer.processing_class.chat_template == KEEP_REASONING_TEMPLATE,
        "resumed_from": resume,
        "global_steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "metrics": result.metrics,
        "log_history": trainer.state.log_history,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "trl": trl.__version__,
        },
    }


def run(args: argparse.Namespace) -> None:
    train(args)
