"""Resuming training across kills: a work directory of checkpoints keyed by what the run trains.

The work directory (``rmflow train --work_dir``) holds one run's ``checkpoint-N`` directories and the
fingerprint of that run: settings, the content of backbone and data, and the number of processes. A
restart with the same fingerprint resumes from the last complete checkpoint
(:func:`rmflow.checkpoints.last_complete_checkpoint`); any other start drops the old checkpoints first; a
finished run deletes the work directory (only the checkpoints when it is the output directory, the
generative default). Light module: the trainer is passed in, never imported.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rmflow.checkpoints import CHECKPOINT_NAME, last_complete_checkpoint
from rmflow.errors import UserError
from rmflow.fingerprint import source_fingerprint
from rmflow.io import write_text

log = logging.getLogger(__name__)

#: the fingerprint of the run whose checkpoints a work directory holds
FINGERPRINT_FILE = ".rmflow_fingerprint.json"


def work_fingerprint(settings: dict[str, Any], revision: str | None, world_size: int) -> dict[str, Any]:
    """What a run's checkpoints depend on; ``settings`` names ``model_id`` and ``data_path``, whose content
    counts instead of their paths."""
    return {
        "settings": {k: v for k, v in settings.items() if k not in ("model_id", "data_path")},
        "backbone": source_fingerprint(settings["model_id"], revision),
        "data": source_fingerprint(settings["data_path"], revision),
        "world_size": world_size,
    }


def _checkpoints(work: Path) -> list[Path]:
    if not work.is_dir():
        return []
    return [p for p in work.iterdir() if p.is_dir() and CHECKPOINT_NAME.match(p.name)]


def _is_output(work: Path, output_dir: str | Path) -> bool:
    """True when the work directory is the output directory itself (the generative default)."""
    return work.resolve() == Path(output_dir).resolve()


def prepare_work_dir(
    work_dir: str | Path, output_dir: str | Path, fingerprint: dict[str, Any], resume: bool = True
) -> str | None:
    """The checkpoint to resume from in ``work_dir`` (None: start over).

    Checkpoints of a run with another fingerprint (or none recorded), or all of them when ``resume`` is
    false, are removed first; then ``fingerprint`` is recorded. A work directory other than
    ``output_dir`` must be new, empty or one of ours (it is deleted when training ends). Main process only.
    """
    work = Path(work_dir)
    text = json.dumps(fingerprint, sort_keys=True)
    marker = work / FINGERPRINT_FILE
    recorded = marker.read_text(encoding="utf-8") if marker.is_file() else None
    old = _checkpoints(work)
    foreign = recorded is None and not old and work.is_dir() and any(work.iterdir())
    if foreign and not _is_output(work, output_dir):
        raise UserError(
            f"--work_dir {work}: holds other files (no {FINGERPRINT_FILE}, no checkpoint-N); "
            "give a new or empty directory, it is deleted when training ends"
        )
    if old and (not resume or recorded != text):
        why = "--no_resume" if not resume else "settings, data or backbone changed"
        log.info("%s: removing %d checkpoint(s) of an earlier run (%s)", work, len(old), why)
        clear_work_dir(work, output_dir)
    write_text(marker, text)
    return last_complete_checkpoint(work) if resume else None


def clear_work_dir(work_dir: str | Path, output_dir: str | Path) -> None:
    """Delete the work directory; if it is ``output_dir``, only its checkpoints and fingerprint."""
    work = Path(work_dir)
    if not _is_output(work, output_dir):
        shutil.rmtree(work, ignore_errors=True)
        return
    for path in _checkpoints(work):
        shutil.rmtree(path)
    (work / FINGERPRINT_FILE).unlink(missing_ok=True)


def resume_point(
    trainer: Any,
    work_dir: str | Path,
    output_dir: str | Path,
    fingerprint: Callable[[], dict[str, Any]],
    resume: bool,
) -> str | None:
    """The checkpoint an HF ``trainer`` resumes from; the main process prepares ``work_dir`` first (and
    alone computes ``fingerprint()``, which hashes the backbone and data)."""
    with trainer.args.main_process_first(local=False, desc="training work directory"):
        if trainer.is_world_process_zero():
            return prepare_work_dir(work_dir, output_dir, fingerprint(), resume)
        return last_complete_checkpoint(work_dir) if resume else None
