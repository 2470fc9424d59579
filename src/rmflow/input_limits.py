"""How long an input a reward model can read, and the counts of test inputs that are longer.

Two limits matter when scoring: the model's context (``max_position_embeddings``, or vLLM's
``--max_model_len``), beyond which it cannot read an input at all, and the ``max_length`` it was trained
with, beyond which it never saw an example (dORM/dPRM training drops longer examples, gORM/gPRM training
cuts them). Longer inputs are still scored; the reward stages log one warning per category with the
counts (:func:`long_inputs_warning`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rmflow.hub_names import checkpoint_preset
from rmflow.train_summary import SUMMARY_FILE

log = logging.getLogger(__name__)


def training_max_length(model_id: str) -> int | None:
    """The ``max_length`` a checkpoint was trained with: from its training summary (rmflow trained it)
    or the paper preset of a published ``dongboklee`` checkpoint; None when unknown or uncapped."""
    summary = Path(model_id) / SUMMARY_FILE
    if summary.is_file():
        try:
            info = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        settings = info.get("settings") if isinstance(info, dict) else None
        value = settings.get("max_length") if isinstance(settings, dict) else None
        return value if isinstance(value, int) else None
    preset = checkpoint_preset(model_id)
    if preset is None:
        return None
    from rmflow.presets import load_preset

    return load_preset(preset).get("max_length")


def model_context(model_id: str, revision: str | None = None, base_model: str | None = None) -> int | None:
    """``max_position_embeddings`` of the model (an adapter's base), or None when its config does not say."""
    from transformers import AutoConfig

    from rmflow.checkpoints import adapter_config
    from rmflow.errors import UserError

    try:
        adapter = adapter_config(model_id, revision)
        source = (base_model or adapter.get("base_model_name_or_path")) if adapter else model_id
        config = AutoConfig.from_pretrained(source, revision=None if adapter else revision)
    except (OSError, ValueError, UserError):  # not reachable here: the stage reports it when it loads
        return None
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) else None


def token_lengths(tokenizer: Any, texts: Sequence[str], batch: int = 1024) -> list[int]:
    """Tokens of each text as a model reads it (special tokens added), tokenised in batches."""
    return [
        len(ids)
        for start in range(0, len(texts), batch)
        for ids in tokenizer(list(texts[start : start + batch]))["input_ids"]
    ]


def backend_context(backend: Any) -> int | None:
    """Context of a loaded sampling backend: vLLM's ``max_model_len``, else the transformers model's
    ``max_position_embeddings`` (None for anything else)."""
    try:
        return int(backend.llm.llm_engine.model_config.max_model_len)
    except (AttributeError, TypeError, ValueError):
        pass
    value = getattr(getattr(getattr(backend, "model", None), "config", None), "max_position_embeddings", None)
    return value if isinstance(value, int) else None


def long_inputs(lengths: Sequence[int], limits: Mapping[str, int | None]) -> dict[str, Any]:
    """How many of ``lengths`` (tokens) exceed each known limit (``{name: limit}``; None: unknown)."""
    return {
        "inputs": len(lengths),
        "longest": max(lengths, default=0),
        "longer_than": {
            name: {"limit": limit, "count": sum(n > limit for n in lengths)}
            for name, limit in limits.items()
            if limit is not None
        },
    }


def long_inputs_warning(what: str, category: str, counts: Mapping[str, Any]) -> str | None:
    """One line on the inputs of ``category`` longer than a limit, or None when none is."""
    over = [f"{c['count']} longer than the {name} ({c['limit']})" for name, c in counts["longer_than"].items()
            if c["count"]]  # fmt: skip
    if not over:
        return None
    return (
        f"{category}: of {counts['inputs']} {what} (the longest {counts['longest']} tokens), "
        f"{'; '.join(over)}: their rewards come from inputs the model was not trained on or cannot read whole"
    )
