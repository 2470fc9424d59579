"""File I/O shared by every stage: atomic writes and record files with precise error messages.

Outputs get the permissions a plain ``open``/``mkdir`` would give them under the process umask (files
``0666 & ~umask``, directories ``0777 & ~umask``), also when they are staged through ``mkstemp`` /
``mkdtemp`` (created 0600 / 0700) or written by libraries that create 0600 files (safetensors).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rmflow.errors import RecordError, UserError


def current_umask() -> int:
    """The process umask, read from ``/proc`` where available (setting it to probe would race threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike[str]) -> None:
    """Give ``path`` (a file, or a directory and everything under it) the umask's permissions.

    Files become ``0666 & ~umask`` (``0777 & ~umask`` when executable by their owner), directories
    ``0777 & ~umask``; symbolic links are left alone.
    """
    mask = current_umask()

    def fix(p: str) -> None:
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR:
            mode = 0o777 & ~mask
        elif stat.S_ISREG(st.st_mode):
            mode = 0o666 & ~mask
        else:
            return
        if stat.S_IMODE(st.st_mode) != mode:
            os.chmod(p, mode)

    root = os.fspath(path)
    if os.path.islink(root):
        return
    fix(root)
    if os.path.isdir(root):
        for dirpath, dirnames, filenames in os.walk(root):
            for name in (*dirnames, *filenames):
                if not os.path.islink(os.path.join(dirpath, name)):
                    fix(os.path.join(dirpath, name))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        follow_umask(tmp)  # mkstemp creates 0600 (so do writers that replace the file)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def staged_outputs(output_dir: str | os.PathLike[str], last: Sequence[str] = ()) -> Iterator[Path]:
    """A hidden staging directory inside ``output_dir`` for a multi-file output.

    Files written under it are moved into ``output_dir`` (each by an atomic rename) only when the block
    succeeds, so a stage failing part-way (a bad later category) leaves every earlier output as it was.
    Files named in ``last`` (completion markers such as a summary) are moved after all others. Each
    file gets the umask's permissions on the way (:func:`follow_umask`).
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=out))
    try:
        yield staging
        for path in sorted(staging.rglob("*"), key=lambda p: (p.name in last, p)):
            if path.is_file():
                target = out / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                follow_umask(path)
                os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = None) -> None:
    """Write one JSON document atomically. NaN is written as ``NaN`` like the published reward files."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def write_jsonl(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise RecordError(path, f"at byte {exc.start}", None, "not valid UTF-8") from None
    except OSError as exc:  # a directory, no permission, ...
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _loads(text: str, path: Path, where: str) -> Any:
    """``json.loads`` whose failures (bad syntax, absurd nesting) name the file and position."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        pos = where or f"at line {exc.lineno} column {exc.colno}"
        raise RecordError(path, pos, None, f"invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise RecordError(path, where or "(top level)", None, "JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise RecordError(path, where or "(top level)", None, f"invalid JSON ({exc})") from None


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a ``.json`` list of objects or a ``.jsonl`` file of objects; errors name file and record."""
    path = Path(path)
    text = _read_text(path)
    if path.suffix == ".jsonl":
        records = []
        # only "\n" ends a line: str.splitlines() would also split inside strings holding U+2028, U+0085, ...
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            records.append(_loads(line, path, f"at line {lineno}"))
    else:
        records = _loads(text, path, "")
        if not isinstance(records, list):
            raise RecordError(
                path, "(top level)", None, f"expected a JSON list, got {type(records).__name__}"
            )
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise RecordError(path, i, None, f"expected a JSON object, got {type(rec).__name__}")
    return records
