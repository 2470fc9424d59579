"""The files of a local model or adapter, checked before a library loads them.

A ``*.safetensors`` file cut short (a copy or download that stopped, a full disk) or a JSON config
(``adapter_config.json``, ``config.json``) that does not parse into an object would otherwise end in a
library's traceback deep inside loading. Here each is one error naming the file. A safetensors file is
an 8-byte little-endian header length, a JSON header giving each tensor's byte range, then the data:
the file must be as long as the header says. Only headers are read. Light module: no torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rmflow.errors import UserError
from rmflow.io import read_json

#: JSON files of a model directory that loaders read as objects
JSON_CONFIGS = ("adapter_config.json", "config.json")


def safetensors_size(path: Path) -> int:
    """The byte length a safetensors file's header implies; a :class:`UserError` naming the file when it
    cannot tell (too short for a header, a header that is not JSON of tensor byte ranges)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise UserError(
                f"{path}: truncated safetensors file ({len(head)} bytes, shorter than its header)"
            )
        length = int.from_bytes(head, "little")
        size = os.fstat(fh.fileno()).st_size
        if 8 + length > size:
            raise UserError(
                f"{path}: truncated safetensors file ({size} bytes; its header alone claims {8 + length})"
            )
        try:
            header: Any = json.loads(fh.read(length))
            ends = [t["data_offsets"][1] for name, t in header.items() if name != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise UserError(
                f"{path}: not a safetensors file (its header is not a JSON table of tensors)"
            ) from None
    if not all(isinstance(end, int) and end >= 0 for end in ends):
        raise UserError(f"{path}: not a safetensors file (its header gives invalid tensor offsets)")
    return 8 + length + max(ends, default=0)


def check_model_dir(directory: str | os.PathLike[str]) -> None:
    """Every ``*.safetensors`` file of ``directory`` as long as its header says, its JSON configs
    objects, an adapter's weights present; else a :class:`UserError` naming the file."""
    directory = Path(directory)
    for path in sorted(directory.glob("*.safetensors")):
        need, size = safetensors_size(path), path.stat().st_size
        if size < need:
            raise UserError(
                f"{path}: truncated safetensors file ({size} bytes; its header describes {need}): "
                "copy or save it again"
            )
    for name in JSON_CONFIGS:
        if (directory / name).is_file():
            read_json_object(directory / name)
    if (directory / "adapter_config.json").is_file() and not any(
        (directory / f"adapter_model.{ext}").is_file() for ext in ("safetensors", "bin")
    ):
        raise UserError(f"{directory}: an adapter without weights (no adapter_model.safetensors)")


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON file that must hold one object (a model's config); else a :class:`UserError` naming it."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value
