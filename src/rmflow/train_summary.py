"""The training summary both trainers write beside the adapter (docs/formats.md#training-summary).

``rmflow_train.json`` is written last into the checkpoint directory, so it also marks a finished
training. One shape for every task type; the per-category ``data`` counts are the family's. Light module:
the workflow's report script reads it without torch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SUMMARY_FILE = "rmflow_train.json"


def versions() -> dict[str, str]:
    """Versions of the training libraries."""
    import peft
    import torch
    import transformers
    import trl

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "trl": trl.__version__,
    }


def training_summary(
    cfg: Any,
    trainer: Any,
    result: Any,
    losses: list[dict[str, float]],
    data: dict[str, dict[str, Any]],
    examples: int,
    resumed_from: str | None,
    revision: str | None,
    started: float,
) -> dict[str, Any]:
    """The summary of a finished training run: settings (``cfg``, a family's training config), data
    counts per category, batch and device, losses logged by this run (``step``, ``loss``)."""
    return {
        "task_type": cfg.task_type,
        "preset": cfg.preset,
        "settings": cfg.settings,
        "category": cfg.category,
        "seed": cfg.seed,
        "revision": revision,
        "data": data,
        "examples": examples,
        "per_device_batch_size": cfg.per_device_train_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "world_size": trainer.args.world_size,
        "device": str(trainer.args.device),
        "precision": "bf16" if trainer.args.bf16 else "fp32",
        "resumed_from": Path(resumed_from).name if resumed_from else None,
        "global_steps": trainer.state.global_step,
        "final_loss": losses[-1]["loss"] if losses else None,
        "mean_train_loss": float(result.training_loss),
        "loss_history": losses,
        "train_seconds": round(time.perf_counter() - started, 2),
        "versions": versions(),
    }


def loss_points(summary: dict[str, Any]) -> list[tuple[int, float]]:
    """(step, loss) pairs of a training summary's ``loss_history``."""
    return [(int(e["step"]), float(e["loss"])) for e in summary.get("loss_history") or []]
