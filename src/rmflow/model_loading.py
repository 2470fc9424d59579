"""Loading a model for training or scoring: a full model or a LoRA adapter on its base, and its tokenizer.

Used by both trainers (a backbone), the discriminative scorer and both sampling backends (a checkpoint).
Every tokenizer gets a pad token (EOS when it has none) and, on a DeepSeek-R1 backbone, the
reasoning-keeping chat template (:mod:`rmflow.chat_template`). torch, transformers and PEFT are imported
inside the loading functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmflow.chat_template import KEEP_REASONING_TEMPLATE, is_deepseek_r1
from rmflow.checkpoints import adapter_config
from rmflow.errors import UserError
from rmflow.model_files import check_model_dir


@dataclass(frozen=True)
class ModelRef:
    """Where the weights come from: a full model, or a LoRA ``adapter`` on top of ``base``."""

    base: str
    adapter: str | None = None
    tokenizer_source: str = ""
    lora_rank: int | None = None
    revision: str | None = None


def _has_tokenizer(model_id: str) -> bool:
    path = Path(model_id)
    if path.is_dir():
        return (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()
    try:
        from huggingface_hub import file_exists

        return file_exists(model_id, "tokenizer_config.json")
    except Exception:
        return False


def backbone_ref(model_id: str, revision: str | None = None) -> ModelRef:
    """A full model to train on; a local directory by its absolute path, so that the adapter trained on it
    records where it is (:func:`rmflow.adapter_base.make_base_portable` then makes that portable). Its
    files are checked first (:func:`rmflow.model_files.check_model_dir`)."""
    if Path(model_id).is_dir():
        check_model_dir(model_id)
        model_id = str(Path(model_id).resolve())
    return ModelRef(base=model_id, tokenizer_source=model_id, revision=revision)


def resolve_checkpoint(model_id: str, revision: str | None = None, base_model: str | None = None) -> ModelRef:
    """Full model or LoRA adapter? Adapters name their base in ``adapter_config.json`` (``base_model`` overrides)."""
    cfg = adapter_config(model_id, revision)
    if cfg is None:
        return ModelRef(base=model_id, tokenizer_source=model_id, revision=revision)
    base = base_model or cfg.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{model_id}: adapter_config.json names no base_model_name_or_path")
    tok = model_id if _has_tokenizer(model_id) else base
    return ModelRef(
        base=base, adapter=model_id, tokenizer_source=tok, lora_rank=cfg.get("r"), revision=revision
    )


def load_tokenizer(ref: ModelRef) -> Any:
    """The checkpoint's tokenizer (else its base's) with a pad token; DeepSeek-R1 backbones get
    :data:`~rmflow.chat_template.KEEP_REASONING_TEMPLATE`."""
    from transformers import AutoTokenizer

    rev = ref.revision if ref.tokenizer_source == (ref.adapter or ref.base) else None
    try:
        tok = AutoTokenizer.from_pretrained(ref.tokenizer_source, revision=rev)
    except (OSError, ValueError) as exc:  # missing files / not a tokenizer directory
        raise UserError(f"{ref.tokenizer_source}: cannot load tokenizer: {exc}") from None
    if is_deepseek_r1(ref.base, tok.chat_template):
        tok.chat_template = KEEP_REASONING_TEMPLATE
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(ref: ModelRef, dtype: Any, merge: bool = False) -> Any:
    """The causal LM of ``ref`` at ``dtype`` (a ``torch.dtype``): a full model, or the base with the LoRA
    adapter beside its weights (``merge``: merged into them)."""
    from transformers import AutoModelForCausalLM

    base_revision = None if ref.adapter else ref.revision
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.base, revision=base_revision, dtype=dtype)
        if ref.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, ref.adapter, revision=ref.revision)
    except (OSError, ValueError) as exc:  # missing files / unrecognized config
        raise UserError(f"{ref.adapter or ref.base}: cannot load model: {exc}") from None
    return model.merge_and_unload() if ref.adapter and merge else model


def last_token_id(tokenizer: Any, text: str) -> int:
    """Last token id of ``text`` encoded without special tokens (step tag, ``+``/``-``, `` Yes``/`` No``)."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if not ids:
        raise UserError(f"tokenizer encodes {text!r} to no tokens")
    return ids[-1]
