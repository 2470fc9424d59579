"""``rmflow generate``: teacher critiques for gORM/gPRM training data (docs/formats.md#teacher-critiques).

For every ``train`` record with step labels, the teacher sees the ORM prompt (gORM) or the PRM
*teacher* prompt (gPRM) wrapped as a chat turn plus ``Let's verify step by step:``, and ``--n``
critiques are sampled. Output per category: ``OUT/{cat}.jsonl`` with one record per (input record,
sample) = the input record + ``critique`` (the text generated after the prefix). Work is chunked and
resumable (chunks in ``--work_dir``, default ``OUT/.chunks``); with vLLM there is one engine per
``--tensor_parallel_size`` GPUs, chunks split across them. A category whose output exists is not
regenerated. ``OUT/generate_stats.json`` holds per-category counts.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.data import load_records
from rmflow.fingerprint import model_fingerprint
from rmflow.generative.backend_factory import BACKENDS
from rmflow.generative.runner import SamplingStage, execute
from rmflow.generative.sampling import Sample, SamplingSpec
from rmflow.io import write_json, write_jsonl
from rmflow.names import GENERATIVE
from rmflow.prompts import generation_prompt, task_prompt

log = logging.getLogger(__name__)
DEFAULT_TEACHER = "Qwen/QwQ-32B"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task_type", required=True, choices=GENERATIVE)
    p.add_argument(
        "--data_path", required=True, help="train set: hub id or directory of {category}.json|jsonl"
    )
    p.add_argument("--model_id", default=DEFAULT_TEACHER, help=f"teacher model (default {DEFAULT_TEACHER})")
    p.add_argument("--output_dir", required=True)
    p.add_argument(
        "--work_dir", default=None, help="resumable chunks, removed when done (default: OUTPUT_DIR/.chunks)"
    )
    p.add_argument("--category", default="all")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="auto: vllm on GPU if installed")
    p.add_argument("--n", type=int, default=4, help="critiques per record")
    p.add_argument("--temperature", type=float, default=0.6)
    p.add_argument("--top_p", type=float, default=0.95)
    p.add_argument("--top_k", type=int, default=20, help="<= 0: off")
    p.add_argument("--min_p", type=float, default=0.0)
    p.add_argument("--max_tokens", type=int, default=8192)
    p.add_argument("--tensor_parallel_size", type=int, default=1)
    p.add_argument("--per_device_batch_size", type=int, default=4, help="prompts per batch (transformers)")
    p.add_argument("--chunk_size", type=int, default=0, help="prompts per resumable chunk (0: automatic)")
    p.add_argument("--max_model_len", type=int, default=None, help="vLLM context length")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--revision", default=None, help="hub revision of --model_id / --data_path (hub ids only)")


class GenerateStage(SamplingStage):
    """Teacher critiques: one prompt per labelled train record, ``--n`` samples each."""

    def spec(self) -> SamplingSpec:
        a = self.args
        return SamplingSpec(
            n=a.n,
            temperature=a.temperature,
            top_p=a.top_p,
            top_k=a.top_k,
            min_p=a.min_p,
            max_tokens=a.max_tokens,
            seed=a.seed,
        )

    def inputs(self, category: str) -> tuple[list[dict[str, Any]], int]:
        """The category's train records that have step labels, and how many had none."""
        records = load_records(self.args.data_path, category, "train", self.args.revision)
        usable = [r for r in records if r.get("labels")]
        return usable, len(records) - len(usable)

    def done(self, category: str) -> bool:
        return (self.out / f"{category}.jsonl").exists()

    def prompts(self, tokenizer: Any, category: str) -> list[str]:
        task = self.args.task_type
        return [  # the teacher's template as it is: no thinking switch
            generation_prompt(tokenizer, task_prompt(task, category, r["question"], r["cot"], teacher=True))
            for r in self.inputs(category)[0]
        ]

    def summarizer(self, tokenizer: Any) -> Any:
        return _summarize

    def fingerprint(self) -> dict[str, Any]:
        a = self.args
        return {"model": model_fingerprint(a.model_id, a.revision), "task_type": a.task_type}

    def write(self, category: str, results: list[Any], stats: dict[str, Any]) -> None:
        records, no_labels = self.inputs(category)
        out_records = []
        finish: dict[str, int] = {}
        tokens = 0
        for rec, samples in zip(records, results, strict=True):
            for text, reason, n_tok in samples:
                out_records.append({**rec, "critique": text})
                finish[reason] = finish.get(reason, 0) + 1
                tokens += n_tok
        write_jsonl(self.out / f"{category}.jsonl", out_records)
        stats_path = self.out / "generate_stats.json"
        all_stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.exists() else {}
        all_stats[category] = {
            "records": len(records),
            "skipped_no_labels": no_labels,
            "samples": len(out_records),
            "finish_reasons": finish,
            "mean_generated_tokens": tokens / len(out_records) if out_records else 0.0,
            **({"throughput": stats} if stats.get("seconds") else {}),
        }
        write_json(stats_path, all_stats, indent=2)
        log.info("%s: %d critiques -> %s", category, len(out_records), self.out / f"{category}.jsonl")


def _summarize(sample: Sample) -> list[Any]:
    return [sample.text, sample.finish_reason, len(sample.token_ids)]


def run(args: argparse.Namespace) -> None:
    execute(GenerateStage(args), resolve_categories(args.category, args.data_path))
