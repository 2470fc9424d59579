"""Sizes of the throw-away backbones the tests build (``rmflow.backbone.build_backbone`` keywords)."""

from typing import Any

TINY_BACKBONE: dict[str, Any] = dict(
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    num_kv_heads=1,
    intermediate_size=64,
    vocab_size=512,
    pretrain_batch_size=4,
    pretrain_seq_len=64,
)


def tiny_backbone(**overrides: Any) -> dict[str, Any]:
    """The tiny sizes with ``overrides`` applied."""
    return {**TINY_BACKBONE, **overrides}
