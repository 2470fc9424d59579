"""``rmflow audit [TARGET ...]``: check artifacts against their provenance records, down the lineage.

From each target (default: every final artifact under the results root, i.e. every recorded artifact that
no other record lists as an input: plots, analysis tables and figures, training curves, ...) the audit
follows the recorded inputs — plot -> CSV -> reward files -> checkpoint -> training data -> hub revision —
and reports every artifact:

* ``ok``          its content hash matches its record, so do its inputs' hashes, and nothing upstream is off;
* ``modified``    its own content changed since it was produced (for a directory: which files changed,
                  went missing or were added);
* ``stale``       an input changed since it was produced, or anything upstream of it (named) is modified,
                  stale or missing, or a checkpoint loads a backbone other than the one it was trained on;
* ``inconsistent`` its provenance record was edited: its content no longer matches its own hash
                  (``record_sha256``), or it disagrees with the records of its inputs (an input's record
                  is not the one chained into it, or lists another hash for the input than this one);
* ``missing``     the artifact (or an input it was made from) no longer exists;
* ``unrecorded``  a target without any provenance record;
* ``source``      an input that no rule produced (a local dataset directory): checked by hash only.

Exit status 0 when everything is ok, 1 otherwise. Records use paths relative to themselves, so the audit
works on a results tree copied elsewhere. What the audit can and cannot tell is in the README
("Provenance"): it checks that records and artifacts agree, not who wrote them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmflow.adapter_base import ADAPTER_CONFIG, BASE_KEY, is_relative_ref, resolve_base
from rmflow.errors import UserError
from rmflow.provenance import (
    SUFFIX,
    digest,
    file_sha256,
    load_record,
    record_hash,
    record_of,
    record_path,
    tree_changes,
)

BAD = frozenset({"modified", "inconsistent", "stale", "missing", "unrecorded"})
#: files named per change kind before the rest is summarised as a count
SHOW_FILES = 8


@dataclass
class Node:
    """One artifact in the lineage and its verdict."""

    path: Path
    status: str
    rule: str | None = None
    details: list[str] = field(default_factory=list)
    hub: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[Node] = field(default_factory=list)
    record: Path | None = None
    #: files of a directory artifact that differ from its record: {"changed"|"missing"|"added": [...]}
    files: dict[str, list[str]] = field(default_factory=dict)
    #: the problem is the artifact's own (its content, its inputs' hashes, its backbone), not inherited
    own: bool = False
    #: artifacts upstream whose own problem makes this one stale: path -> their status
    upstream: dict[Path, str] = field(default_factory=dict)
    #: the output digest its record lists for it (None: no record, or it does not list it)
    recorded: dict[str, Any] | None = None
    #: sha256 of its record file
    record_file_sha256: str | None = None


def _norm(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


def _show(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("../..") else rel


def _describe(changes: dict[str, list[str]]) -> str:
    """``changed a.json, b.json; missing c.json`` (long lists cut to :data:`SHOW_FILES` names)."""
    parts = []
    for kind, files in changes.items():
        names = ", ".join(files[:SHOW_FILES])
        more = f" and {len(files) - SHOW_FILES} more" if len(files) > SHOW_FILES else ""
        parts.append(f"{kind} {names}{more}")
    return "; ".join(parts)


def _suffix(changes: dict[str, list[str]]) -> str:
    return f" ({_describe(changes)})" if changes else ""


class Auditor:
    """Walks lineages; hashes and verdicts are cached so shared inputs are checked once."""

    def __init__(self) -> None:
        self._digests: dict[Path, dict[str, Any] | None] = {}
        self._nodes: dict[Path, Node] = {}

    def digest(self, path: Path) -> dict[str, Any] | None:
        if path not in self._digests:
            self._digests[path] = digest(path)
        return self._digests[path]

    def check(self, path: str | os.PathLike[str], target: bool = False) -> Node:
        artifact, rec_file = record_of(_norm(path))
        if artifact in self._nodes:
            return self._nodes[artifact]
        if rec_file is None:
            exists = artifact.exists()
            status = ("unrecorded" if target else "source") if exists else "missing"
            node = Node(artifact, status, own=status in BAD)
            if status == "unrecorded":
                node.details.append(f"no provenance record ({record_path(artifact).name})")
            self._nodes[artifact] = node
            return node

        rec = load_record(rec_file)
        base = rec_file.parent
        node = Node(artifact, "ok", rule=rec.get("rule"), hub=list(rec.get("hub") or []), record=rec_file)
        node.record_file_sha256 = file_sha256(rec_file)
        self._nodes[artifact] = node  # before recursing: shared inputs and cycles resolve to this node
        key = Path(os.path.relpath(artifact, base)).as_posix()
        expected = rec["outputs"].get(key)
        node.recorded = expected if isinstance(expected, dict) else None
        current = self.digest(artifact)
        problems: list[str] = []
        if current is None:
            node.status = "missing"
        elif not isinstance(expected, dict):
            node.status = "unrecorded"
            node.details.append(f"{rec_file.name} does not list this artifact as an output")
        elif current["sha256"] != expected.get("sha256"):
            node.status = "modified"
            node.files = tree_changes(expected, current)
            problems.append(f"content differs from its provenance record{_suffix(node.files)}")
        edited = record_problems(rec, rec_file)

        direct: set[Path] = set()  # inputs whose own hash no longer matches the record
        for rel, recorded in rec["inputs"].items():
            child_path = _norm(base / rel)
            child = self.check(child_path)
            node.inputs.append(child)
            now = self.digest(child_path)
            if now is None:
                problems.append(f"input {_show(child_path)} is missing")
                direct.add(child.path)
            elif not isinstance(recorded, dict) or now["sha256"] != recorded.get("sha256"):
                changes = tree_changes(recorded if isinstance(recorded, dict) else None, now)
                problems.append(
                    f"input {_show(child_path)} changed since this was produced{_suffix(changes)}"
                )
                direct.add(child.path)
            else:
                edited.extend(chain_problems(rec, rel, child, child_path, recorded))
        problems.extend(edited)
        backbone = self.backbone_problem(artifact, rec, base) if current is not None else None
        if backbone:
            problems.append(backbone)
        if node.status == "ok" and edited:
            node.status = "inconsistent"
        if node.status == "ok" and (direct or backbone):
            node.status = "stale"
        node.own = node.status in BAD

        for child in node.inputs:  # staleness travels up to every consumer, naming its origin
            if child.own:
                node.upstream.setdefault(child.path, child.status)
            for path_, status in child.upstream.items():
                node.upstream.setdefault(path_, status)
        inherited = {p: s for p, s in node.upstream.items() if p not in direct}
        if inherited:
            if node.status == "ok":
                node.status = "stale"
            problems.extend(f"upstream {_show(p)} is {s}" for p, s in inherited.items())
        node.details.extend(problems)
        return node

    @staticmethod
    def backbone_problem(artifact: Path, rec: dict[str, Any], base: Path) -> str | None:
        """Why a checkpoint would not load the backbone it was trained on (None: it would, or no adapter).

        The base named in its ``adapter_config.json`` (resolved as the scorers resolve it) must be one of
        the inputs its record lists: then the input's hash check compares the backbone it loads now with
        the one it was trained on. A local base elsewhere (e.g. the original tree of a copied results
        tree) is flagged even when its content is the same.
        """
        cfg_file = artifact / ADAPTER_CONFIG
        if not cfg_file.is_file():
            return None
        try:
            ref = json.loads(cfg_file.read_text(encoding="utf-8")).get(BASE_KEY)
        except (OSError, ValueError, AttributeError) as exc:
            return f"{ADAPTER_CONFIG} is unreadable ({exc})"
        if not isinstance(ref, str) or not ref:
            return None
        resolved = resolve_base(ref, artifact)
        if not (is_relative_ref(ref) or os.path.isabs(ref) or os.path.isdir(resolved)):
            return None  # a hub id: its revision is in the record
        inputs = {os.path.realpath(base / rel) for rel in rec["inputs"]}
        if os.path.realpath(resolved) in inputs:
            return None
        if not os.path.exists(resolved):
            return f"its backbone {ref!r} ({ADAPTER_CONFIG}) does not exist"
        return (
            f"loads its backbone from {_show(_norm(resolved))} ({ADAPTER_CONFIG}), "
            "which is not the backbone its record lists as an input"
        )


def record_problems(rec: dict[str, Any], rec_file: Path) -> list[str]:
    """A record whose content no longer matches its own ``record_sha256`` (records of format 3 on)."""
    if rec.get("format", 0) < 3:
        return []  # written before records were sealed
    sealed = rec.get("record_sha256")
    if sealed == record_hash(rec):
        return []
    what = "has no record_sha256" if sealed is None else "no longer matches its record_sha256"
    return [f"its provenance record {rec_file.name} was edited (its content {what})"]


def chain_problems(
    rec: dict[str, Any], rel: str, child: Node, child_path: Path, recorded: dict[str, Any]
) -> list[str]:
    """How this record (``rec``) and the record of its input ``rel`` (``child``, whose content still
    matches ``recorded``, this record's digest of it) disagree: the input's record lists another digest
    for it, or is not the record chained into this one (``input_records``)."""
    shown = _show(child_path)
    problems = []
    theirs = child.recorded.get("sha256") if child.path == child_path and child.recorded else None
    if theirs is not None and theirs != recorded.get("sha256"):
        problems.append(
            f"its record lists input {shown} with sha256 {str(recorded.get('sha256'))[:12]}, the input's "
            f"own record with {str(theirs)[:12]} (one of the records was edited)"
        )
    chained = (rec.get("input_records") or {}).get(rel)
    if isinstance(chained, dict) and chained.get("sha256") != child.record_file_sha256:
        now = "is gone" if child.record is None else "differs from the one chained into this record"
        problems.append(
            f"the provenance record of input {shown} {now} (that record was edited, or {shown} was made "
            "again after this was produced)"
        )
    return problems


def walk(roots: list[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each once, depth-first."""
    seen: dict[Path, Node] = {}
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if node.path in seen:
            continue
        seen[node.path] = node
        stack.extend(reversed(node.inputs))
    return list(seen.values())


def render(roots: list[Node], quiet: bool = False) -> list[str]:
    """An indented tree; an artifact already shown is referenced, not repeated (``quiet``: only the
    artifacts that are not ok, with their details)."""
    lines: list[str] = []
    shown: set[Path] = set()

    def emit(node: Node, depth: int) -> None:
        pad = "  " * depth
        label = f"{node.status:<10} {pad}{_show(node.path)}"
        hidden = quiet and node.status not in BAD
        if node.path in shown:
            if not hidden:
                lines.append(f"{label}  (see above)")
            return
        shown.add(node.path)
        if not hidden:
            lines.append(f"{label}  [{node.rule}]" if node.rule else label)
            lines.extend(f"{'':<10} {pad}  - {detail}" for detail in node.details)
            for hub in node.hub:
                rev = hub.get("resolved") or hub.get("revision") or "unresolved"
                lines.append(f"{'':<10} {pad}  - hub {hub.get('type', '')} {hub.get('id')} @ {rev}")
        for child in node.inputs:
            emit(child, depth + 1)

    for root in roots:
        emit(root, 0)
    return lines


def default_targets(results: Path) -> list[Path]:
    """Every artifact under ``results`` with a provenance record that no other record lists as an input
    (the final targets: plots, analysis tables and figures, training curves, ...), sorted."""
    artifacts: dict[Path, Path] = {}
    consumed: set[Path] = set()
    for rec_file in sorted(results.rglob(f"*{SUFFIX}")):
        artifact = rec_file.parent / rec_file.name[: -len(SUFFIX)]
        artifacts[_norm(artifact)] = artifact
        consumed.update(_norm(rec_file.parent / rel) for rel in load_record(rec_file)["inputs"])
    return [shown for path, shown in artifacts.items() if path not in consumed]


def audit(targets: list[str | os.PathLike[str]]) -> tuple[list[Node], list[Node]]:
    """Check ``targets`` and their lineage; return (roots, every node)."""
    auditor = Auditor()
    roots = [auditor.check(t, target=True) for t in targets]
    return roots, walk(roots)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "targets", nargs="*", help="artifacts to audit (default: every final artifact under --results)"
    )
    p.add_argument("--results", default="results", help="results directory for the default targets")
    p.add_argument("--json", dest="json_out", default=None, help="also write the verdicts as JSON here")
    p.add_argument("--quiet", action="store_true", help="print only artifacts that are not ok")


def run(args: argparse.Namespace) -> None:
    targets = list(args.targets) or default_targets(Path(args.results))
    if not targets:
        raise UserError(f"{args.results}: no provenance records (*{SUFFIX}) found; run the workflow first")
    roots, nodes = audit(targets)
    lines = render(roots, quiet=args.quiet)
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.status] = counts.get(node.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print("\n".join([*lines, f"audit: {len(nodes)} artifacts: {summary}"]))
    if args.json_out:
        from rmflow.io import write_json

        write_json(
            args.json_out,
            [
                {
                    "path": _show(n.path),
                    "status": n.status,
                    "rule": n.rule,
                    "details": n.details,
                    "files": n.files,
                    "upstream": {_show(p): s for p, s in n.upstream.items()},
                    "record_file_sha256": n.record_file_sha256,
                    "hub": n.hub,
                    "inputs": [_show(c.path) for c in n.inputs],
                }
                for n in nodes
            ],
            indent=2,
        )
    bad = sum(counts.get(s, 0) for s in BAD)
    if bad:
        print(f"audit: {bad} artifact(s) need attention", file=sys.stderr)
        raise SystemExit(1)
