"""Which training checkpoint to resume from.

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

log = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
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
        ((int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))),
        reverse=True,
    )
    for _, path in steps:
        if is_complete(path):
            return str(path)
        log.warning("%s is incomplete (a run killed while saving it); resuming from an earlier one", path)
    return None
