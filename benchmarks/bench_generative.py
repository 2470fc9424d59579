"""Generative scoring throughput of the transformers backend: prompts batched vs one at a time.

One prompt per ``generate`` call (n samples each, the seed's behaviour) is the baseline; the batched
runs put several prompts (x n samples) into each call, left-padded. Same tiny backbone, same test
CoTs, same sampling settings (the paper's, except shorter max_tokens), same process. Prints samples/s,
generated tokens/s and the speed-up over the baseline.

    .venv/bin/python benchmarks/bench_generative.py [--cots 32] [--n_samples 4] [--max_tokens 32]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path


def build(root: Path, n_questions: int, n_cots: int) -> tuple[Path, list[dict]]:
    from rmflow.backbone import build_backbone
    from rmflow.synth import make_test_records, synthesize

    synthesize(
        root / "synth", category="math", train_questions=4, train_cots=2, test_questions=1, test_cots=2
    )
    build_backbone(root / "backbone", root / "synth", pretrain_steps=0)
    return root / "backbone", make_test_records(0, "math", n_questions, n_cots)


def measure(backend, prompts: list[str], spec, batch_size: int) -> dict[str, float]:
    backend.batch_size = batch_size
    backend.generate(prompts[:batch_size], spec)  # warm-up
    t0 = time.perf_counter()
    out = backend.generate(prompts, spec)
    dt = time.perf_counter() - t0
    samples = sum(len(s) for s in out)
    tokens = sum(len(x.token_ids) for s in out for x in s)
    return {"seconds": dt, "samples_per_s": samples / dt, "tokens_per_s": tokens / dt, "tokens": tokens}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cots", type=int, default=16, help="test CoTs scored (prompts)")
    p.add_argument("--n_samples", type=int, default=4)
    p.add_argument("--max_tokens", type=int, default=32)
    p.add_argument("--batch_sizes", default="4,16", help="prompts per generate call for the batched runs")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    from rmflow.generative.reward import build_prompts
    from rmflow.generative.sampling import SamplingSpec
    from rmflow.generative.transformers_backend import TransformersBackend
    from rmflow.generative.verdict import stop_strings

    with tempfile.TemporaryDirectory() as tmp:
        backbone, records = build(Path(tmp), max(1, args.cots // 4), 4)
        backend = TransformersBackend(str(backbone))
        prompts = build_prompts("gORM", "math", records, backend.tokenizer)[: args.cots]
        spec = SamplingSpec(
            n=args.n_samples,
            temperature=0.6,
            top_p=1.0,
            max_tokens=args.max_tokens,
            stop=tuple(stop_strings("gORM")),
            logprobs=20,
        )
        device = backend.device
        print(
            f"device {device}, torch threads {torch.get_num_threads()}, {len(prompts)} prompts x {spec.n} samples"
        )
        print(
            f"max_tokens {spec.max_tokens}, prompt length ~{len(backend.tokenizer(prompts[0])['input_ids'])} tokens"
        )
        base = measure(backend, prompts, spec, 1)
        print(f"{'prompts/call':>12} {'seconds':>8} {'samples/s':>10} {'tok/s':>8} {'speed-up':>8}")
        print(
            f"{1:>12} {base['seconds']:8.2f} {base['samples_per_s']:10.1f} {base['tokens_per_s']:8.0f} {1.0:8.2f}"
        )
        for bs in (int(x) for x in args.batch_sizes.split(",")):
            r = measure(backend, prompts, spec, bs)
            ratio = r["tokens_per_s"] / base["tokens_per_s"]
            print(
                f"{bs:>12} {r['seconds']:8.2f} {r['samples_per_s']:10.1f} {r['tokens_per_s']:8.0f} {ratio:8.2f}"
            )


if __name__ == "__main__":
    main()
