"""What both trainers share: their flags, the typed settings from the command line, the backbone with its
tokenizer, the LoRA configuration, the loss log and the saved checkpoint (adapter, tokenizer, summary).

torch, transformers and PEFT are imported inside functions only.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, TypeVar

from rmflow.adapter_base import make_base_portable
from rmflow.cli_args import add_once
from rmflow.errors import UserError
from rmflow.io import staged_outputs, write_json
from rmflow.model_loading import backbone_ref, load_model, load_tokenizer
from rmflow.presets import parse_overrides
from rmflow.train_config import FLAG_KEYS, PresetFields
from rmflow.train_summary import SUMMARY_FILE
from rmflow.training_resume import clear_work_dir, work_fingerprint

log = logging.getLogger(__name__)

Config = TypeVar("Config", bound=PresetFields)


def add_arguments(group: Any) -> None:
    """Training flags of both families (defined once)."""
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


def config_from_args(config_class: type[Config], args: argparse.Namespace) -> Config:
    """The typed settings of ``rmflow train``: ``--config`` preset, ``--set`` overrides, flags (flags win)."""
    if not args.config:
        raise UserError(f"--config is required for {args.task_type} training (e.g. {args.task_type}-tiny)")
    return config_class.from_preset(
        args.config,
        parse_overrides(args.set),
        {key: getattr(args, key, None) for key in FLAG_KEYS},
        task_type=args.task_type,
        seed=args.seed,
        category=args.category,
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
    )


def run_fingerprint(cfg: Any, revision: str | None, world_size: int) -> dict[str, Any]:
    """What the checkpoints of a run with settings ``cfg`` (a family's training config) depend on
    (:func:`rmflow.training_resume.work_fingerprint`)."""
    run = {**cfg.settings, "preset": cfg.preset, "category": cfg.category, "seed": cfg.seed}
    return work_fingerprint(run, revision, world_size)


def load_backbone(cfg: PresetFields, revision: str | None = None) -> tuple[Any, Any]:
    """Tokenizer and causal LM of ``cfg.model_id`` (bf16 weights when training in bf16 on a GPU)."""
    import torch

    ref = backbone_ref(cfg.model_id or "", revision)
    bf16 = cfg.bf16 and torch.cuda.is_available()
    return load_tokenizer(ref), load_model(ref, torch.bfloat16 if bf16 else torch.float32)


def lora_config(cfg: PresetFields) -> Any:
    """PEFT's LoRA configuration of the preset's ``lora_*`` keys."""
    from peft import LoraConfig

    return LoraConfig(
        r=int(cfg.lora_r),
        lora_alpha=int(cfg.lora_alpha),
        lora_dropout=float(cfg.lora_dropout),
        target_modules=cfg.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def loss_log() -> Any:
    """A trainer callback whose ``history`` holds this run's logged losses (``step``, ``loss``)."""
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict[str, float]] = []

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.history.append({"step": state.global_step, "loss": float(logs["loss"])})
                if state.is_world_process_zero:
                    log.info("step %d/%d loss %.4f", state.global_step, state.max_steps, float(logs["loss"]))

    return LossLog()


def save_checkpoint(trainer: Any, tokenizer: Any, out: Path, work: Path, summary: dict[str, Any]) -> None:
    """Adapter, tokenizer and summary (last: it marks a finished training) into ``out``; then the
    checkpoints in ``work`` are removed. Main process only."""
    with staged_outputs(out, last=(SUMMARY_FILE,)) as tmp:
        trainer.model.save_pretrained(tmp)
        make_base_portable(tmp, out)  # a backbone in the same results tree: by relative path
        tokenizer.save_pretrained(tmp)
        write_json(tmp / SUMMARY_FILE, summary, indent=1)
    clear_work_dir(work, out)  # finished: resume state no longer needed
