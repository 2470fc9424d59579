"""The sampling interface shared by teacher generation and generative scoring.

``backend.generate(prompts, spec)`` returns, per prompt, ``spec.n`` :class:`Sample` objects: the text,
the generated token ids, and per-token logprobs (only at the last token unless
``spec.all_logprobs``). Logprobs are RAW: the log-softmax of the model's logits before temperature,
top-k/top-p/min-p, exactly what vLLM returns by default (``logprobs_mode="raw_logprobs"``). Each
logprob entry holds the top-``k`` tokens plus the sampled token, like vLLM's.

Implementations: :mod:`rmflow.generative.transformers_backend` (CPU or GPU) and
:mod:`rmflow.generative.vllm_backend` (GPU, optional); :mod:`rmflow.generative.backend_factory` picks and
builds one. Plain Python: nothing here imports torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol


@dataclass(frozen=True)
class SamplingSpec:
    """What to sample. ``top_k <= 0`` and ``min_p == 0`` switch those filters off; temperature 0 is greedy.

    ``logprobs``: an int k (top-k per position, plus the sampled token), a list of token ids (exactly
    those, plus the sampled token; the vLLM backend falls back to top-20), or None.
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    max_tokens: int = 8192
    stop: tuple[str, ...] = ()
    logprobs: int | tuple[int, ...] | None = None
    all_logprobs: bool = False
    seed: int = 42

    def with_seed(self, seed: int) -> SamplingSpec:
        return replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sample:
    """One sampled completion. ``finish_reason``: ``stop`` (a stop string), ``eos`` or ``length``."""

    text: str
    token_ids: list[int]
    logprobs: list[dict[int, float]] = field(default_factory=list)
    finish_reason: str = "length"

    @property
    def last_logprobs(self) -> dict[int, float] | None:
        """Logprobs at the last generated token (None when not requested or nothing was generated)."""
        return self.logprobs[-1] if self.logprobs else None


class Backend(Protocol):
    """A loaded model that samples completions for prompt strings (already chat-templated)."""

    tokenizer: Any

    def generate(self, prompts: Sequence[str], spec: SamplingSpec) -> list[list[Sample]]: ...

    def close(self) -> None: ...


def derived_seed(*parts: object) -> int:
    """A 31-bit seed for a unit of work (chunk, batch), stable across runs and processes."""
    return int(hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF
