"""``rmflow export``: load a dataset (hub id or local directory), validate it, write it as files.

Records become ``{category}.jsonl``; reward sets become ``{category}_reward.json`` (a JSON list, the
published layout). An old name of a published set (``dongboklee/test``) is exported from its current
one (:mod:`rmflow.hub_names`). ``source.json`` records the source as given, the hub id read, the
requested and resolved revision and the record counts. Nothing is replaced unless every category is
valid; each file is moved in atomically.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rmflow.categories import resolve_categories
from rmflow.data import KINDS, category_files, is_local, load_records, resolve_revision
from rmflow.errors import UserError
from rmflow.hub_names import current_hub_id
from rmflow.io import staged_outputs, write_json, write_jsonl
from rmflow.names import reward_file

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data_path", required=True, help="hub id or local directory")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--category", default="all")
    p.add_argument("--revision", default=None, help="hub revision (branch, tag or commit) to pin")


def output_name(category: str, kind: str) -> str:
    """File name of an exported category."""
    return reward_file(category) if kind == "reward" else f"{category}.jsonl"


def export(
    data_path: str, kind: str, output_dir: str | Path, category: str = "all", revision: str | None = None
) -> dict:
    """Export every category; return the ``source.json`` summary.

    Nothing in ``output_dir`` changes unless every category is valid (:func:`rmflow.io.staged_outputs`).
    """
    counts = {}
    hub_id = None if is_local(data_path) else current_hub_id(str(data_path))
    if hub_id is not None and hub_id != str(data_path):
        log.info("%s is an old name of %s: exporting that", data_path, hub_id)
    with staged_outputs(output_dir) as staging:
        for cat in resolve_categories(category, data_path):
            other = [p for p in category_files(output_dir, cat, kind) if p.name != output_name(cat, kind)]
            if other:  # the export would stand beside it, and a reader could not tell which one is meant
                raise UserError(
                    f"{other[0]}: already holds category {cat!r}, so the exported {output_name(cat, kind)} "
                    "beside it would be ambiguous; export into another directory or remove it"
                )
            records = load_records(data_path, cat, kind, revision)
            if kind == "reward":
                write_json(staging / output_name(cat, kind), records)
            else:
                write_jsonl(staging / output_name(cat, kind), records)
            counts[cat] = len(records)
            log.info("%s[%s]: %d records", data_path, cat, len(records))
        summary = {
            "source": str(data_path),
            "hub_id": hub_id,
            "kind": kind,
            "revision": revision,
            "resolved_revision": resolve_revision(data_path, revision),
            "counts": counts,
        }
        write_json(staging / "source.json", summary, indent=2)
    log.info("exported %d categories -> %s", len(counts), output_dir)
    return summary


def run(args: argparse.Namespace) -> None:
    export(args.data_path, args.kind, args.output_dir, args.category, args.revision)
