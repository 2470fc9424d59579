"""``rmflow export``: load a dataset (hub id or local directory), validate it, write it as files.

Records become ``{category}.jsonl``; reward sets become ``{category}_reward.json`` (a JSON list, the
published layout). ``source.json`` records the source, the requested and resolved revision and the
record counts. Each file is written atomically, so a bad category leaves earlier ones intact.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rmflow.categories import resolve_categories
from rmflow.data import KINDS, load_records, resolve_revision
from rmflow.io import write_json, write_jsonl

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data_path", required=True, help="hub id or local directory")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--category", default="all")
    p.add_argument("--revision", default=None, help="hub revision (branch, tag or commit) to pin")


def output_name(category: str, kind: str) -> str:
    """File name of an exported category."""
    return f"{category}_reward.json" if kind == "reward" else f"{category}.jsonl"


def export(
    data_path: str, kind: str, output_dir: str | Path, category: str = "all", revision: str | None = None
) -> dict:
    """Export every category; return the ``source.json`` summary."""
    out = Path(output_dir)
    counts = {}
    for cat in resolve_categories(category, data_path):
        records = load_records(data_path, cat, kind, revision)
        target = out / output_name(cat, kind)
        if kind == "reward":
            write_json(target, records)
        else:
            write_jsonl(target, records)
        counts[cat] = len(records)
        log.info("%s[%s]: %d records -> %s", data_path, cat, len(records), target)
    summary = {
        "source": str(data_path),
        "kind": kind,
        "revision": revision,
        "resolved_revision": resolve_revision(data_path, revision),
        "counts": counts,
    }
    write_json(out / "source.json", summary, indent=2)
    return summary


def run(args: argparse.Namespace) -> None:
    export(args.data_path, args.kind, args.output_dir, args.category, args.revision)
