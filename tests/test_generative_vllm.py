"""The vLLM backend around vLLM itself: sampling parameters and parsing of vLLM-shaped outputs (no vLLM import)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from rmflow.generative.sampling import SamplingSpec
from rmflow.generative.verdict import sample_reward
from rmflow.generative.vllm_backend import (
    FALLBACK_TOPK,
    finish_reason,
    max_lora_rank,
    parse_completion,
    parse_request_outputs,
    sampling_kwargs,
)

YES, NO = 11, 12


# Shapes of vllm.sequence.Logprob, vllm.outputs.CompletionOutput and RequestOutput.
@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str
    outputs: list[CompletionOutput] = field(default_factory=list)


def completion(index: int, text: str, last: dict[int, float], reason="stop", stop=None, n_tokens=3) -> Any:
    ids = [5] * (n_tokens - 1) + [next(iter(last))]
    lps = [{5: Logprob(-0.5, 1)} for _ in range(n_tokens - 1)] + [
        {k: Logprob(v, r) for r, (k, v) in enumerate(last.items(), 1)}
    ]
    return CompletionOutput(index, text, ids, None, lps, reason, stop)


def test_vllm_is_not_imported_by_the_backend_module():
    assert "vllm" not in sys.modules


def test_sampling_kwargs_map_the_spec():
    spec = SamplingSpec(
        n=10, temperature=0.6, top_p=1.0, top_k=0, max_tokens=8192, stop=("A", "B"), logprobs=20
    )
    kw = sampling_kwargs(spec)
    assert kw == {
        "n": 10,
        "temperature": 0.6,
        "top_p": 1.0,
        "top_k": -1,
        "min_p": 0.0,
        "max_tokens": 8192,
        "stop": ["A", "B"],
        "include_stop_str_in_output": True,
        "logprobs": 20,
    }
    assert sampling_kwargs(SamplingSpec(top_k=20))["top_k"] == 20
    assert sampling_kwargs(SamplingSpec())["stop"] is None
    assert sampling_kwargs(SamplingSpec(logprobs=(YES, NO)))["logprobs"] == FALLBACK_TOPK


@pytest.mark.parametrize(("r", "expected"), [(None, 16), (8, 8), (16, 16), (32, 32), (33, 64), (200, 256)])
def test_max_lora_rank_covers_the_adapter(r, expected):
    assert max_lora_rank(r) == expected


def test_finish_reasons():
    assert finish_reason(CompletionOutput(0, "", [], None, None, "length", None)) == "length"
    assert (
        finish_reason(CompletionOutput(0, "", [], None, None, "stop", "Is the solution correct? Yes"))
        == "stop"
    )
    assert finish_reason(CompletionOutput(0, "", [], None, None, "stop", None)) == "eos"
    assert finish_reason(CompletionOutput(0, "", [], None, None, "stop", 151643)) == "eos"


def test_parse_last_token_logprobs_and_order():
    spec = SamplingSpec(n=2, logprobs=20)
    verdict = "Verification: Is the answer correct (Yes/No)? Yes"
    out = RequestOutput(
        "0",
        "p",
        [
            completion(1, "no verdict", {7: -0.1}, reason="length"),
            completion(0, "x " + verdict, {YES: math.log(0.6), NO: math.log(0.2)}, stop=verdict),
        ],
    )
    (samples,) = parse_request_outputs([out], spec)
    first, second = samples  # sorted by CompletionOutput.index
    assert first.finish_reason == "stop" and second.finish_reason == "length"
    assert first.logprobs == [{YES: math.log(0.6), NO: math.log(0.2)}]
    assert first.token_ids[-1] == YES
    assert sample_reward(first.text, first.last_logprobs, "gORM", YES, NO) == pytest.approx(0.75)
    assert math.isnan(sample_reward(second.text, second.last_logprobs, "gORM", YES, NO))


def test_parse_all_tokens_float_logprobs_and_missing():
    spec = SamplingSpec(logprobs=5, all_logprobs=True)
    c = completion(0, "t", {YES: -0.2}, n_tokens=3)
    assert len(parse_completion(c, spec).logprobs) == 3
    c.logprobs = [{1: -0.3}]  # plain floats are accepted too
    assert parse_completion(c, spec).logprobs == [{1: -0.3}]
    c.logprobs = None
    assert parse_completion(c, spec).last_logprobs is None
    assert parse_completion(completion(0, "t", {YES: -0.2}), SamplingSpec()).logprobs == []


def test_requested_ids_are_filtered_from_topk():
    spec = SamplingSpec(logprobs=(YES, NO))
    c = completion(0, "t", {3: -0.1, YES: -1.0, 4: -2.0})
    assert parse_completion(c, spec).last_logprobs == {3: -0.1, YES: -1.0}  # sampled token 3 kept


def test_backend_resolution(monkeypatch):
    from rmflow.errors import UserError
    from rmflow.generative.backend_factory import resolve_backend

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert resolve_backend("transformers") == "transformers"
    with pytest.raises(UserError):
        resolve_backend("tgi")
    monkeypatch.setenv("WORLD_SIZE", "2")  # under accelerate launch: one process per GPU
    assert resolve_backend("auto") == "transformers"
    with pytest.raises(UserError, match="one process"):
        resolve_backend("vllm")
