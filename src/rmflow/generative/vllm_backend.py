"""vLLM backend (GPU; optional dependency).

All prompts of a call are submitted at once so vLLM schedules them together; prefix caching is on
(the n samples of a prompt, and prompts sharing a question, reuse their prefix). LoRA adapters are
served directly through a ``LoRARequest`` with ``max_lora_rank`` raised to the adapter's rank
(vLLM's default 16 is below the published adapters' 32). Logprobs are vLLM's default raw logprobs
(before temperature and filtering): top-k per position plus the sampled token.

Everything except :class:`VLLMBackend` itself is plain Python, so the parsing of vLLM's
``RequestOutput`` / ``CompletionOutput`` / ``Logprob`` objects is tested without vLLM installed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from rmflow.generative.sampling import Sample, SamplingSpec
from rmflow.model_loading import load_tokenizer, resolve_checkpoint

log = logging.getLogger(__name__)

#: LoRA ranks vLLM accepts for ``max_lora_rank``.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
#: vLLM cannot return logprobs of chosen token ids: ask for this many top tokens instead.
FALLBACK_TOPK = 20


def max_lora_rank(rank: int | None) -> int:
    """Smallest rank vLLM accepts that is >= the adapter's ``r`` (16 when unknown)."""
    if rank is None:
        return 16
    for r in VLLM_LORA_RANKS:
        if r >= rank:
            return r
    raise ValueError(f"LoRA rank {rank} exceeds vLLM's largest supported rank {VLLM_LORA_RANKS[-1]}")


def sampling_kwargs(spec: SamplingSpec) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for ``spec`` (stop strings kept in the output).

    No per-request seed: the engine seed makes runs repeatable without vLLM's slower per-request generators.
    """
    logprobs = spec.logprobs
    if logprobs is not None and not isinstance(logprobs, int):
        logprobs = FALLBACK_TOPK
    return {
        "n": spec.n,
        "temperature": spec.temperature,
        "top_p": spec.top_p,
        "top_k": spec.top_k if spec.top_k > 0 else -1,
        "min_p": spec.min_p,
        "max_tokens": spec.max_tokens,
        "stop": list(spec.stop) or None,
        "include_stop_str_in_output": True,
        "logprobs": logprobs,
    }


def _lp_value(v: Any) -> float:
    """A vLLM ``Logprob`` (``.logprob``) or a bare float."""
    return float(getattr(v, "logprob", v))


def parse_logprob_entry(entry: Mapping[int, Any] | None) -> dict[int, float]:
    """``{token_id: Logprob}`` -> ``{token_id: float}``."""
    return {} if entry is None else {int(k): _lp_value(v) for k, v in entry.items()}


def finish_reason(completion: Any) -> str:
    """vLLM's finish_reason/stop_reason -> ``stop`` (a stop string), ``eos`` or ``length``."""
    if completion.finish_reason == "length":
        return "length"
    return "stop" if isinstance(getattr(completion, "stop_reason", None), str) else "eos"


def parse_completion(completion: Any, spec: SamplingSpec) -> Sample:
    """One ``CompletionOutput`` -> :class:`Sample` (last-token or all-token logprobs per ``spec``)."""
    raw = completion.logprobs or []
    if spec.logprobs is None or not raw:
        lps: list[dict[int, float]] = []
    elif spec.all_logprobs:
        lps = [parse_logprob_entry(e) for e in raw]
    else:
        lps = [parse_logprob_entry(raw[-1])]
    if spec.logprobs is not None and not isinstance(spec.logprobs, int):
        wanted = set(spec.logprobs) | set(completion.token_ids[-1:])
        lps = [{k: v for k, v in e.items() if k in wanted} for e in lps]
    return Sample(
        text=completion.text,
        token_ids=list(completion.token_ids),
        logprobs=lps,
        finish_reason=finish_reason(completion),
    )


def parse_request_outputs(outputs: Sequence[Any], spec: SamplingSpec) -> list[list[Sample]]:
    """``LLM.generate`` results (in prompt order) -> per prompt, its samples ordered by ``index``."""
    return [[parse_completion(c, spec) for c in sorted(o.outputs, key=lambda c: c.index)] for o in outputs]


class VLLMBackend:
    """One vLLM engine over ``tensor_parallel_size`` GPUs; adapters served as LoRA."""

    def __init__(
        self,
        model_id: str,
        revision: str | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 42,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        dtype: str | None = None,
        base_model: str | None = None,
    ):
        from vllm import LLM

        self.ref = resolve_checkpoint(model_id, revision, base_model)
        self.tokenizer = load_tokenizer(self.ref)
        kwargs: dict[str, Any] = {
            "model": self.ref.base,
            "tokenizer": self.ref.tokenizer_source,
            "tensor_parallel_size": tensor_parallel_size,
            "enable_prefix_caching": True,
            "seed": seed,
            "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype or "auto",
        }
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if revision and not self.ref.adapter:
            kwargs["revision"] = revision
        self.lora = None
        if self.ref.adapter:
            from vllm.lora.request import LoRARequest

            kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=max_lora_rank(self.ref.lora_rank))
            self.lora = LoRARequest("rm", 1, _local_dir(self.ref.adapter, revision))
        log.info("vLLM engine: %s", {k: v for k, v in kwargs.items() if k != "tokenizer"})
        self.llm = LLM(**kwargs)

    def generate(self, prompts: Sequence[str], spec: SamplingSpec) -> list[list[Sample]]:
        from vllm import SamplingParams

        params = SamplingParams(**sampling_kwargs(spec))
        outputs = self.llm.generate(list(prompts), params, lora_request=self.lora, use_tqdm=True)
        return parse_request_outputs(outputs, spec)

    def close(self) -> None:
        self.llm = None


def _local_dir(model_id: str, revision: str | None) -> str:
    """A local directory for an adapter (downloads hub adapters; LoRARequest wants a path)."""
    from pathlib import Path

    if Path(model_id).is_dir():
        return model_id
    from huggingface_hub import snapshot_download

    return snapshot_download(model_id, revision=revision)
