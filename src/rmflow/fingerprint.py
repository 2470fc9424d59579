"""Content fingerprints of a stage's inputs: they decide whether saved work (chunks, checkpoints) is reused.

A local file or directory counts by the sha256 of its content (the tree hash of
:func:`rmflow.provenance.digest`), so a checkpoint retrained at the same path, or an edited data file,
never reuses work done with the old one; a hub id counts by its name and revision. Light module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rmflow.checkpoints import adapter_config
from rmflow.provenance import digest
from rmflow.provenance import json_sha256 as json_sha256  # records, prompts: what a chunk was made from


def source_fingerprint(source: str | Path, revision: str | None = None) -> dict[str, Any]:
    """``{"sha256": ...}`` of a local file or directory; ``{"hub": id, "revision": ...}`` of a hub id."""
    found = digest(source)
    if found is not None:
        return {"sha256": found["sha256"]}
    return {"hub": str(source), "revision": revision}


def model_fingerprint(
    model_id: str, revision: str | None = None, base_model: str | None = None
) -> dict[str, Any]:
    """Fingerprint of the weights a model id stands for: the model, plus the base a LoRA adapter loads on."""
    out = {"model": source_fingerprint(model_id, revision)}
    base = base_model
    if base is None and Path(model_id).is_dir():
        base = (adapter_config(model_id) or {}).get("base_model_name_or_path")
    if base:
        out["base"] = source_fingerprint(base)
    return out
