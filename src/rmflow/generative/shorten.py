"""``rmflow shorten``: shorten gORM/gPRM critiques to their verdict (optional step).

Only critiques with exactly one ``</think>`` change. gORM: keep up to and including ``</think>``, then
``"\\n\\nVerification: Is the answer correct (Yes/No)? "`` + Yes/No from the record's label. gPRM: keep
up to and including the first ``Is the solution correct? Yes|No`` after ``</think>`` (unchanged if
there is none). Records keep every other field.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.chat_template import THINK_CLOSE
from rmflow.data import load_records
from rmflow.generative.verdict import PRM_FINAL_RE
from rmflow.io import staged_outputs, write_json, write_jsonl
from rmflow.names import GENERATIVE
from rmflow.prompts import ORM_VERDICT

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task_type", required=True, choices=GENERATIVE)
    p.add_argument(
        "--data_path", required=True, help="directory (or hub id) of train_gORM/train_gPRM records"
    )
    p.add_argument("--output_dir", required=True)
    p.add_argument("--category", default="all")
    p.add_argument("--revision", default=None, help="hub revision of --data_path")


def shorten_critique(task_type: str, critique: str, label: Any) -> tuple[str, str]:
    """The shortened critique and what happened: ``shortened``, ``unchanged`` or a reason it was kept."""
    if critique.count(THINK_CLOSE) != 1:
        return critique, "not one </think>"
    end = critique.index(THINK_CLOSE) + len(THINK_CLOSE)
    if task_type == "gORM":
        answer = "Yes" if label == 1 else "No"
        new = critique[:end] + f"\n\n{ORM_VERDICT} {answer}"
    else:
        m = PRM_FINAL_RE.search(critique, end)
        if m is None:
            return critique, "no verdict after </think>"
        new = critique[: m.end()]
    return new, ("shortened" if new != critique else "unchanged")


def shorten(
    task_type: str,
    data_path: str,
    output_dir: str | Path,
    category: str = "all",
    revision: str | None = None,
) -> dict[str, Any]:
    """Shorten every category; write ``{cat}.jsonl`` and ``shorten_stats.json``; return the stats."""
    kind = f"train_{task_type}"
    stats: dict[str, Any] = {}
    with staged_outputs(output_dir) as staging:  # a bad later category leaves earlier outputs as they were
        for cat in resolve_categories(category, data_path):
            records = load_records(data_path, cat, kind, revision)
            counts: dict[str, int] = {}
            chars_before = chars_after = 0
            result = []
            for rec in records:
                new, what = shorten_critique(task_type, rec["critique"], rec["labels"])
                counts[what] = counts.get(what, 0) + 1
                chars_before += len(rec["critique"])
                chars_after += len(new)
                result.append({**rec, "critique": new})
            write_jsonl(staging / f"{cat}.jsonl", result)
            stats[cat] = {
                "records": len(records),
                **counts,
                "chars_before": chars_before,
                "chars_after": chars_after,
            }
            log.info("%s: %s", cat, stats[cat])
        write_json(staging / "shorten_stats.json", {"task_type": task_type, "categories": stats}, indent=2)
    return stats


def run(args: argparse.Namespace) -> None:
    shorten(args.task_type, args.data_path, args.output_dir, args.category, args.revision)
