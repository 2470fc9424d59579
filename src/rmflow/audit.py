"""``rmflow audit [TARGET ...]``: check artifacts against their provenance records, down the lineage.

From each target (default: the plots under ``results/plots``) the audit follows the recorded inputs —
plot -> CSV -> reward files -> checkpoint -> training data -> hub revision — and reports every artifact:

* ``ok``          its content hash matches its record and so do the hashes of its inputs;
* ``modified``    its own content changed since it was produced;
* ``stale``       an input changed since it was produced (the artifact is out of date);
* ``missing``     the artifact (or an input it was made from) no longer exists;
* ``unrecorded``  a target without any provenance record;
* ``source``      an input that no rule produced (a local dataset directory): checked by hash only.

Exit status 0 when everything is ok, 1 otherwise. Records use paths relative to themselves, so the audit
works on a results tree copied elsewhere.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmflow.errors import UserError
from rmflow.provenance import SUFFIX, digest, load_record, record_path

BAD = frozenset({"modified", "stale", "missing", "unrecorded"})


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


def _norm(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


def _show(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("../..") else rel


class Auditor:
    """Walks lineages; hashes and verdicts are cached so shared inputs are checked once."""

    def __init__(self) -> None:
        self._digests: dict[Path, dict[str, Any] | None] = {}
        self._nodes: dict[Path, Node] = {}

    def digest(self, path: Path) -> dict[str, Any] | None:
        if path not in self._digests:
            self._digests[path] = digest(path)
        return self._digests[path]

    @staticmethod
    def locate(path: Path) -> tuple[Path, Path | None]:
        """The artifact holding ``path`` (itself or an enclosing directory) and its record file."""
        for candidate in (path, *path.parents):
            rec = record_path(candidate)
            if rec.is_file():
                return candidate, rec
        return path, None

    def check(self, path: str | os.PathLike[str], target: bool = False) -> Node:
        artifact, rec_file = self.locate(_norm(path))
        if artifact in self._nodes:
            return self._nodes[artifact]
        if rec_file is None:
            exists = artifact.exists()
            status = ("unrecorded" if target else "source") if exists else "missing"
            node = Node(artifact, status)
            if status == "unrecorded":
                node.details.append(f"no provenance record ({record_path(artifact).name})")
            self._nodes[artifact] = node
            return node

        rec = load_record(rec_file)
        base = rec_file.parent
        node = Node(artifact, "ok", rule=rec.get("rule"), hub=list(rec.get("hub") or []), record=rec_file)
        self._nodes[artifact] = node  # before recursing: shared inputs and cycles resolve to this node
        key = os.path.relpath(artifact, base)
        expected = (rec["outputs"].get(Path(key).as_posix()) or {}).get("sha256")
        current = self.digest(artifact)
        problems: list[str] = []
        if current is None:
            node.status = "missing"
        elif expected is None:
            node.status = "unrecorded"
            node.details.append(f"{rec_file.name} does not list this artifact as an output")
        elif current["sha256"] != expected:
            node.status = "modified"
            problems.append("content differs from its provenance record")

        for rel, recorded in rec["inputs"].items():
            child_path = _norm(base / rel)
            child = self.check(child_path)
            node.inputs.append(child)
            now = self.digest(child_path)
            if now is None:
                problems.append(f"input {_show(child_path)} is missing")
            elif recorded is None or now["sha256"] != recorded.get("sha256"):
                problems.append(f"input {_show(child_path)} changed since this was produced")
                if node.status == "ok":
                    node.status = "stale"
        node.details.extend(problems)
        return node


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


def render(roots: list[Node]) -> list[str]:
    """An indented tree; an artifact already shown is referenced, not repeated."""
    lines: list[str] = []
    shown: set[Path] = set()

    def emit(node: Node, depth: int) -> None:
        pad = "  " * depth
        label = f"{node.status:<10} {pad}{_show(node.path)}"
        if node.path in shown:
            lines.append(f"{label}  (see above)")
            return
        shown.add(node.path)
        if node.rule:
            label += f"  [{node.rule}]"
        lines.append(label)
        for detail in node.details:
            lines.append(f"{'':<10} {pad}  - {detail}")
        for hub in node.hub:
            rev = hub.get("resolved") or hub.get("revision") or "unresolved"
            lines.append(f"{'':<10} {pad}  - hub {hub.get('type', '')} {hub.get('id')} @ {rev}")
        for child in node.inputs:
            emit(child, depth + 1)

    for root in roots:
        emit(root, 0)
    return lines


def default_targets(results: Path) -> list[Path]:
    """The plots if they have records, else every recorded artifact under ``results``."""
    plots = sorted((results / "plots").glob(f"*{SUFFIX}")) if (results / "plots").is_dir() else []
    records = plots or sorted(results.rglob(f"*{SUFFIX}"))
    return [r.parent / r.name[: -len(SUFFIX)] for r in records]


def audit(targets: list[str | os.PathLike[str]]) -> tuple[list[Node], list[Node]]:
    """Check ``targets`` and their lineage; return (roots, every node)."""
    auditor = Auditor()
    roots = [auditor.check(t, target=True) for t in targets]
    return roots, walk(roots)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", help="artifacts to audit (default: the plots, else every record)")
    p.add_argument("--results", default="results", help="results directory for the default targets")
    p.add_argument("--json", dest="json_out", default=None, help="also write the verdicts as JSON here")
    p.add_argument("--quiet", action="store_true", help="print only artifacts that are not ok")


def run(args: argparse.Namespace) -> None:
    targets = list(args.targets) or default_targets(Path(args.results))
    if not targets:
        raise UserError(f"{args.results}: no provenance records (*{SUFFIX}) found; run the workflow first")
    roots, nodes = audit(targets)
    lines = render(roots)
    if args.quiet:
        lines = [line for line in lines if line.split(" ", 1)[0] in BAD]
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
