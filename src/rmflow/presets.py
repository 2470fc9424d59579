"""Training presets: YAML files of hyper-parameters plus ``--set KEY=VALUE`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rmflow.errors import UserError

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


def load_preset(name_or_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load a preset and apply overrides; unknown override keys are an error naming the key."""
    path = preset_path(name_or_path)
    try:
        preset = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(preset, dict):
        raise UserError(f"{path}: expected a mapping of hyper-parameters")
    for key, value in (overrides or {}).items():
        if key not in preset:
            raise UserError(f"{path}: override of unknown key {key!r} (known: {', '.join(sorted(preset))})")
        preset[key] = value
    return preset


def gradient_accumulation(effective_batch: int, per_device: int, world_size: int) -> int:
    """Accumulation steps so that per_device x world_size x steps == effective_batch (must divide)."""
    denom = per_device * world_size
    if effective_batch % denom:
        raise UserError(
            f"effective batch {effective_batch} is not a multiple of per-device batch {per_device} x {world_size} processes"
        )
    return effective_batch // denom
