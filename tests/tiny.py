"""Sizes of the throw-away backbones the tests build (``rmflow.backbone.build_backbone`` keywords),
their torch threads, and the scoring arguments the discriminative tests run them with."""

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

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


def dprm_reward_args(model: object, data: object, out: object, **overrides: Any) -> argparse.Namespace:
    """Arguments of ``rmflow.discriminative.reward.run``: dPRM scoring of math and law in small chunks."""
    base = dict(
        task_type="dPRM",
        model_id=str(model),
        data_path=str(data),
        output_dir=str(out),
        work_dir=None,
        category="math,law",
        per_device_batch_size=3,
        revision=None,
        chunk_questions=2,
        dtype="float32",
        base_model=None,
        lora="unmerged",
    )
    return argparse.Namespace(**{**base, **overrides})


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` torch threads (tiny models run fastest single-threaded on shared cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Import into a test module to run all of it, module fixtures included, on one torch thread."""
    with torch_threads(1):
        yield
