"""Sampling backends behind one small interface (teacher generation and generative scoring).

``backend.generate(prompts, spec)`` returns, per prompt, ``spec.n`` :class:`Sample` objects: the text,
the generated token ids, and per-token logprobs (only at the last token unless
``spec.all_logprobs``). Logprobs are RAW: the log-softmax of the model's logits before temperature,
top-k/top-p/min-p, exactly what vLLM returns by default (``logprobs_mode="raw_logprobs"``). Each
logprob entry holds the top-``k`` tokens plus the sampled token, like vLLM's.

Backends: :class:`TransformersBackend` (CPU or GPU, batched ``generate`` across prompts) and
``rmflow.generative.vllm_backend.VLLMBackend`` (GPU, optional import). torch/transformers are imported
inside functions only.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from rmflow.chat_template import KEEP_REASONING_TEMPLATE, is_deepseek_r1
from rmflow.checkpoints import adapter_config
from rmflow.errors import UserError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "transformers", "vllm")


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


# --------------------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class ModelRef:
    """Where the weights come from: a full model, or a LoRA ``adapter`` on top of ``base``."""

    base: str
    adapter: str | None = None
    tokenizer_source: str = ""
    lora_rank: int | None = None
    revision: str | None = None


def _has_tokenizer(model_id: str) -> bool:
    path = Path(model_id)
    if path.is_dir():
        return (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()
    try:
        from huggingface_hub import file_exists

        return file_exists(model_id, "tokenizer_config.json")
    except Exception:
        return False


def resolve_checkpoint(model_id: str, revision: str | None = None, base_model: str | None = None) -> ModelRef:
    """Full model or LoRA adapter? Adapters name their base in ``adapter_config.json`` (``base_model`` overrides)."""
    cfg = adapter_config(model_id, revision)
    if cfg is None:
        return ModelRef(base=model_id, tokenizer_source=model_id, revision=revision)
    base = base_model or cfg.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{model_id}: adapter_config.json names no base_model_name_or_path")
    tok = model_id if _has_tokenizer(model_id) else base
    return ModelRef(
        base=base, adapter=model_id, tokenizer_source=tok, lora_rank=cfg.get("r"), revision=revision
    )


def load_tokenizer(ref: ModelRef) -> Any:
    """Tokenizer for prompt building; DeepSeek-R1 backbones get the reasoning-keeping template."""
    from transformers import AutoTokenizer

    rev = ref.revision if ref.tokenizer_source == (ref.adapter or ref.base) else None
    try:
        tok = AutoTokenizer.from_pretrained(ref.tokenizer_source, revision=rev)
    except (OSError, ValueError) as exc:  # missing files / not a tokenizer directory
        raise UserError(f"{ref.tokenizer_source}: cannot load tokenizer: {exc}") from None
    if is_deepseek_r1(ref.base, tok.chat_template):
        tok.chat_template = KEEP_REASONING_TEMPLATE
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def token_id(tokenizer: Any, text: str) -> int:
    """Last token id of ``text`` (no special tokens): the verdict ids of ``" Yes"`` / ``" No"``."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if not ids:
        raise UserError(f"tokenizer encodes {text!r} to no tokens")
    return ids[-1]


