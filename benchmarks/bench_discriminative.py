"""Discriminative scoring: two-row projection vs naive full-vocabulary logits.

A randomly initialised Qwen2 model with a 152k vocabulary scores one batch of step-tagged sequences
(default 8 x 1024 tokens, a tag every 64 tokens) two ways:

* ``two_row``: decoder body -> final-norm hidden states at the tags -> the two LM-head rows (what
  ``rmflow reward`` does);
* ``naive``: the full causal-LM forward (batch x length x vocabulary logits), then the (-, +) columns
  at the tags and a softmax over them.

Each variant runs in a fresh child process so that its peak memory is its own: on CPU the peak
resident set (``ru_maxrss``) minus the value after building the model and a warm-up forward; on CUDA
``max_memory_allocated`` after resetting the peak. Prints CoTs/s, peak memory, their ratios and the
largest score difference. ``--json PATH`` also writes the figures as JSON.

``--shape 14B`` takes the architecture of the 14B presets' backbone (DeepSeek-R1-Distill-Qwen-14B, a
Qwen2.5-14B: 48 layers, hidden 5120, MLP 13824, 40 query / 8 key-value heads, vocabulary 152064) instead
of ``--hidden/--layers/--vocab``, randomly initialised on the device in ``--dtype`` (no hub). Each
variant also reports tokens/s and its model FLOPs per second (:func:`forward_flops`: the matrix products
of the decoder, causal attention and the head it computes: two rows at the tags, or the full vocabulary
at every position), and its MFU, the share of the device's dense bf16 peak (``--peak_tflops``, known
for some GPUs by name, :data:`PEAK_BF16_TFLOPS`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20
#: architectures by name: vocabulary, hidden size, MLP size, layers, query heads, key-value heads
SHAPES = {
    "14B": {
        "vocab": 152_064,
        "hidden": 5120,
        "intermediate": 13_824,
        "layers": 48,
        "heads": 40,
        "kv_heads": 8,
    }
}
#: dense bf16 peak (TFLOP/s) by a substring of the CUDA device name, most specific first
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1}


def architecture(args: argparse.Namespace) -> dict[str, int]:
    """The model's shape: a named one (``--shape``) or the flags' (MLP 3x hidden, 64-wide heads)."""
    if args.shape != "custom":
        return SHAPES[args.shape]
    heads = args.hidden // 64
    return {"vocab": args.vocab, "hidden": args.hidden, "intermediate": 3 * args.hidden, "layers": args.layers,
            "heads": heads, "kv_heads": heads}  # fmt: skip


def forward_flops(arch: dict[str, int], seq: int, tags: int, variant: str) -> float:
    """Model FLOPs of one sequence's forward: 2 per multiply-add of the decoder's matrix products, causal
    attention (scores and weighted sum, position t attending to t keys) and the head the variant computes:
    two rows at the ``tags`` positions (``two_row``) or the whole vocabulary at every position (``naive``)."""
    h, layers = arch["hidden"], arch["layers"]
    kv = h * arch["kv_heads"] // arch["heads"]
    per_token = 2 * layers * (2 * h * h + 2 * h * kv + 3 * h * arch["intermediate"])
    attention = layers * 4 * h * seq * (seq + 1) / 2
    head = 2 * h * (2 * tags if variant == "two_row" else arch["vocab"] * seq)
    return per_token * seq + attention + head


def peak_tflops(args: argparse.Namespace) -> float | None:
    """``--peak_tflops``, else the dense bf16 peak of a known CUDA device, else None (no MFU)."""
    if args.peak_tflops:
        return args.peak_tflops
    if not args.device.startswith("cuda"):
        return None
    import torch

    return peak_for(torch.cuda.get_device_name(torch.device(args.device)))


def peak_for(device_name: str) -> float | None:
    """The dense bf16 peak of a device by its name (:data:`PEAK_BF16_TFLOPS`), or None."""
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device_name), None)


def build_model(args: argparse.Namespace):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    arch = architecture(args)
    config = Qwen2Config(
        vocab_size=arch["vocab"],
        hidden_size=arch["hidden"],
        intermediate_size=arch["intermediate"],
        num_hidden_layers=arch["layers"],
        num_attention_heads=arch["heads"],
        num_key_value_heads=arch["kv_heads"],
        max_position_embeddings=max(2048, args.seq),
        tie_word_embeddings=False,
    )
    # built where it runs, in its dtype: a 14B model in fp32 on the host would take 59 GB and minutes
    torch.set_default_dtype(getattr(torch, args.dtype))
    with torch.device(args.device):
        model = Qwen2ForCausalLM(config).eval()
    torch.set_default_dtype(torch.float32)
    # real checkpoints are not at initialisation scale: spread the logits a little
    with torch.no_grad():
        model.lm_head.weight.normal_(0, 0.05)
    return model


def make_batch(args: argparse.Namespace):
    import torch

    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(10, architecture(args)["vocab"], (args.batch, args.seq), generator=gen)
    tag, neg, pos = 5, 6, 7
    positions = torch.arange(args.tag_every - 1, args.seq, args.tag_every)
    ids[:, positions] = tag
    mask = torch.ones_like(ids)
    return ids.to(args.device), mask.to(args.device), positions.to(args.device), (neg, pos)


def run_variant(model, ids, mask, positions, neg_pos, variant: str):
    import torch

    from rmflow.discriminative.features import SpecialIds
    from rmflow.discriminative.heads import decoder_hidden, head_rows, two_way_logits

    with torch.inference_mode():
        if variant == "two_row":
            hidden = decoder_hidden(model, ids, mask)
            weight, bias = head_rows(model, SpecialIds(5, *neg_pos))
            at = hidden[:, positions].reshape(-1, hidden.shape[-1])
            return torch.softmax(two_way_logits(at, weight, bias), -1)[:, 1]
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits  # (batch, length, vocab)
        two = logits[:, positions][..., list(neg_pos)].float().reshape(-1, 2)
        return torch.softmax(two, -1)[:, 1]


def _rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child(args: argparse.Namespace) -> None:
    """Measure one variant; print a JSON line; save the scores to ``args.scores``."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    model = build_model(args)
    ids, mask, positions, neg_pos = make_batch(args)
    run_variant(model, ids[:1, :64], mask[:1, :64], positions[:1], neg_pos, args.child)  # warm-up, tiny
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        scores = run_variant(model, ids, mask, positions, neg_pos, args.child)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if cuda else _rss_bytes()) - base
    torch.save(scores.float().cpu(), args.scores)
    best = min(times)
    tags = len(positions)
    flops = args.batch * forward_flops(architecture(args), args.seq, tags, args.child) / best
    peak_flops = peak_tflops(args)
    figures = {
        "variant": args.child,
        "seconds": best,
        "cots_per_s": args.batch / best,
        "tokens_per_s": args.batch * args.seq / best,
        "tflops": flops / 1e12,
        "peak_tflops": peak_flops,
        "mfu": flops / (peak_flops * 1e12) if peak_flops else None,
        "peak_bytes": peak,
    }
    print(json.dumps(figures))


