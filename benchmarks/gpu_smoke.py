"""GPU smoke test: short real runs of the heavy stages, printing what ran where and how fast.

Each area adds one section: a function decorated with ``@section`` taking a scratch directory. ``main``
runs every registered section in order (or those named on the command line), prints a PASS/FAIL line
per section and exits non-zero if any failed. Sections also run on CPU: CUDA-only parts print why
they were skipped. Budget: a few minutes on one GPU for all sections together.

    .venv/bin/python benchmarks/gpu_smoke.py [SECTION ...]

A section may return a dict of figures; with ``$OUT`` set, ``main`` writes them all (plus PASS/FAIL
and timings) to ``$OUT/gpu_smoke.json``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECTIONS: dict[str, Callable[[Path], Any]] = {}


def section(fn: Callable[[Path], Any]) -> Callable[[Path], Any]:
    """Register a smoke section (name = function name without ``section_``)."""
    SECTIONS[fn.__name__.removeprefix("section_")] = fn
    return fn


def cuda_info() -> str:
    import torch

    if not torch.cuda.is_available():
        return "CUDA not available (CPU run)"
    return (
        f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}"
    )


# --------------------------------------------------------------------------- discriminative (dORM/dPRM)
@section
def section_discriminative(work: Path) -> dict[str, Any]:
    """Tiny backbone; dORM LoRA for a few steps (bf16 on CUDA); CUDA vs CPU scores; reward stage; benchmark."""
    import argparse

    import torch

    from rmflow.backbone import build_backbone, write_mini_corpus
    from rmflow.data import validate_records
    from rmflow.discriminative import reward as reward_mod
    from rmflow.discriminative import train as train_mod
    from rmflow.io import read_records

    cuda = torch.cuda.is_available()
    figures: dict[str, Any] = {"cuda": cuda}
    cats = "math,law"
    try:
        from rmflow.synth import synthesize

        synthesize(
            work / "synth", category=cats, train_questions=12, train_cots=4, test_questions=4, test_cots=8
        )
        figures["corpus"] = "rmflow.synth"
    except ImportError:
        write_mini_corpus(work / "synth", categories=("math", "law"), questions=12)
        figures["corpus"] = "built-in mini corpus (rmflow.synth not importable)"
    t0 = time.perf_counter()
    bb = build_backbone(work / "backbone", work / "synth", pretrain_steps=100)
    figures["backbone_seconds"] = round(time.perf_counter() - t0, 1)
    print(
        f"[discriminative] backbone ({figures['corpus']}): {bb['parameters'] / 1e6:.2f}M parameters, "
        f"pre-train loss {bb['pretrain_loss_first']} -> {bb['pretrain_loss_last']}, {figures['backbone_seconds']}s"
    )

    args = argparse.Namespace(
        config="dORM-tiny",
        set=["logging_steps=1"],
        task_type="dORM",
        model_id=str(work / "backbone"),
        data_path=str(work / "synth" / "train"),
        per_device_batch_size=8,
        max_steps=8,
        save_steps=None,
        seed=42,
        category=cats,
        revision=None,
        no_resume=False,
    )
    t0 = time.perf_counter()
    summary = train_mod.train(train_mod.resolve_settings(args), work / "dORM")
    losses = [round(h["loss"], 4) for h in summary["loss_history"]]
    figures["train"] = {k: summary[k] for k in ("device", "precision", "global_steps", "final_loss")}
    figures["train"]["seconds"] = round(time.perf_counter() - t0, 1)
    print(
        f"[discriminative] dORM {summary['global_steps']} steps on {summary['device']} in "
        f"{summary['precision']}, {figures['train']['seconds']}s, losses {losses}"
    )
    if cuda:
        assert summary["device"].startswith("cuda"), summary["device"]
        if torch.cuda.is_bf16_supported():
            assert summary["precision"] == "bf16", summary["precision"]
    else:
        print("[discriminative] CUDA not available: training ran on CPU in fp32 (bf16-on-CUDA check skipped)")

    tests = [r for cat in cats.split(",") for r in read_records(work / "synth" / "test" / f"{cat}.jsonl")]
    cots = [(r["question"], cot) for r in tests for cot in r["cots"]]
    model, tok = reward_mod.load_scorer(str(work / "dORM"), dtype="float32")
    cpu = reward_mod.score_cots(model, tok, cots, batch_size=8)
    if cuda:
        gpu32 = reward_mod.score_cots(model.to("cuda"), tok, cots, batch_size=8)
        bf_model, _ = reward_mod.load_scorer(str(work / "dORM"), dtype="bfloat16", lora="merged")
        gpu16 = reward_mod.score_cots(bf_model.to("cuda"), tok, cots, batch_size=8)

        def max_diff(a: list[list[float]], b: list[list[float]]) -> float:
            return max(abs(x - y) for u, v in zip(a, b, strict=True) for x, y in zip(u, v, strict=True))

        figures["cpu_vs_cuda_fp32_max_abs_diff"] = max_diff(cpu, gpu32)
        figures["cpu_fp32_vs_cuda_bf16_max_abs_diff"] = max_diff(cpu, gpu16)
        print(
            f"[discriminative] {sum(map(len, cpu))} step scores: max |CPU fp32 - CUDA fp32| = "
            f"{figures['cpu_vs_cuda_fp32_max_abs_diff']:.2e}, max |CPU fp32 - CUDA bf16| = "
            f"{figures['cpu_fp32_vs_cuda_bf16_max_abs_diff']:.2e}"
        )
        assert figures["cpu_vs_cuda_fp32_max_abs_diff"] < 1e-3
    else:
        print(
            f"[discriminative] CUDA not available: scored {len(cots)} CoTs on CPU only (CUDA comparison skipped)"
        )

    rewards = work / "rewards"
    t0 = time.perf_counter()
    reward_mod.run(
        argparse.Namespace(
            task_type="dORM",
            model_id=str(work / "dORM"),
            data_path=str(work / "synth" / "test"),
            output_dir=str(rewards),
            work_dir=None,
            category=cats,
            per_device_batch_size=16,
            revision=None,
            chunk_questions=2,
            dtype="auto",
            base_model=None,
            lora="unmerged",
        )
    )
    for cat in cats.split(","):
        path = rewards / f"{cat}_reward.json"
        validate_records("reward", read_records(path), path)
    figures["reward_stage_seconds"] = round(time.perf_counter() - t0, 1)
    print(
        f"[discriminative] reward stage ({'cuda' if cuda else 'cpu'}): {len(cots)} CoTs in "
        f"{figures['reward_stage_seconds']}s, files valid"
    )

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_discriminative import main as bench

    if cuda:
        figures["benchmark"] = bench(["--device", "cuda"])
    else:
        print("[discriminative] CUDA not available: benchmark at a reduced CPU size (vocab 32k, 2 x 256)")
        figures["benchmark"] = bench(["--vocab", "32000", "--batch", "2", "--seq", "256", "--repeats", "1"])
    return figures


@section
def section_d_scoring_14b(work: Path) -> dict[str, Any]:
    """d* scoring of a randomly initialised model of the 14B presets' shape in bf16 on one GPU: CoTs/s,
    tokens/s and MFU, the two-row head against full-vocabulary scoring (bench_discriminative --shape 14B).
    Without CUDA bf16 the same measurement runs at a tiny shape on CPU (the code path, not the figures)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_discriminative import main as bench

    out = ["--json", str(work / "d_scoring.json")]
    if not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        print(
            "[d_scoring_14b] no CUDA with bf16: the measurement at a tiny shape on CPU instead (not the 14B)"
        )
        tiny = ["--vocab", "4000", "--hidden", "128", "--batch", "2", "--seq", "128", "--repeats", "1"]
        return bench([*tiny, "--dtype", "bfloat16", *out])
    free = torch.cuda.mem_get_info()[0]
    if free < 48 * 2**30:  # 29.5 GB of bf16 weights, 5 GB of full-vocabulary logits, activations
        print(f"[d_scoring_14b] skipped: {free / 2**30:.0f} GiB free on the GPU, 48 GiB needed")
        return {"skipped": f"{free / 2**30:.0f} GiB free"}
    return bench(["--shape", "14B", "--dtype", "bfloat16", "--device", "cuda", "--batch", "16", "--seq", "1024",
                  "--repeats", "3", *out])  # fmt: skip


