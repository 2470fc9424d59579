"""Training presets: YAML files of hyper-parameters plus ``--set KEY=VALUE`` overrides."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rmflow.config_checks import duplicate_key
from rmflow.errors import UserError
from rmflow.names import TASK_TYPES

PRESET_DIR = Path(__file__).resolve().parents[2] / "config" / "presets"


def preset_path(name_or_path: str) -> Path:
    """A preset file: an existing path, or a name under ``config/presets`` (``dORM-14B`` -> dORM-14B.yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = PRESET_DIR / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    raise UserError(f"preset {name_or_path!r}: no such file (and no {candidate})")


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["lora_r=8", "lr=2e-4"]`` -> ``{"lora_r": 8, "lr": 0.0002}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _int(lo: int | None = None, null: bool = False) -> Callable[[Any], bool]:
    return lambda v: (
        (v is None and null) or (isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo))
    )


def _number(lo: float, hi: float = math.inf, open_lo: bool = False, open_hi: bool = False):
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)

    return ok


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


#: schedulers of ``transformers.SchedulerType`` (checked here, before any model is loaded)
SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
    "greedy",
)
#: value checks of preset keys: (check, expectation); which keys a family takes is its training config's
#: (:mod:`rmflow.train_config`)
PRESET_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "task_type": (lambda v: v in TASK_TYPES, f"one of {', '.join(TASK_TYPES)}"),
    "model_id": (lambda v: v is None or _is_str(v), "a hub id, a directory or null"),
    "data_path": (lambda v: v is None or _is_str(v), "a hub id, a directory or null"),
    "max_length": (_int(1, null=True), "a positive integer or null"),
    "lora_r": (_int(1), "a positive integer"),
    "lora_alpha": (_number(0, open_lo=True), "a positive number"),
    "lora_dropout": (_number(0, 1, open_hi=True), "a number in [0, 1)"),
    "lora_target_modules": (
        lambda v: _is_str(v) or (isinstance(v, list) and len(v) > 0 and all(map(_is_str, v))),
        "a module name pattern or a non-empty list of module names",
    ),
    "learning_rate": (_number(0, open_lo=True), "a positive number"),
    "num_train_epochs": (_number(0, open_lo=True), "a positive number"),
    "max_steps": (lambda v: _int(1)(v) or v == -1, "a positive integer or -1 (whole epochs)"),
    "effective_batch_size": (_int(1), "a positive integer"),
    "per_device_batch_size": (_int(1), "a positive integer"),
    "lr_scheduler_type": (lambda v: v in SCHEDULERS, f"one of {', '.join(SCHEDULERS)}"),
    "warmup_ratio": (_number(0, 1), "a number in [0, 1]"),
    "weight_decay": (_number(0), "a non-negative number"),
    "bf16": (lambda v: isinstance(v, bool), "true or false"),
    "cpu_bf16": (lambda v: isinstance(v, bool), "true or false"),
    "gradient_checkpointing": (lambda v: isinstance(v, bool), "true or false"),
    "completion_only_loss": (lambda v: v is None or isinstance(v, bool), "true, false or null"),
    "save_steps": (_int(1), "a positive integer"),
    "save_total_limit": (_int(1, null=True), "a positive integer or null"),
    "logging_steps": (_int(1), "a positive integer"),
}


def _coerce(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string: accept numeric strings as numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def validate_preset(preset: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """Check the known keys' values (types, ranges, choices); errors name the file and the key."""
    for key, (ok, expected) in PRESET_KEYS.items():
        if key not in preset:
            continue
        value = preset[key]
        if not ok(value) and isinstance(value, str) and ok(_coerce(value)):
            value = preset[key] = _coerce(value)
        if not ok(value):
            raise UserError(f"{path}: key {key!r}: expected {expected}, got {value!r}")
    return preset


def load_preset(name_or_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load a preset, apply overrides and check the values; an unknown override key is an error."""
    path = preset_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
        preset = yaml.safe_load(text) or {}
        repeated = duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (at byte {exc.start})") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(preset, dict):
        raise UserError(f"{path}: expected a mapping of hyper-parameters")
    if repeated is not None:
        first, repeat, key = repeated
        raise UserError(
            f"{path}, line {repeat.start_mark.line + 1}: key {key!r} given twice (first at line "
            f"{first.start_mark.line + 1}); YAML would silently keep only the last one"
        )
    for key, value in (overrides or {}).items():
        if key not in preset:
            raise UserError(f"{path}: override of unknown key {key!r} (known: {', '.join(sorted(preset))})")
        preset[key] = value
    where = f"{path} (with --set {', '.join(overrides)})" if overrides else path
    return validate_preset(preset, where)


def gradient_accumulation(effective_batch: int, per_device: int, world_size: int) -> int:
    """Accumulation steps so that per_device x world_size x steps == effective_batch (must divide)."""
    denom = per_device * world_size
    if effective_batch % denom:
        raise UserError(
            f"effective batch {effective_batch} is not a multiple of per-device batch {per_device} x {world_size} processes"
        )
    return effective_batch // denom
