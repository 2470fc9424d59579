"""How a trained adapter names its base model, so that a copied or moved results tree loads its own.

PEFT records the backbone an adapter was trained on in ``adapter_config.json``
(``base_model_name_or_path``), by default as the absolute path it was loaded from: a copy of the results
tree would silently load the original tree's backbone. Trainers rewrite it with :func:`make_base_portable`;
loaders resolve it with :func:`resolve_base` (:func:`rmflow.checkpoints.adapter_config` does).
Light module: no torch, no transformers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rmflow.io import write_text

ADAPTER_CONFIG = "adapter_config.json"
#: the key of ``adapter_config.json`` naming the base model (what PEFT and the scorers load the adapter on)
BASE_KEY = "base_model_name_or_path"


def is_relative_ref(base: str) -> bool:
    """True for a base recorded relative to its checkpoint (``./...`` or ``../...``)."""
    return base in (".", "..") or base.startswith(("./", "../"))


def portable_base(base: str, checkpoint: str | os.PathLike[str]) -> str:
    """How the checkpoint at ``checkpoint`` names its base model ``base`` (a hub id or a local directory).

    A directory inside the checkpoint's results tree (the directory holding ``checkpoints/``, as in
    ``results/checkpoints/MODEL`` and ``results/backbones/NAME``) is named relative to the checkpoint
    (``../../backbones/NAME``); another local directory by its absolute path; a hub id as it is.
    """
    if is_relative_ref(base) or not Path(base).is_dir():
        return base
    target = Path(os.path.abspath(base))
    ckpt = Path(os.path.abspath(checkpoint))
    if ckpt.parent.name == "checkpoints" and ckpt.parent.parent in target.parents:
        return Path(os.path.relpath(target, ckpt)).as_posix()
    return str(target)


def resolve_base(base: str, checkpoint: str | os.PathLike[str]) -> str:
    """The base model a checkpoint's recorded ``base`` refers to: a relative reference resolved against the
    checkpoint directory; a hub id or an absolute path as it is."""
    if is_relative_ref(base):
        return os.path.normpath(os.path.join(os.path.abspath(checkpoint), base))
    return base


def make_base_portable(adapter_dir: str | os.PathLike[str], checkpoint: str | os.PathLike[str]) -> None:
    """Rewrite ``adapter_dir/adapter_config.json`` (an adapter just saved, possibly into a staging
    directory of ``checkpoint``) so that it names its base as :func:`portable_base` says."""
    path = Path(adapter_dir) / ADAPTER_CONFIG
    if not path.is_file():
        return
    cfg = json.loads(path.read_text(encoding="utf-8"))
    base = cfg.get(BASE_KEY)
    if isinstance(base, str) and base:
        portable = portable_base(base, checkpoint)
        if portable != base:
            cfg[BASE_KEY] = portable
            write_text(path, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