# --------------------------------------------------------------------------- generative (gORM/gPRM)
@section
def section_generative(work: Path) -> None:
    """Tiny backbone: LoRA SFT for a few steps, then sampled-verdict scoring (transformers; vLLM if present)."""
    import json

    import torch

    from rmflow.backbone import build_backbone
    from rmflow.cli import main as rmflow
    from rmflow.generative.backend_factory import vllm_available
    from rmflow.generative.reward import build_prompts
    from rmflow.generative.sampling import SamplingSpec
    from rmflow.generative.transformers_backend import TransformersBackend
    from rmflow.generative.verdict import stop_strings
    from rmflow.synth import make_test_records, synthesize

    cats = "math,law"
    synthesize(work / "synth", category=cats, train_questions=4, train_cots=2, test_questions=2, test_cots=4)
    t0 = time.perf_counter()
    build_backbone(work / "backbone", work / "synth", pretrain_steps=0)
    print(f"[generative] backbone built in {time.perf_counter() - t0:.1f}s")

    ckpt = work / "gORM"
    t0 = time.perf_counter()
    rc = rmflow(
        ["train", "--task_type", "gORM", "--config", "gORM-tiny", "--model_id", str(work / "backbone")]
        + ["--data_path", str(work / "synth" / "train_gORM"), "--output_dir", str(ckpt), "--category", cats]
        + ["--per_device_batch_size", "2", "--max_steps", "4", "--set", "effective_batch_size=4"]
    )
    assert rc == 0, f"train exited {rc}"
    summary = json.loads((ckpt / "rmflow_train.json").read_text())
    losses = [h["loss"] for h in summary["loss_history"]]
    print(
        f"[generative] SFT {summary['global_steps']} steps in {time.perf_counter() - t0:.1f}s, "
        f"{summary['precision']}, losses {losses}"
    )

    rewards = work / "rewards"
    t0 = time.perf_counter()
    score = [
        "reward",
        "--task_type",
        "gORM",
        "--model_id",
        str(ckpt),
        "--data_path",
        str(work / "synth" / "test"),
    ]
    score += ["--category", cats, "--n_samples", "4", "--max_tokens", "32"]
    rc = rmflow(
        [*score, "--output_dir", str(rewards), "--backend", "transformers", "--per_device_batch_size", "8"]
    )
    assert rc == 0, f"reward exited {rc}"
    meta = json.loads((rewards / "reward_meta.json").read_text())
    nan = json.loads((rewards / "nan_counts.json").read_text())
    for cat, t in meta.get("throughput", {}).items():
        print(
            f"[generative] scoring {cat}: {t['samples']} samples, {t['samples_per_s']:.1f} samples/s, "
            f"{t['tokens_per_s']:.0f} tok/s; NaN {nan[cat]['nan']}/{nan[cat]['samples']} (untrained: no verdicts)"
        )
    print(f"[generative] reward stage total {time.perf_counter() - t0:.1f}s")

    if torch.cuda.is_available():
        backend = TransformersBackend(str(ckpt), batch_size=1)
        assert backend.model.device.type == "cuda", backend.model.device
        print(f"[generative] transformers backend on {backend.model.device}, dtype {backend.model.dtype}")
        prompts = build_prompts("gORM", "math", make_test_records(0, "math", 8, 4), backend.tokenizer)
        spec = SamplingSpec(
            n=4, temperature=0.6, max_tokens=64, stop=tuple(stop_strings("gORM")), logprobs=20
        )
        rates = {}
        for bs in (1, 16):
            backend.batch_size = bs
            backend.generate(prompts[:bs], spec)  # warm-up
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = backend.generate(prompts, spec)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            rates[bs] = sum(len(x.token_ids) for s in out for x in s) / dt
            print(f"[generative] CUDA {len(prompts)} prompts x 4, {bs} prompt(s)/call: {rates[bs]:.0f} tok/s")
        print(f"[generative] CUDA batching speed-up: {rates[16] / rates[1]:.2f}x")
    else:
        print("[generative] CUDA not available: GPU placement, bf16 and CUDA throughput checks skipped")

    if not vllm_available():
        print("[generative] vllm not installed: vLLM path not exercised")
    elif not torch.cuda.is_available():
        print("[generative] vllm installed but no GPU: vLLM path not exercised")
    else:
        out = work / "rewards_vllm"
        t0 = time.perf_counter()
        rc = rmflow([*score, "--output_dir", str(out), "--backend", "vllm", "--max_model_len", "2048"])
        assert rc == 0, f"vLLM reward exited {rc}"
        nan = json.loads((out / "nan_counts.json").read_text())
        print(f"[generative] vLLM (LoRA served) scoring in {time.perf_counter() - t0:.1f}s; NaN counts {nan}")


# --------------------------------------------------------------------------- driver
def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    wanted = argv or list(SECTIONS)
    unknown = [w for w in wanted if w not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; known: {list(SECTIONS)}")
        return 2
    print(cuda_info())
    failed = []
    report: dict[str, Any] = {"device": cuda_info(), "sections": {}}
    for name in wanted:
        t0 = time.perf_counter()
        result = None
        with tempfile.TemporaryDirectory(prefix=f"smoke_{name}_") as tmp:
            try:
                result = SECTIONS[name](Path(tmp))
            except Exception:
                traceback.print_exc()
                failed.append(name)
        status = "FAIL" if name in failed else "PASS"
        seconds = time.perf_counter() - t0
        print(f"{status} {name} ({seconds:.1f}s)")
        report["sections"][name] = {"status": status, "seconds": round(seconds, 1), "figures": result}
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "gpu_smoke.json"
        path.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"summary written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
