"""GPU smoke test: short real runs of the heavy stages, printing what ran where and how fast.

Each area adds one section: a function decorated with ``@section`` taking a scratch directory. ``main``
runs every registered section in order (or those named on the command line), prints a PASS/FAIL line
per section and exits non-zero if any failed. Sections also run on CPU: CUDA-only parts print why
they were skipped. Budget: a few minutes on one GPU for all sections together.

    .venv/bin/python benchmarks/gpu_smoke.py [SECTION ...]
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

SECTIONS: dict[str, Callable[[Path], None]] = {}


def section(fn: Callable[[Path], None]) -> Callable[[Path], None]:
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


# --------------------------------------------------------------------------- generative (gORM/gPRM)
@section
def section_generative(work: Path) -> None:
    """Tiny backbone: LoRA SFT for a few steps, then sampled-verdict scoring (transformers; vLLM if present)."""
    import json

    import torch

    from rmflow.backbone import build_backbone
    from rmflow.cli import main as rmflow
    from rmflow.generative.backends import SamplingSpec, TransformersBackend, vllm_available
    from rmflow.generative.reward import build_prompts
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
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    print(
        f"[generative] SFT {summary['global_steps']} steps in {time.perf_counter() - t0:.1f}s, "
        f"bf16 {summary['bf16']}, losses {losses}"
    )

    rewards = work / "rewards"
    t0 = time.perf_counter()
    rc = rmflow(
        [
            "reward",
            "--task_type",
            "gORM",
            "--model_id",
            str(ckpt),
            "--data_path",
            str(work / "synth" / "test"),
        ]
        + ["--output_dir", str(rewards), "--category", cats, "--backend", "transformers"]
        + ["--n_samples", "4", "--max_tokens", "32", "--per_device_batch_size", "8"]
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
        rc = rmflow(
            [
                "reward",
                "--task_type",
                "gORM",
                "--model_id",
                str(ckpt),
                "--data_path",
                str(work / "synth" / "test"),
            ]
            + ["--output_dir", str(out), "--category", cats, "--backend", "vllm"]
            + ["--n_samples", "4", "--max_tokens", "32", "--max_model_len", "2048"]
        )
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
    for name in wanted:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"smoke_{name}_") as tmp:
            try:
                SECTIONS[name](Path(tmp))
            except Exception:
                traceback.print_exc()
                failed.append(name)
        status = "FAIL" if name in failed else "PASS"
        print(f"{status} {name} ({time.perf_counter() - t0:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