def parent(args: argparse.Namespace) -> dict:
    import torch

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("two_row", "naive"):
            scores = Path(tmp) / f"{variant}.pt"
            cmd = [sys.executable, __file__, "--child", variant, "--scores", str(scores)]
            for key in (
                "vocab",
                "hidden",
                "layers",
                "shape",
                "dtype",
                "peak_tflops",
                "batch",
                "seq",
                "tag_every",
                "repeats",
                "device",
                "threads",
            ):
                cmd += [f"--{key}", str(getattr(args, key))]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if out.returncode:
                sys.exit(f"{variant} failed:\n{out.stderr[-3000:]}")
            results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
            results[variant]["scores"] = torch.load(scores)
    a, b = results["two_row"], results["naive"]
    diff = float((a.pop("scores") - b.pop("scores")).abs().max())
    arch = architecture(args)
    summary = {
        "device": args.device,
        "dtype": args.dtype,
        "shape": f"{args.batch}x{args.seq}, vocab {arch['vocab']}, hidden {arch['hidden']}, layers {arch['layers']}"
        + ("" if args.shape == "custom" else f" (the {args.shape} presets' backbone)"),
        "peak_tflops": a["peak_tflops"],  # as the children found it (the parent leaves CUDA alone)
        "tags_per_sequence": len(range(args.tag_every - 1, args.seq, args.tag_every)),
        "two_row": a,
        "naive": b,
        "throughput_ratio": a["cots_per_s"] / b["cots_per_s"],
        # ru_maxrss moves in pages and reuses freed memory: below 1 MiB a peak is noise, floor it there
        "peak_memory_ratio": max(b["peak_bytes"], MIB) / max(a["peak_bytes"], MIB),
        "max_abs_score_diff": diff,
    }
    print(
        f"discriminative scoring on {args.device}: {summary['shape']}, {summary['tags_per_sequence']} tags/sequence"
    )
    for name in ("two_row", "naive"):
        r = summary[name]
        mfu = f"MFU {100 * r['mfu']:5.1f}%" if r["mfu"] is not None else "MFU n/a (no peak known)"
        print(
            f"  {name:8s} {r['cots_per_s']:9.2f} CoTs/s  {r['tokens_per_s']:11.0f} tokens/s  "
            f"{r['tflops']:8.2f} TFLOP/s  {mfu}   peak +{r['peak_bytes'] / MIB:9.1f} MiB"
        )
    print(f"  throughput ratio (two_row / naive): {summary['throughput_ratio']:.2f}x (target >= 1.5x)")
    print(
        f"  peak memory ratio (naive / two_row, peaks floored at 1 MiB): {summary['peak_memory_ratio']:.2f}x"
        " (target >= 5x)"
    )
    print(f"  max |score difference|: {diff:.2e} (target <= 1e-5)")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str] | None = None) -> dict | None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", type=int, default=151_936)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--shape", choices=("custom", *SHAPES), default="custom", help="a named architecture")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    p.add_argument("--peak_tflops", type=float, default=0.0, help="the device's dense peak (0: look it up)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--tag_every", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads in the children (0: default)")
    p.add_argument("--json", help="also write the summary here")
    p.add_argument("--child", choices=("two_row", "naive"), help=argparse.SUPPRESS)
    p.add_argument("--scores", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return None
    return parent(args)


if __name__ == "__main__":
    main()
