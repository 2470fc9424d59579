"""``rmflow reward --task_type gORM|gPRM``: sampled-verdict rewards per test CoT (docs/formats.md).

For each CoT the ORM/PRM prompt is chat-templated, ``Let's verify step by step:`` appended, and
``--n_samples`` critiques sampled, stopping at either verdict string (kept). A sample's reward is
P(Yes) at its last generated token from the raw top-``--logprobs`` logprobs (plus the sampled token):
``e^lp(Yes) / (e^lp(Yes) + e^lp(No))`` over the last token ids of ``" Yes"`` / ``" No"``; only Yes
present -> 1.0, only No -> 0.0, neither or no verdict string -> NaN. Output per category:
``OUT/{cat}_reward.json`` = ``[{q_id, cot_ids, rewards: [[P(Yes) per sample] per cot]}]`` with NaN
literals as in the published files; a category whose file exists is skipped. ``OUT/nan_counts.json``
counts NaN samples per category; ``OUT/reward_meta.json`` records settings, throughput and, per
category, the prompts longer than the model's context or its training ``max_length``
(:mod:`rmflow.input_limits`; also one warning line).
Published adapters are loaded on their ``base_model_name_or_path`` (merged for transformers, served as
LoRA by vLLM).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import Any

from rmflow.categories import resolve_categories
from rmflow.chat_template import turns_thinking_off
from rmflow.cli_args import add_once
from rmflow.data import load_records
from rmflow.errors import UserError
from rmflow.fingerprint import model_fingerprint
from rmflow.generative.backend_factory import BACKENDS
from rmflow.generative.runner import SamplingStage, execute
from rmflow.generative.sampling import Sample, SamplingSpec
from rmflow.generative.verdict import sample_reward, stop_strings
from rmflow.input_limits import (
    backend_context,
    long_inputs,
    long_inputs_warning,
    token_lengths,
    training_max_length,
)
from rmflow.io import write_json
from rmflow.model_loading import last_token_id
from rmflow.names import reward_file
from rmflow.prompts import generation_prompt, task_prompt

log = logging.getLogger(__name__)


def add_arguments(group: Any) -> None:
    """gORM/gPRM-only flags (the common ones come from ``rmflow.cli``)."""
    group.add_argument("--backend", default="auto", choices=BACKENDS, help="auto: vllm on GPU if installed")
    group.add_argument("--n_samples", type=int, default=10, help="sampled critiques per CoT")
    group.add_argument("--temperature", type=float, default=0.6)
    group.add_argument("--top_p", type=float, default=1.0)
    group.add_argument("--top_k", type=int, default=0, help="<= 0: off")
    group.add_argument("--min_p", type=float, default=0.0)
    group.add_argument("--max_tokens", type=int, default=8192, help="generated tokens per critique")
    group.add_argument("--logprobs", type=int, default=20, help="top-k logprobs read at the verdict token")
    group.add_argument("--tensor_parallel_size", type=int, default=1, help="GPUs per vLLM engine")
    group.add_argument("--chunk_size", type=int, default=0, help="CoTs per resumable chunk (0: automatic)")
    group.add_argument("--max_model_len", type=int, default=None, help="vLLM context length")
    # Same meaning in both families (defined once, by whichever family module runs first).
    add_once(group, "--dtype", choices=("auto", "bfloat16", "float16", "float32"), default="auto")
    add_once(group, "--base_model", default=None, help="override the adapter's base_model_name_or_path")


def build_prompts(
    task_type: str, category: str, records: list[dict[str, Any]], tokenizer: Any, model_id: str = ""
) -> list[str]:
    """One prompt (chat template + verify prefix) per test CoT, question-major; thinking switched off
    only for a ``model_id`` that asks for it (:func:`rmflow.chat_template.turns_thinking_off`)."""
    off = turns_thinking_off(model_id)
    return [
        generation_prompt(tokenizer, task_prompt(task_type, category, rec["question"], cot), off)
        for rec in records
        for cot in rec["cots"]
    ]


class Summarizer:
    """Sample -> ``[reward, has verdict string, generated tokens]`` (what chunk files keep)."""

    def __init__(self, task_type: str, tokenizer: Any):
        self.task_type = task_type
        self.stops = stop_strings(task_type)
        self.yes, self.no = last_token_id(tokenizer, " Yes"), last_token_id(tokenizer, " No")

    def __call__(self, sample: Sample) -> list[Any]:
        reward = sample_reward(sample.text, sample.last_logprobs, self.task_type, self.yes, self.no)
        verdict = any(s in sample.text for s in self.stops)
        return [reward, verdict, len(sample.token_ids)]


def nan_summary(results: list[list[list[Any]]]) -> dict[str, Any]:
    """NaN counts of one category from its ``[reward, verdict, tokens]`` sample summaries."""
    samples = [s for per_cot in results for s in per_cot]
    nan = sum(1 for r, _, _ in samples if r is None or math.isnan(r))
    no_verdict = sum(1 for _, v, _ in samples if not v)
    return {
        "samples": len(samples),
        "nan": nan,
        "nan_rate": nan / len(samples) if samples else 0.0,
        "no_verdict": no_verdict,
        "verdict_token_missing": nan - no_verdict,
        "mean_generated_tokens": sum(t for _, _, t in samples) / len(samples) if samples else 0.0,
    }


def assemble(records: list[dict[str, Any]], results: list[list[list[Any]]]) -> list[dict[str, Any]]:
    """Reward records in test-set order from per-CoT sample summaries (question-major)."""
    it = iter(results)
    return [
        {
            "q_id": rec["q_id"],
            "cot_ids": list(rec["cot_ids"]),
            "rewards": [[float(s[0]) for s in next(it)] for _ in rec["cots"]],
        }
        for rec in records
    ]


class RewardStage(SamplingStage):
    """Sampled-verdict scoring of every test CoT."""

    def __init__(self, args: argparse.Namespace):
        super().__init__(args)
        self._lengths: dict[str, list[int]] = {}  # category -> prompt lengths (tokens)
        self._context: int | None = None  # of the backend this process loaded

    def backend(self, name: str, device: str | None = None) -> Any:
        backend = super().backend(name, device)
        self._context = backend_context(backend)
        return backend

    def limits(self) -> dict[str, int | None]:
        """The loaded model's context (at most ``--max_model_len``; unknown in the parent of several vLLM
        engines unless that is given) and the ``max_length`` it was trained with."""
        a = self.args
        context = min(filter(None, (self._context, a.max_model_len)), default=None)
        return {
            "model context": context,
            "model context less --max_tokens": context - a.max_tokens if context else None,
            "training max_length": training_max_length(a.model_id),
        }

    def spec(self) -> SamplingSpec:
        a = self.args
        return SamplingSpec(
            n=a.n_samples,
            temperature=a.temperature,
            top_p=a.top_p,
            top_k=a.top_k,
            min_p=a.min_p,
            max_tokens=a.max_tokens,
            stop=tuple(stop_strings(a.task_type)),
            logprobs=a.logprobs,
            seed=a.seed,
        )

    def records(self, category: str) -> list[dict[str, Any]]:
        return load_records(self.args.data_path, category, "test", self.args.revision)

    def done(self, category: str) -> bool:
        return (self.out / reward_file(category)).exists()

    def prompts(self, tokenizer: Any, category: str) -> list[str]:
        a = self.args
        prompts = build_prompts(a.task_type, category, self.records(category), tokenizer, a.model_id)
        # as the engine reads them: the BOS removed from the text comes back as a special token
        self._lengths[category] = token_lengths(tokenizer, prompts)
        return prompts

    def summarizer(self, tokenizer: Any) -> Summarizer:
        return Summarizer(self.args.task_type, tokenizer)

    def fingerprint(self) -> dict[str, Any]:
        a = self.args
        return {
            "model": model_fingerprint(a.model_id, a.revision, a.base_model),
            "task_type": a.task_type,
            "dtype": a.dtype,
        }

    def write(self, category: str, results: list[Any], stats: dict[str, Any]) -> None:
        rewards = assemble(self.records(category), results)
        write_json(self.out / reward_file(category), rewards)
        nan_path, meta_path = self.out / "nan_counts.json", self.out / "reward_meta.json"
        nan_counts = _read_json(nan_path)
        c = nan_counts[category] = nan_summary(results)
        write_json(nan_path, nan_counts, indent=2)
        meta = _read_json(meta_path)
        if category in self._lengths:
            long = meta.setdefault("long_prompts", {})[category] = long_inputs(
                self._lengths[category], self.limits()
            )
            warning = long_inputs_warning("prompts", category, long)
            if warning:
                log.warning(warning)
        meta.update(
            task_type=self.args.task_type,
            model_id=self.args.model_id,
            data_path=str(self.args.data_path),
            revision=self.args.revision,
            backend=self.resolved_backend,
            sampling=self.spec().to_dict(),
            logprobs="raw (before temperature): top-k plus the sampled token, at the last generated token",
        )
        if stats.get("seconds"):
            meta.setdefault("throughput", {})[category] = {
                **stats,
                "samples_per_s": stats["samples"] / stats["seconds"],
                "tokens_per_s": stats["tokens"] / stats["seconds"],
            }
        write_json(meta_path, meta, indent=2)
        log.info(
            "%s: %d questions, %d samples, %d NaN (%.1f%%: %d without verdict, %d verdict token not in top-%d)",
            category,
            len(rewards),
            c["samples"],
            c["nan"],
            100 * c["nan_rate"],
            c["no_verdict"],
            c["verdict_token_missing"],
            self.args.logprobs,
        )


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def run(args: argparse.Namespace) -> None:
    if not args.data_path or not args.model_id:
        raise UserError("--data_path and --model_id are required")
    execute(RewardStage(args), resolve_categories(args.category, args.data_path))
