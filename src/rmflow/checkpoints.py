"""Checkpoints: which training checkpoint to resume from, and whether a model is a LoRA adapter.

The HF ``Trainer`` writes ``checkpoint-{step}/`` in place, ``trainer_state.json`` last, so a run killed
while saving leaves a newest checkpoint without (or with a truncated) ``trainer_state.json``;
``transformers.trainer_utils.get_last_checkpoint`` would still pick it and the resume would fail. Here
only complete checkpoints count. Light module: no torch, no transformers.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from rmflow.adapter_base import BASE_KEY, resolve_base
from rmflow.errors import UserError
from rmflow.model_files import check_model_dir, read_json_object

log = logging.getLogger(__name__)

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.json"


def is_complete(checkpoint: str | Path) -> bool:
    """True if the checkpoint's ``trainer_state.json`` (written last) exists and parses."""
    try:
        json.loads((Path(checkpoint) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def last_complete_checkpoint(folder: str | Path) -> str | None:
    """Path of the highest-step complete ``checkpoint-N`` directory in ``folder`` (None if there is none)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    steps = sorted(
        (
            (int(m.group(1)), p)
            for p in folder.iterdir()
            if p.is_dir() and (m := CHECKPOINT_NAME.match(p.name))
        ),
        reverse=True,
    )
    for _, path in steps:
        if is_complete(path):
            return str(path)
        log.warning("%s is incomplete (a run killed while saving it); resuming from an earlier one", path)
    return None


def adapter_config(model_id: str, revision: str | None = None) -> dict[str, Any] | None:
    """``adapter_config.json`` of a LoRA adapter (local directory or hub id), or None for a full model.

    A local model's files, and those of a local adapter's base, are checked first
    (:func:`rmflow.model_files.check_model_dir`): a truncated weight file or a config that is not a JSON
    object is one error naming it.

    A local adapter's base recorded relative to it (:mod:`rmflow.adapter_base`) comes back resolved
    against the adapter's directory, so a moved results tree loads its own backbone.
    """
    local = Path(model_id)
    if local.is_dir():
        check_model_dir(local)
        path = local / "adapter_config.json"
        if not path.is_file():
            return None
        cfg = read_json_object(path)
        if isinstance(cfg.get(BASE_KEY), str):
            cfg[BASE_KEY] = resolve_base(cfg[BASE_KEY], local)
            if Path(cfg[BASE_KEY]).is_dir():
                check_model_dir(cfg[BASE_KEY])
        return cfg
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = hf_hub_download(model_id, "adapter_config.json", revision=revision)
    except EntryNotFoundError:  # also the offline miss of a cached full model
        return None
    except Exception as exc:  # network, auth, missing repo
        raise UserError(f"--model_id {model_id}: cannot reach the model: {exc}") from None
    return read_json_object(path)
