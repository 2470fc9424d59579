"""The ``transformers`` sampling backend (CPU or GPU): batched ``generate`` across prompts.

Raw logprobs come from a logits processor that runs before the sampling filters, which are applied in
vLLM's order, so both backends return the same kind of numbers (:mod:`rmflow.generative.sampling`).
torch and transformers are imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmflow.generative.sampling import Sample, SamplingSpec, derived_seed
from rmflow.model_loading import load_model, load_tokenizer, resolve_checkpoint


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

        self.ref = resolve_checkpoint(model_id, revision, base_model)
        self.tokenizer = load_tokenizer(self.ref)
        self.tokenizer.padding_side = "left"
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype in (None, "auto"):
            use_bf16 = self.device.startswith("cuda") and torch.cuda.is_bf16_supported()
            torch_dtype = torch.bfloat16 if use_bf16 else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        model = load_model(self.ref, torch_dtype, merge=True)
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
        """Samples per prompt, in prompt order; batches hold prompts of similar length (less padding)."""
        from rmflow.logs import progress

        lengths = [len(ids) for ids in self.tokenizer(list(prompts), add_special_tokens=True)["input_ids"]]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        out: list[list[Sample]] = [[] for _ in prompts]
        starts = range(0, len(prompts), self.batch_size)
        for b, start in enumerate(
            progress(starts, desc="generate", unit="batch", leave=False, disable=len(starts) < 2)
        ):
            rows = order[start : start + self.batch_size]
            batch = [prompts[i] for i in rows]
            samples = self._generate_batch(batch, spec.with_seed(derived_seed(spec.seed, "batch", b)))
            for i, per_prompt in zip(rows, samples, strict=True):
                out[i] = per_prompt
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
