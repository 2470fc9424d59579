"""dORM/dPRM scoring numerics: the published way (float32, LoRA adapter unmerged) vs the speed option
(adapter merged into bfloat16 weights), on the tiny test model (tests/tiny.py sizes) on CPU.

A LoRA adapter with non-zero weights (seeded) on an untrained tiny backbone scores the synthetic test
CoTs both ways (``rmflow reward``'s ``load_scorer`` / ``score_cots``), and once more as the published
scorer did: the full causal-LM forward of the unmerged float32 model, the (-, +) columns of the logits
at the step tags, a softmax over them. Prints the largest step-score differences, the time of each way
and how many best-of-N picks (last-step score, every CoT of a question) change.

    .venv/bin/python benchmarks/bench_lora_numerics.py [--questions 24] [--cots 8] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def build(root: Path, questions: int, cots: int) -> tuple[Path, list[tuple[str, list[str]]], list[int]]:
    """Tiny backbone + seeded LoRA adapter in ``root/adapter``; the test CoTs and CoTs per question."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tiny import tiny_backbone
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rmflow.backbone import build_backbone
    from rmflow.io import read_records
    from rmflow.synth import synthesize

    synthesize(root / "synth", category="math,law", train_questions=4, train_cots=2,
               test_questions=questions, test_cots=cots)  # fmt: skip
    build_backbone(root / "backbone", root / "synth", **tiny_backbone(pretrain_steps=0, vocab_size=600))
    model = AutoModelForCausalLM.from_pretrained(root / "backbone")
    peft = get_peft_model(copy.deepcopy(model), LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft.save_pretrained(root / "adapter")
    AutoTokenizer.from_pretrained(root / "backbone").save_pretrained(root / "adapter")
    records = [r for cat in ("math", "law") for r in read_records(root / "synth" / "test" / f"{cat}.jsonl")]
    return (
        root / "adapter",
        [(r["question"], c) for r in records for c in r["cots"]],
        [len(r["cots"]) for r in records],
    )


def full_logit_scores(model, tokenizer, cots) -> list[list[float]]:
    """The published scorer's arithmetic: full logits, (-, +) columns at the tags, softmax."""
    import torch

    from rmflow.discriminative.features import encode_cot, special_ids

    ids = special_ids(tokenizer)
    out = []
    with torch.inference_mode():
        for q, steps in cots:
            enc = encode_cot(tokenizer, q, steps)
            logits = model(input_ids=torch.tensor([enc.input_ids])).logits[0, :, [ids.negative, ids.positive]]
            out.append(logits.float().softmax(-1)[enc.tag_positions, 1].tolist())
    return out


def max_diff(a, b) -> float:
    return max(
        (abs(x - y) for u, v in zip(a, b, strict=True) for x, y in zip(u, v, strict=True)), default=0.0
    )


def picks(scores, per_question) -> list[int]:
    """Best-of-N pick (first CoT with the highest last-step score) of each question."""
    out, start = [], 0
    for n in per_question:
        last = [s[-1] if s else 0.5 for s in scores[start : start + n]]
        out.append(last.index(max(last)))
        start += n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--questions", type=int, default=24, help="test questions per category (2 categories)"
    )
    parser.add_argument("--cots", type=int, default=8, help="CoTs per question")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from rmflow.discriminative.reward import load_scorer, score_cots

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        adapter, cots, per_question = build(Path(tmp), args.questions, args.cots)
        figures: dict[str, float | int] = {"cots": len(cots), "steps": sum(len(s) for _, s in cots)}
        scores = {}
        for name, kwargs in {"published": {}, "merged_bf16": {"lora": "merged", "dtype": "bfloat16"}}.items():
            model, tok = load_scorer(str(adapter), **kwargs)
            t0 = time.perf_counter()
            scores[name] = score_cots(model, tok, cots, batch_size=8)
            figures[f"{name}_seconds"] = round(time.perf_counter() - t0, 3)
            if name == "published":
                reference = full_logit_scores(model, tok, cots)
    figures["published_vs_full_logits_max_abs_diff"] = max_diff(scores["published"], reference)
    figures["merged_bf16_vs_published_max_abs_diff"] = max_diff(scores["merged_bf16"], scores["published"])
    a, b = picks(scores["published"], per_question), picks(scores["merged_bf16"], per_question)
    figures["questions"] = len(a)
    figures["best_of_n_picks_changed"] = sum(x != y for x, y in zip(a, b, strict=True))
    print(
        f"{figures['cots']} CoTs, {figures['steps']} step scores on CPU: max |published - full-logit reference| "
        f"= {figures['published_vs_full_logits_max_abs_diff']:.2e}; max |merged bf16 - published| = "
        f"{figures['merged_bf16_vs_published_max_abs_diff']:.4f}; best-of-{args.cots} picks changed: "
        f"{figures['best_of_n_picks_changed']} of {figures['questions']} questions; time published "
        f"{figures['published_seconds']} s, merged bf16 {figures['merged_bf16_seconds']} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
