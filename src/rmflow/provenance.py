"""Provenance records: what produced an artifact, from what, with which settings and software.

Every workflow output gets ``<output>.prov.json`` next to it (written atomically by
``rmflow provenance`` after the stage succeeded). A record holds the producing rule, its config slice
(``params``), the sha256 of each input and output (directories: a hash of the sorted file tree and the
sha256 of every file in it), the pipeline's git commit, package versions, resolved hub revisions, host and
start/end time. Paths in a record are relative to the record's own directory, so a copied results tree
still resolves.

Records are chained: each lists, for every input that has a record of its own, that record's sha256
(``input_records``), and carries the sha256 of its own content (``record_sha256``, :func:`record_hash`).
Editing one record thus shows, in the record itself and in the records of everything made from its
artifact (``rmflow audit``); only rewriting every record from there to the final outputs does not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from rmflow.errors import UserError
from rmflow.io import read_json, write_json

FORMAT = 3  # 2: directory digests list their files (``tree``); 3: input_records and record_sha256
SUFFIX = ".prov.json"
#: files inside directory artifacts that are bookkeeping, not content
IGNORED_NAMES = frozenset({".snakemake_timestamp"})
PACKAGES = (
    "rmflow",
    "numpy",
    "datasets",
    "huggingface_hub",
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "tokenizers",
    "vllm",
    "matplotlib",
    "snakemake",
)
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- hashing
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _tree_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if (
                name in IGNORED_NAMES
                or name.endswith(SUFFIX)
                or (name.startswith(".") and name.endswith(".tmp"))
            ):
                continue
            files.append(Path(dirpath) / name)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def digest(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{type, sha256, files, bytes}`` of a file or directory tree (plus ``tree``: ``{relative path:
    sha256}`` of each file of a directory); None when it does not exist.

    A directory's hash covers each file's relative path and content hash, in sorted order, so it is
    independent of mtimes, inode order and the directory's location.
    """
    path = Path(path)
    if path.is_file():
        return {"type": "file", "sha256": file_sha256(path), "files": 1, "bytes": path.stat().st_size}
    if path.is_dir():
        h = hashlib.sha256()
        size = 0
        tree = {}
        for f in _tree_files(path):
            rel, sha = f.relative_to(path).as_posix(), file_sha256(f)
            h.update(f"{rel}\0{sha}\n".encode())
            tree[rel] = sha
            size += f.stat().st_size
        return {"type": "dir", "sha256": h.hexdigest(), "files": len(tree), "bytes": size, "tree": tree}
    return None


def tree_changes(recorded: dict[str, Any] | None, current: dict[str, Any] | None) -> dict[str, list[str]]:
    """Files of a directory that changed, went missing or were added between two :func:`digest` results
    (empty when either is not a directory digest with its ``tree``, e.g. a record written before format 2)."""
    old = (recorded or {}).get("tree")
    new = (current or {}).get("tree")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {}
    changes = {
        "changed": sorted(f for f in old.keys() & new.keys() if old[f] != new[f]),
        "missing": sorted(old.keys() - new.keys()),
        "added": sorted(new.keys() - old.keys()),
    }
    return {kind: files for kind, files in changes.items() if files}


