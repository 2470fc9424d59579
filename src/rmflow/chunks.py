"""Resumable chunked outputs for long scoring/generation jobs.

Completed chunks are written atomically to ``{work_dir}/{name}.{index:05d}.json`` as they finish; a
restarted job skips chunks already on disk, so a killed run recomputes only what is missing. The
caller assembles each final file from :meth:`ChunkStore.load_all`; when the whole stage is done it calls
:func:`clear_chunks`, so that a rerun of a stage whose outputs were deleted (Snakemake's
``rerun-incomplete``) still finds the chunks of the categories finished before the kill, as long as
``work_dir`` lies outside the outputs. Each store's fingerprint should cover the content of what its
chunks are computed from (see :mod:`rmflow.fingerprint`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from rmflow.errors import UserError
from rmflow.io import write_json, write_text

T = TypeVar("T")


def split(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Consecutive chunks of at most ``size`` items."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


class ChunkStore:
    """Chunk files of one job (e.g. one category of one reward run)."""

    def __init__(self, work_dir: str | Path, name: str, fingerprint: dict[str, Any] | None = None):
        self.dir = Path(work_dir)
        self.name = name
        self.dir.mkdir(parents=True, exist_ok=True)
        marker = self.dir / f"{name}.fingerprint.json"
        # Chunks computed under other settings are stale: drop them.
        if fingerprint is not None:
            text = json.dumps(fingerprint, sort_keys=True)
            if marker.exists() and marker.read_text() != text:
                self.clear()
                self.dir.mkdir(parents=True, exist_ok=True)
            write_text(marker, text)

    def path(self, index: int) -> Path:
        return self.dir / f"{self.name}.{index:05d}.json"

    def done(self, index: int) -> bool:
        return self.path(index).exists()

    def save(self, index: int, records: list[Any]) -> None:
        write_json(self.path(index), records)

    def load(self, index: int) -> list[Any]:
        path = self.path(index)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:  # damaged outside this program (chunks are written atomically)
            raise UserError(
                f"{path}: unreadable chunk ({exc}); delete it and rerun to recompute it"
            ) from None

    def load_all(self, count: int) -> list[Any]:
        """Concatenate chunks ``0..count-1`` in order."""
        return [rec for i in range(count) for rec in self.load(i)]

    def clear(self) -> None:
        """Remove this job's chunks and any temporary files a killed run left (after the final output is in place)."""
        clear_chunks(self.dir, [self.name])


def clear_chunks(work_dir: str | Path, names: Sequence[str]) -> None:
    """Remove the chunks (and temporary files a killed run left) of jobs ``names``, and ``work_dir`` once empty."""
    work = Path(work_dir)
    for name in names:
        for p in [*work.glob(f"{name}.*"), *work.glob(f".{name}.*.tmp")]:
            p.unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError, OSError):  # gone, or not empty
        work.rmdir()
