"""Typed training settings: a family's Hugging Face arguments class plus the LoRA and data fields.

Each family declares its dataclass beside its trainer, from :class:`PresetFields` and the arguments
class that trainer takes (:mod:`rmflow.discriminative.train_config`, :mod:`rmflow.generative.train_config`).
The fields those classes declare are the preset keys (``config/presets/*.yaml``); the ones without a
default are required. :meth:`PresetFields.from_preset` reads a preset (:func:`rmflow.presets.load_preset`:
YAML, value checks, ``--set`` overrides), applies the command-line flags, refuses a key the dataclass does
not know and derives the Hugging Face arguments the keys stand for (accumulation, warm-up, precision,
checkpointing). Light at import: the family modules import transformers / TRL.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from rmflow.errors import UserError
from rmflow.presets import gradient_accumulation, load_preset, preset_path

Config = TypeVar("Config", bound="PresetFields")

#: command-line flags that override their preset key
FLAG_KEYS = ("model_id", "data_path", "per_device_batch_size", "max_steps", "save_steps")


def checkpointing_args(enabled: bool, arguments_class: type) -> dict[str, Any]:
    """Gradient-checkpointing arguments under the name this transformers version uses."""
    params = inspect.signature(arguments_class.__init__).parameters
    name = "activation_checkpointing" if "activation_checkpointing" in params else "gradient_checkpointing"
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False}}


@dataclass(kw_only=True)
class PresetFields:
    """The preset keys of both families; a family's dataclass adds its own and the arguments class."""

    #: preset keys filling a field of another name
    PRESET_ALIASES: ClassVar[dict[str, str]] = {"max_length": "example_max_length"}
    #: fields that are not preset keys: where the settings came from
    RUN_FIELDS: ClassVar[tuple[str, ...]] = ("preset", "category", "settings")

    task_type: str
    model_id: str | None = None  # backbone: hub id or directory (--model_id)
    data_path: str | None = None  # training data: hub id or directory (--data_path)
    example_max_length: int | None  # preset key max_length: longer examples are dropped or cut
    lora_r: int
    lora_alpha: float
    lora_dropout: float
    lora_target_modules: str | list[str]
    effective_batch_size: int  # per-device batch x processes x accumulation (accumulation derived)
    per_device_batch_size: int
    warmup_ratio: float  # passed as warmup_steps (a float below 1 is a ratio)
    # Hugging Face arguments every preset gives
    learning_rate: float
    num_train_epochs: float
    max_steps: int
    lr_scheduler_type: str
    weight_decay: float
    bf16: bool  # wanted; the argument holds whether this device uses it
    gradient_checkpointing: bool
    save_steps: int
    save_total_limit: int | None
    logging_steps: int
    # not preset keys
    preset: str = ""  # the --config given
    category: str = "all"
    settings: dict[str, Any] = field(default_factory=dict)  # the preset keys as given (with overrides)

    @classmethod
    def preset_fields(cls) -> dict[str, dataclasses.Field]:
        """Preset key -> field: the fields the rmflow classes declare, run fields aside."""
        names = {
            name
            for klass in cls.__mro__
            if klass.__module__.startswith("rmflow.")
            for name in getattr(klass, "__annotations__", {})
        }
        key_of = {f: k for k, f in cls.PRESET_ALIASES.items()}
        return {
            key_of.get(f.name, f.name): f
            for f in dataclasses.fields(cls)
            if f.name in names and f.name not in cls.RUN_FIELDS
        }

    @classmethod
    def use_bf16(cls, settings: dict[str, Any], cuda: bool) -> bool:
        """Whether training runs in bf16 on this device (``bf16``: wanted where supported)."""
        import torch

        return bool(settings["bf16"]) and cuda and torch.cuda.is_bf16_supported()

    @classmethod
    def run_arguments(cls, settings: dict[str, Any], cuda: bool) -> dict[str, Any]:
        """The family's fixed Hugging Face arguments."""
        return {}

    @classmethod
    def from_preset(
        cls: type[Config],
        preset: str,
        overrides: dict[str, Any] | None = None,
        flags: dict[str, Any] | None = None,
        *,
        task_type: str,
        seed: int,
        output_dir: str | None = None,
        category: str = "all",
        world_size: int = 1,
    ) -> Config:
        """Settings of ``preset`` with ``--set`` ``overrides`` and command-line ``flags`` (flags win;
        None: not given); errors name the preset file and the key."""
        import torch

        path = preset_path(preset)
        settings = load_preset(preset, overrides)
        settings.update({k: v for k, v in (flags or {}).items() if v is not None})
        known = cls.preset_fields()
        for key in settings:
            if key not in known:
                raise UserError(
                    f"{path}: key {key!r} is not a {task_type} training setting (known: {', '.join(sorted(known))})"
                )
        for key, f in known.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and key not in settings:
                raise UserError(f"{path}: missing key {key!r}")
        if settings["task_type"] != task_type:
            raise UserError(f"preset {preset} is for {settings['task_type']}, not --task_type {task_type}")
        if not settings.get("model_id") or not settings.get("data_path"):
            raise UserError("--model_id and --data_path are required (or set them in the preset)")
        cuda = torch.cuda.is_available()
        values = {  # YAML integers of float fields as floats
            known[key].name: float(v) if known[key].type == "float" and isinstance(v, int) else v
            for key, v in settings.items()
        }
        per_device, warmup = int(settings["per_device_batch_size"]), float(settings["warmup_ratio"])
        accumulation = gradient_accumulation(int(settings["effective_batch_size"]), per_device, world_size)
        derived = {
            "per_device_train_batch_size": per_device,
            "gradient_accumulation_steps": accumulation,
            "warmup_steps": warmup,
            **checkpointing_args(bool(settings["gradient_checkpointing"]), cls),
            "bf16": cls.use_bf16(settings, cuda),
            "output_dir": output_dir,
            "save_strategy": "steps",
            "seed": seed,
            "data_seed": seed,
            "report_to": "none",
            **cls.run_arguments(settings, cuda),
        }
        try:
            return cls(**{**values, **derived}, preset=preset, category=category, settings=settings)
        except (TypeError, ValueError) as exc:  # a value the arguments class refuses
            raise UserError(f"{path}: {exc}") from None