# --------------------------------------------------------------------------- transformers backend
def _hf_processors(spec: SamplingSpec, recorder: Any) -> Any:
    """Raw-logprob recorder first, then the sampling filters in vLLM's order (temperature, min-p, top-k, top-p)."""
    from transformers import (
        LogitsProcessorList,
        MinPLogitsWarper,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    procs: list[Any] = [recorder]
    if spec.temperature > 0:
        if spec.temperature != 1.0:
            procs.append(TemperatureLogitsWarper(spec.temperature))
        if spec.min_p > 0:
            procs.append(MinPLogitsWarper(spec.min_p))
        if spec.top_k > 0:
            procs.append(TopKLogitsWarper(spec.top_k))
        if spec.top_p < 1.0:
            procs.append(TopPLogitsWarper(spec.top_p))
    return LogitsProcessorList(procs)


class _RawLogprobRecorder:
    """Logits processor that sees the raw logits of every step and keeps top-k (or chosen ids) logprobs.

    The sampled token of step ``s`` is gathered at step ``s+1`` (it is then the last input id); the final
    step's sampled token is gathered by :meth:`finish`. Everything stays on the model's device until
    :meth:`finish` moves it to the CPU in one copy.
    """

    def __init__(self, logprobs: int | tuple[int, ...] | None, prompt_len: int):
        import torch

        self.torch = torch
        self.active = logprobs is not None
        wanted = logprobs is not None and not isinstance(logprobs, int)
        self.ids_wanted = torch.tensor(list(logprobs), dtype=torch.long) if wanted else None
        self.k = logprobs if isinstance(logprobs, int) else 0
        self.prompt_len = prompt_len
        self.ids: list[Any] = []  # per step: [rows, k] token ids
        self.vals: list[Any] = []  # per step: [rows, k] logprobs
        self.sampled: list[Any] = []  # per step: [rows] logprob of the sampled token
        self._prev: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if not self.active:
            return scores
        torch = self.torch
        lp = torch.log_softmax(scores.float(), dim=-1)
        if self._prev is not None:
            self.sampled.append(self._prev.gather(1, input_ids[:, -1:]).squeeze(1))
        if self.ids_wanted is None:
            vals, ids = lp.topk(min(self.k, lp.shape[-1]), dim=-1)
        else:
            ids = self.ids_wanted.to(lp.device).expand(lp.shape[0], -1)
            vals = lp.gather(1, ids)
        self.ids.append(ids)
        self.vals.append(vals)
        self._prev = lp
        return scores

    def finish(self, sequences: Any) -> None:
        """Gather the last step's sampled tokens and move everything to the CPU."""
        torch = self.torch
        if self._prev is not None and len(self.sampled) < len(self.ids):
            pos = self.prompt_len + len(self.ids) - 1
            last = sequences[:, pos : pos + 1].to(self._prev.device)
            self.sampled.append(self._prev.gather(1, last).squeeze(1))
        self._prev = None
        if self.ids:
            self.ids = torch.stack(self.ids).cpu()  # [steps, rows, k]
            self.vals = torch.stack(self.vals).cpu()
            self.sampled = torch.stack(self.sampled).cpu()  # [steps, rows]

    def entry(self, row: int, step: int, sampled: int) -> dict[int, float]:
        """``{token id: logprob}`` at ``step`` of ``row``: the top-k (or chosen ids) plus the sampled token."""
        ids, vals = self.ids[step][row].tolist(), self.vals[step][row].tolist()
        out = {int(i): float(v) for i, v in zip(ids, vals, strict=True)}
        out.setdefault(int(sampled), float(self.sampled[step][row]))
        return out


class _FinishTracker:
    """Stopping criterion: stop strings or EOS; remembers the step at which each row first finished."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], eos_ids: Sequence[int], prompt_len: int):
        import torch
        from transformers import StopStringCriteria

        self.torch = torch
        self.stop = StopStringCriteria(tokenizer, list(stop)) if stop else None
        self.eos = torch.tensor(list(eos_ids), dtype=torch.long)
        self.prompt_len = prompt_len
        self.finished_at: dict[int, tuple[int, str]] = {}

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        torch = self.torch
        is_eos = torch.isin(input_ids[:, -1], self.eos.to(input_ids.device))
        is_stop = self.stop(input_ids, scores) if self.stop is not None else torch.zeros_like(is_eos)
        step = input_ids.shape[1] - self.prompt_len - 1
        for row in torch.nonzero(is_eos | is_stop).flatten().tolist():
            if row not in self.finished_at:
                self.finished_at[row] = (step, "stop" if bool(is_stop[row]) else "eos")
        return is_eos | is_stop


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` right after the earliest stop string (kept), like vLLM's include_stop_str_in_output."""
    hits = [(i, s) for s in stop if (i := text.find(s)) >= 0]
    if not hits:
        return text, False
    i, s = min(hits)
    return text[: i + len(s)], True


class TransformersBackend:
    """``transformers`` generate, batched across prompts (left padding, ``num_return_sequences=n``).

    Adapters are merged into their base. Logprobs are raw (temperature-free) log-softmax values, as vLLM's.
    """

    def __init__(
        self,
        model_id: str,
        revision: str | None = None,
        batch_size: int = 8,
        device: str | None = None,
        dtype: str | None = None,
        base_model: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM

        self.ref = resolve_checkpoint(model_id, revision, base_model)
        self.tokenizer = load_tokenizer(self.ref)
        self.tokenizer.padding_side = "left"
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype in (None, "auto"):
            use_bf16 = self.device.startswith("cuda") and torch.cuda.is_bf16_supported()
            torch_dtype = torch.bfloat16 if use_bf16 else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        base_rev = None if self.ref.adapter else revision
        try:
            model = AutoModelForCausalLM.from_pretrained(self.ref.base, dtype=torch_dtype, revision=base_rev)
        except (OSError, ValueError) as exc:  # missing files / unrecognized config
            raise UserError(f"{self.ref.base}: cannot load model: {exc}") from None
        if self.ref.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.ref.adapter, revision=revision).merge_and_unload()
        self.model = model.to(self.device).eval()
        self.batch_size = max(1, batch_size)
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos_ids:
            eos_ids.append(self.tokenizer.eos_token_id)
        self.eos_ids: list[int] = eos_ids

    def close(self) -> None:
        self.model = None

    def generate(self, prompts: Sequence[str], spec: SamplingSpec) -> list[list[Sample]]:
        from rmflow.logs import progress

        out: list[list[Sample]] = []
        starts = range(0, len(prompts), self.batch_size)
        for b, start in enumerate(
            progress(starts, desc="generate", unit="batch", leave=False, disable=len(starts) < 2)
        ):
            batch = list(prompts[start : start + self.batch_size])
            out.extend(self._generate_batch(batch, spec.with_seed(derived_seed(spec.seed, "batch", b))))
        return out

    def _generate_batch(self, prompts: list[str], spec: SamplingSpec) -> list[list[Sample]]:
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        tok = self.tokenizer
        n_prompts, greedy = len(prompts), spec.temperature <= 0
        if greedy and spec.n > 1:  # generate has no greedy num_return_sequences: repeat the prompts instead
            prompts = [p for p in prompts for _ in range(spec.n)]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=True).to(self.device)
        prompt_len = enc["input_ids"].shape[1]
        recorder = _RawLogprobRecorder(spec.logprobs, prompt_len)
        tracker = _FinishTracker(tok, spec.stop, self.eos_ids, prompt_len)
        config = GenerationConfig(
            do_sample=not greedy,
            temperature=1.0,  # the filters run in our own processor list (after the raw recorder)
            top_k=0,
            top_p=1.0,
            repetition_penalty=1.0,
            max_new_tokens=spec.max_tokens,
            num_return_sequences=1 if greedy else spec.n,
            pad_token_id=tok.pad_token_id,
            eos_token_id=self.eos_ids,
        )
        torch.manual_seed(spec.seed)
        with torch.inference_mode():
            seqs = self.model.generate(
                **enc,
                generation_config=config,
                logits_processor=_hf_processors(spec, recorder),
                stopping_criteria=StoppingCriteriaList([tracker]),
            )
        recorder.finish(seqs)
        gen = seqs[:, prompt_len:].cpu()
        n_steps = gen.shape[1]
        samples: list[list[Sample]] = []
        for p in range(n_prompts):
            row_samples = []
            for j in range(spec.n):
                row = p * spec.n + j
                step, reason = tracker.finished_at.get(row, (n_steps - 1, "length"))
                ids = gen[row, : step + 1].tolist()
                text, stopped = cut_at_stop(tok.decode(ids, skip_special_tokens=True), spec.stop)
                if stopped:
                    reason = "stop"
                lps: list[dict[int, float]] = []
                if spec.logprobs is not None and ids:
                    steps = range(len(ids)) if spec.all_logprobs else [len(ids) - 1]
                    lps = [recorder.entry(row, s, ids[s]) for s in steps]
                row_samples.append(Sample(text=text, token_ids=ids, logprobs=lps, finish_reason=reason))
            samples.append(row_samples)
        return samples


