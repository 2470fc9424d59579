"""File I/O shared by every stage: atomic writes and record files with precise error messages.

Outputs get the permissions a plain ``open``/``mkdir`` would give them under the process umask (files
``0666 & ~umask``, directories ``0777 & ~umask``), also when they are staged through ``mkstemp`` /
``mkdtemp`` (created 0600 / 0700) or written by libraries that create 0600 files (safetensors).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rmflow.errors import RecordError, UserError, WriteError
from rmflow.strict_json import Parsed


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


#: errno values that only a write gives: the output's disk, quota or file system refuses it
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def write_problem(exc: OSError) -> str:
    """What an ``OSError`` of a write says, for a :class:`~rmflow.errors.WriteError`."""
    return exc.strerror or str(exc)


def make_dir(directory: str | os.PathLike[str]) -> Path:
    """``mkdir -p``; a file in the way or a refusal is a :class:`~rmflow.errors.WriteError` naming it."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise WriteError(blocker, "exists and is not a directory") from None
        raise WriteError(directory, write_problem(exc)) from None
    return directory


def _is_under(filename: object, root: Path) -> bool:
    """True when ``filename`` (an ``OSError``'s) is ``root`` or inside it."""
    if filename is None:
        return False
    path = Path(os.fsdecode(filename) if isinstance(filename, bytes) else str(filename))
    return path == root or root in path.parents


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds.

    A refused write (a full disk, a read-only directory, a file in the way) is a
    :class:`~rmflow.errors.WriteError` naming ``path``, and ``path`` keeps its earlier content.
    """
    target = Path(path)
    make_dir(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError(target, write_problem(exc)) from None
    os.close(fd)
    try:
        try:
            yield Path(tmp)
            follow_umask(tmp)  # mkstemp creates 0600 (so do writers that replace the file)
            os.replace(tmp, target)
        except OSError as exc:
            if exc.filename is None or _is_under(exc.filename, Path(tmp)) or _is_under(exc.filename, target):
                raise WriteError(target, write_problem(exc)) from None
            raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def staged_outputs(output_dir: str | os.PathLike[str], last: Sequence[str] = ()) -> Iterator[Path]:
    """A hidden staging directory inside ``output_dir`` for a multi-file output (:func:`staged_dirs`)."""
    with staged_dirs(output_dir, last=last) as (staging,):
        yield staging


@contextlib.contextmanager
def staged_dirs(*output_dirs: str | os.PathLike[str], last: Sequence[str] = ()) -> Iterator[tuple[Path, ...]]:
    """One hidden staging directory inside each of ``output_dirs``, published all or nothing.

    Files written under the staging directories are moved into their output directories (each by an
    atomic rename) only when the block succeeds, so a stage failing part-way (a bad later category, a
    disk filling up) leaves every earlier output as it was. Files named in ``last`` (completion markers
    such as a summary) are moved after all others. Should a move fail, the files already moved are put
    back as they were. Each file gets the umask's permissions on the way
    (:func:`follow_umask`). A refused write is a :class:`~rmflow.errors.WriteError` naming the output
    file (or directory), not its staging copy.
    """
    outs = [Path(d) for d in output_dirs]
    stagings: list[Path] = []
    try:
        for out in outs:
            make_dir(out)
            try:
                stagings.append(Path(tempfile.mkdtemp(prefix=".staging.", dir=out)))
            except OSError as exc:
                raise WriteError(out, write_problem(exc)) from None
        try:
            yield tuple(stagings)
        except WriteError as exc:
            raise _unstaged(exc, exc.problem, stagings, outs) from None
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS or any(_is_under(exc.filename, s) for s in stagings):
                raise _unstaged(exc, write_problem(exc), stagings, outs) from None
            raise
        _publish(list(zip(stagings, outs, strict=True)), last)
    finally:
        for staging in stagings:
            shutil.rmtree(staging, ignore_errors=True)


def _unstaged(
    exc: OSError | WriteError, problem: str, stagings: Sequence[Path], outs: Sequence[Path]
) -> WriteError:
    """``exc`` as a :class:`~rmflow.errors.WriteError` naming the output a staged path stands for."""
    where = exc.path if isinstance(exc, WriteError) else exc.filename
    for staging, out in zip(stagings, outs, strict=True):
        if _is_under(where, staging):
            return WriteError(out / Path(os.fsdecode(where)).relative_to(staging), problem)
    return WriteError(where if where is not None else outs[0], problem)


def _publish(pairs: Sequence[tuple[Path, Path]], last: Sequence[str] = ()) -> None:
    """Move every file under each ``(staging, output_dir)`` pair's staging directory into the output
    directory, all or nothing: a file it replaces is first hard-linked (else copied) into the staging
    directory, and should a move fail, every file moved so far is put back as it was; then the failure
    is a :class:`~rmflow.errors.WriteError` naming the file."""
    moves = sorted(
        (
            (src, out / src.relative_to(staging), staging)
            for staging, out in pairs
            for src in staging.rglob("*")
        ),
        key=lambda m: (m[0].name in last, m[0]),
    )
    done: list[tuple[Path, Path | None]] = []  # (target, its earlier content kept aside, or None)
    made: list[Path] = []  # directories created for the outputs
    target = Path()
    try:
        for i, (src, target, staging) in enumerate(moves):
            if not src.is_file() or src.is_symlink():
                continue
            kept = None
            if target.is_file() or target.is_symlink():
                kept = staging / f".replaced.{i}"  # removed with the staging directory
                try:
                    os.link(target, kept, follow_symlinks=False)
                except OSError:
                    shutil.copy2(target, kept, follow_symlinks=False)
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            for parent in reversed(missing):
                parent.mkdir()
                made.append(parent)
            follow_umask(src)
            os.replace(src, target)
            done.append((target, kept))
    except OSError as exc:
        for moved, kept in reversed(done):
            with contextlib.suppress(OSError):
                if kept is None:
                    moved.unlink()
                else:
                    os.replace(kept, moved)
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise WriteError(target, write_problem(exc)) from None


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


def _parse(text: str, path: Path, where: str) -> Parsed:
    """:class:`~rmflow.strict_json.Parsed` whose failures (bad syntax, absurd nesting) name the file and
    position."""
    try:
        return Parsed(text)
    except json.JSONDecodeError as exc:
        pos = where or f"at line {exc.lineno} column {exc.colno}"
        raise RecordError(path, pos, None, f"invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise RecordError(path, where or "(top level)", None, "JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise RecordError(path, where or "(top level)", None, f"invalid JSON ({exc})") from None


def record_label(rec: Any, index: object) -> object:
    """How errors name a record: its index, with its ``q_id`` when it has one."""
    return f"{index} (q_id {rec.get('q_id')!r})" if isinstance(rec, dict) and "q_id" in rec else index


def _check_meaning(parsed: Parsed, value: Any, path: Path, where: object) -> None:
    """A key given twice or a lone surrogate inside ``value`` (one record, or the top level) is an error."""
    repeated = parsed.repeated_key(value)
    if repeated is not None:
        inside, key = repeated
        field, place = _field_of(inside) or key, f" in {inside}" if inside else ""
        raise RecordError(
            path, where, field, f"key {key!r} given twice{place} (which value is meant is ambiguous)"
        )
    lone = parsed.lone_surrogate(value)
    if lone is not None:
        inside, escape = lone
        raise RecordError(
            path,
            where,
            _field_of(inside),
            f"{inside or 'the value'} holds a lone surrogate {escape} (half a UTF-16 pair), not text",
        )


def _field_of(inside: str) -> str | None:
    """The top-level field of a path inside a record (``cots[2][0]`` -> ``cots``)."""
    return inside.split(".")[0].split("[")[0] or None


def read_json(path: str | os.PathLike[str]) -> Any:
    """One JSON document; unreadable, invalid or ambiguous JSON (a repeated key, a lone surrogate) is an
    error naming the file."""
    path = Path(path)
    parsed = _parse(_read_text(path), path, "")
    _check_meaning(parsed, parsed.value, path, "(top level)")
    return parsed.value


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a ``.json`` list of objects or a ``.jsonl`` file of objects; errors name file and record.

    A key repeated within a record or a lone UTF-16 surrogate in a string is an error too
    (:mod:`rmflow.strict_json`), so no value is silently dropped or kept that is not text.
    """
    path = Path(path)
    text = _read_text(path)
    records = []
    if path.suffix == ".jsonl":
        # only "\n" ends a line: str.splitlines() would also split inside strings holding U+2028, U+0085, ...
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            parsed = _parse(line, path, f"at line {lineno}")
            _check_meaning(parsed, parsed.value, path, record_label(parsed.value, len(records)))
            records.append(parsed.value)
    else:
        parsed = _parse(text, path, "")
        records = parsed.value
        if not isinstance(records, list):
            _check_meaning(parsed, records, path, "(top level)")
            raise RecordError(
                path, "(top level)", None, f"expected a JSON list, got {type(records).__name__}"
            )
        if parsed.repeated or parsed.surrogates:
            for i, rec in enumerate(records):
                _check_meaning(parsed, rec, path, record_label(rec, i))
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise RecordError(path, i, None, f"expected a JSON object, got {type(rec).__name__}")
    return records