# --------------------------------------------------------------------------- environment
def git_state(cwd: str | os.PathLike[str] = ".") -> dict[str, Any]:
    """Commit and dirty flag of the pipeline checkout (None when not a git checkout)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions (from package metadata: nothing is imported)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- hub revisions
def hub_revisions(params: Any, outputs: Iterable[Path], resolve: bool = True) -> list[dict[str, Any]]:
    """Hub sources of a job: exported datasets (their ``source.json``) and hub models named in params.

    ``params`` entries ``{"model"|"checkpoint": ID, "revision": R}`` are resolved to a commit when
    ``resolve`` is set and the hub answers (else recorded as requested).
    """
    found: list[dict[str, Any]] = []
    for out in outputs:
        src = Path(out) / "source.json"
        if src.is_file():
            try:
                info = json.loads(src.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if info.get("resolved_revision") or not Path(str(info.get("source", ""))).exists():
                found.append(
                    {
                        "id": info.get("hub_id") or info.get("source"),
                        "type": "dataset",
                        "revision": info.get("revision"),
                        "resolved": info.get("resolved_revision"),
                    }
                )

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("model", "checkpoint"):
                ident = node.get(key)
                if isinstance(ident, str) and not Path(ident).exists() and "/" in ident:
                    found.append(
                        {
                            "id": ident,
                            "type": "model",
                            "revision": node.get("revision"),
                            "resolved": _resolve(ident, node.get("revision")) if resolve else None,
                        }
                    )
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(params)
    return found


def _resolve(ident: str, revision: str | None) -> str | None:
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        return None
    from rmflow.data import resolve_revision

    return resolve_revision(ident, revision, repo_type="model")


def json_sha256(obj: Any) -> str:
    """sha256 of ``obj`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- records
def record_path(artifact: str | os.PathLike[str]) -> Path:
    """Where the provenance record of ``artifact`` lives: ``<artifact>.prov.json``."""
    artifact = Path(artifact)
    return artifact.parent / (artifact.name.rstrip("/") + SUFFIX)


def record_of(path: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """The artifact holding ``path`` (itself or an enclosing directory) and its record file (None: none)."""
    path = Path(path)
    for candidate in (path, *path.parents):
        rec = record_path(candidate)
        if rec.is_file():
            return candidate, rec
    return path, None


def record_hash(record: dict[str, Any]) -> str:
    """The ``record_sha256`` of a record: :func:`json_sha256` of everything else in it."""
    return json_sha256({k: v for k, v in record.items() if k != "record_sha256"})


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path).absolute(), base.absolute())).as_posix()


def build_record(
    rule: str,
    params: Any,
    inputs: Iterable[str | os.PathLike[str]],
    outputs: Iterable[str | os.PathLike[str]],
    started: str | None = None,
    resolve_hub: bool = True,
) -> dict[str, Any]:
    """The location-independent part of a record (hashes keyed by path as given)."""
    inputs = [Path(p) for p in inputs]
    outputs = [Path(p) for p in outputs]
    missing = [str(p) for p in outputs if not p.exists()]
    if missing:
        raise UserError(f"provenance for rule {rule}: output {missing[0]} does not exist")
    return {
        "format": FORMAT,
        "rule": rule,
        "params": params,
        "inputs": {str(p): digest(p) for p in inputs},
        "input_records": _input_records(inputs),
        "outputs": {str(p): digest(p) for p in outputs},
        "hub": hub_revisions(params, outputs, resolve=resolve_hub),
        "git": git_state(os.environ.get("RMFLOW_ROOT", ".")),  # the pipeline checkout (set by the rules)
        "packages": package_versions(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "started": started,
        "finished": _now(),
    }


def _input_records(inputs: Iterable[Path]) -> dict[str, dict[str, str]]:
    """``{input: {"record": its record file, "sha256": the file's sha256}}`` for inputs with a record."""
    out = {}
    for path in inputs:
        _, rec = record_of(path)
        if rec is not None:
            out[str(path)] = {"record": str(rec), "sha256": file_sha256(rec)}
    return out


def write_records(record: dict[str, Any]) -> list[Path]:
    """Write ``<output>.prov.json`` for every output, with paths relative to each record's directory,
    each sealed with its :func:`record_hash`."""
    written = []
    for out in record["outputs"]:
        target = record_path(out)
        base = target.parent
        local = dict(record)
        local["artifact"] = _rel(Path(out), base)
        local["inputs"] = {_rel(Path(p), base): d for p, d in record["inputs"].items()}
        local["input_records"] = {
            _rel(Path(p), base): {"record": _rel(Path(r["record"]), base), "sha256": r["sha256"]}
            for p, r in record.get("input_records", {}).items()
        }
        local["outputs"] = {_rel(Path(p), base): d for p, d in record["outputs"].items()}
        local["record_sha256"] = record_hash(local)
        write_json(target, local, indent=2)
        written.append(target)
    return written


def record(
    rule: str,
    params: Any,
    inputs: Iterable[str | os.PathLike[str]],
    outputs: Iterable[str | os.PathLike[str]],
    started: str | None = None,
    resolve_hub: bool = True,
) -> list[Path]:
    """Hash inputs and outputs of a finished job and write its provenance records."""
    return write_records(build_record(rule, params, inputs, outputs, started, resolve_hub))


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a record file; a broken one is a UserError naming it."""
    path = Path(path)
    data = read_json(path)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("outputs"), dict)
        or not isinstance(data.get("inputs"), dict)
    ):
        raise UserError(f"{path}: not a provenance record (no inputs/outputs)")
    return data


# --------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rule", required=True, help="name of the producing rule")
    p.add_argument("--params", default="null", help="the rule's config slice as JSON")
    p.add_argument("--started", default=None, help="start time (ISO 8601, UTC)")
    p.add_argument("--input", nargs="*", default=[], help="input files / directories")
    p.add_argument("--output", nargs="+", required=True, help="output files / directories")
    p.add_argument(
        "--no-resolve", dest="resolve", action="store_false", help="do not ask the hub for commits"
    )


def run(args: argparse.Namespace) -> None:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise UserError(f"--params is not valid JSON: {exc}") from None
    inputs = [p for p in args.input if p]
    for path in record(args.rule, params, inputs, args.output, args.started, args.resolve):
        print(f"provenance: {path}")