# --------------------------------------------------------------------------- factory
def vllm_available() -> bool:
    """True if vLLM can be imported."""
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


def resolve_backend(name: str) -> str:
    """``auto`` -> ``vllm`` when vLLM imports, a GPU is present and this is a single process, else
    ``transformers``. vLLM manages its GPUs itself, so it refuses to run under a multi-process launcher."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if name == "vllm":
        if launched:
            raise UserError("--backend vllm runs as one process (it starts one engine per GPU group itself)")
        if not vllm_available():
            raise UserError("--backend vllm: vLLM is not installed (pip install 'rmflow[vllm]')")
        return name
    if name == "transformers" or launched:
        return "transformers"
    import torch

    return "vllm" if torch.cuda.is_available() and vllm_available() else "transformers"


def make_backend(
    name: str,
    model_id: str,
    revision: str | None = None,
    batch_size: int = 8,
    tensor_parallel_size: int = 1,
    seed: int = 42,
    max_model_len: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    base_model: str | None = None,
) -> Backend:
    """Instantiate a resolved backend name (``transformers`` or ``vllm``)."""
    if name == "vllm":
        from rmflow.generative.vllm_backend import VLLMBackend

        return VLLMBackend(
            model_id,
            revision,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            max_model_len=max_model_len,
            dtype=dtype,
            base_model=base_model,
        )
    return TransformersBackend(
        model_id, revision, batch_size=batch_size, device=device, dtype=dtype, base_model=base_model
    )
