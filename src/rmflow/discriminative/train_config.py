"""dORM/dPRM training settings: ``transformers.TrainingArguments`` with the preset's LoRA and data fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import TrainingArguments

from rmflow.train_config import PresetFields


@dataclass(kw_only=True)
class DiscriminativeTrainingConfig(PresetFields, TrainingArguments):
    """A dORM/dPRM preset as the ``Trainer``'s arguments; examples longer than ``max_length`` are dropped."""

    cpu_bf16: bool  # bf16 also without a GPU (else fp32 there)

    @classmethod
    def use_bf16(cls, settings: dict[str, Any], cuda: bool) -> bool:
        import torch

        wanted = bool(settings["bf16"])
        return wanted and torch.cuda.is_bf16_supported() if cuda else wanted and bool(settings["cpu_bf16"])

    @classmethod
    def run_arguments(cls, settings: dict[str, Any], cuda: bool) -> dict[str, Any]:
        return {
            "logging_first_step": True,
            "remove_unused_columns": False,  # the collator reads input_ids and labels
            "ddp_find_unused_parameters": False,
            "use_cpu": not cuda,
        }
