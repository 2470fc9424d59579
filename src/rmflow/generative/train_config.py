"""gORM/gPRM training settings: ``trl.SFTConfig`` with the preset's LoRA and data fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trl import SFTConfig

from rmflow.train_config import PresetFields


@dataclass(kw_only=True)
class GenerativeTrainingConfig(PresetFields, SFTConfig):
    """A gORM/gPRM preset as the ``SFTTrainer``'s arguments. Examples are cut to the preset's
    ``max_length`` before training (:mod:`rmflow.generative.sft_data`), so TRL's own ``max_length`` is
    null: TRL would also drop examples whose prompt alone fills it."""

    #: null: TRL's default, for prompt-completion data the completion only; false: the whole sequence
    completion_only_loss: bool | None = None

    @classmethod
    def run_arguments(cls, settings: dict[str, Any], cuda: bool) -> dict[str, Any]:
        return {
            "max_length": None,
            "completion_only_loss": settings.get("completion_only_loss") is not False,
            "dataloader_pin_memory": cuda,
            "disable_tqdm": False,
        }
