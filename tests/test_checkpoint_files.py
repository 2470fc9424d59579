"""What training, backbone building and export leave on disk: permissions that follow the umask (group
members of a shared file system can read the weights), and checkpoints that name a backbone of their own
results tree relatively, so a copied or moved tree loads its own backbone."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmflow.adapter_base import BASE_KEY, make_base_portable, portable_base, resolve_base
from rmflow.checkpoints import adapter_config
from rmflow.io import atomic_path, current_umask, follow_umask, staged_outputs, write_json


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def modes(root: Path) -> dict[str, int]:
    """``{relative path: permission bits}`` of ``root`` (".") and everything under it."""
    return {
        ("." if p == root else p.relative_to(root).as_posix()): stat.S_IMODE(p.lstat().st_mode)
        for p in [root, *sorted(root.rglob("*"))]
    }


def expected(root: Path, mask: int) -> dict[str, int]:
    return {
        rel: (0o777 if (root / rel).is_dir() else 0o666) & ~mask
        for rel in modes(root)
        if not (root / rel).is_symlink()
    }


# --------------------------------------------------------------------------- io helpers
@pytest.mark.parametrize("mask", [0o002, 0o022])
def test_io_helpers_follow_the_umask(tmp_path, mask):
    out = tmp_path / "out"
    with umask(mask):
        assert current_umask() == mask
        write_json(out / "a.json", {"x": 1})
        with atomic_path(out / "b.bin") as tmp:  # a writer that replaces the file (0600) itself
            scratch = tmp.with_name("scratch")
            scratch.write_bytes(b"w")
            os.chmod(scratch, 0o600)
            os.replace(scratch, tmp)
        with staged_outputs(out / "staged") as staging:
            (staging / "sub").mkdir()
            for name in ("weights.safetensors", "sub/nested.json"):
                (staging / name).write_text("w")
                os.chmod(staging / name, 0o600)  # as safetensors writes its files
    assert modes(out) == expected(out, mask)
    assert len(modes(out)) == 7  # out, a.json, b.bin, staged, its two files and sub/


def test_follow_umask_keeps_exec_bits_and_links(tmp_path):
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tree / "run.sh", 0o700)
    (tree / "d" / "f").write_text("x")
    os.chmod(tree / "d" / "f", 0o600)
    os.chmod(tree / "d", 0o700)
    outside = tmp_path / "outside"
    outside.write_text("x")
    os.chmod(outside, 0o600)
    (tree / "link").symlink_to(outside)
    with umask(0o027):
        follow_umask(tree)
    got = modes(tree)
    assert got["."] == got["d"] == got["run.sh"] == 0o750 and got["d/f"] == 0o640
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600  # a link's target is not this output's


# --------------------------------------------------------------------------- base references
def test_portable_base(tmp_path):
    results = tmp_path / "results"
    backbone = results / "backbones" / "tiny"
    backbone.mkdir(parents=True)
    ckpt = results / "checkpoints" / "dORM"
    assert portable_base(str(backbone), ckpt) == "../../backbones/tiny"
    assert resolve_base("../../backbones/tiny", ckpt) == str(backbone)
    outside = tmp_path / "models" / "base"
    outside.mkdir(parents=True)
    assert portable_base(str(outside), ckpt) == str(outside)  # not in the tree: absolute
    assert portable_base(str(backbone), tmp_path / "ckpt") == str(backbone)  # not a results layout
    assert portable_base("Qwen/Qwen3-8B", ckpt) == "Qwen/Qwen3-8B"
    assert resolve_base("Qwen/Qwen3-8B", ckpt) == "Qwen/Qwen3-8B"
    assert resolve_base(str(outside), ckpt) == str(outside)
    staging = ckpt / ".staging"
    staging.mkdir(parents=True)
    (staging / "adapter_config.json").write_text(json.dumps({BASE_KEY: str(backbone), "r": 8}))
    make_base_portable(staging, ckpt)  # as the trainers call it, on the staged adapter
    assert json.loads((staging / "adapter_config.json").read_text()) == {
        BASE_KEY: "../../backbones/tiny",
        "r": 8,
    }


# --------------------------------------------------------------------------- a real tiny run
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A results tree: export (umask 002), a built backbone (umask 002), a dORM checkpoint (umask 022)."""
    pytest.importorskip("torch")
    from tiny import tiny_backbone, torch_threads

    from rmflow.backbone import build_backbone, write_mini_corpus
    from rmflow.discriminative import train as train_mod
    from rmflow.export import export

    root = tmp_path_factory.mktemp("tree")
    results = root / "results"
    corpus = write_mini_corpus(root / "corpus", categories=("law",), questions=4)
    with umask(0o002):
        export(str(corpus / "train"), "train", results / "data" / "train", category="law")
        build_backbone(results / "backbones" / "tiny", corpus, **tiny_backbone(pretrain_steps=1))
    args = argparse.Namespace(
        config="dORM-tiny",
        set=["logging_steps=1", "save_steps=1", "gradient_checkpointing=false"],
        task_type="dORM",
        model_id=str(results / "backbones" / "tiny"),
        data_path=str(results / "data" / "train"),
        per_device_batch_size=4,
        max_steps=2,
        save_steps=None,
        seed=1,
        category="law",
        revision=None,
        no_resume=False,
    )
    with umask(0o022), torch_threads(1):
        train_mod.train(train_mod.resolve_settings(args), results / "checkpoints" / "dORM")
    return results


def test_outputs_follow_the_umask(trained):
    for path, mask in (("data/train", 0o002), ("backbones/tiny", 0o002), ("checkpoints/dORM", 0o022)):
        root = trained / path
        assert modes(root) == expected(root, mask), path
    assert (trained / "backbones/tiny/model.safetensors").is_file()  # weights written by safetensors (0600)
    assert (trained / "checkpoints/dORM/adapter_model.safetensors").is_file()


def test_moved_tree_loads_its_own_backbone(trained, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from rmflow.discriminative.reward import load_scorer
    from rmflow.model_loading import resolve_checkpoint

    cfg = json.loads((trained / "checkpoints/dORM/adapter_config.json").read_text())
    assert cfg[BASE_KEY] == "../../backbones/tiny"
    moved = tmp_path / "moved" / "results"
    shutil.copytree(trained, moved)
    # the copy's backbone differs from the original's: the loaded model shows which one was used
    weights = moved / "backbones/tiny/model.safetensors"
    tensors = load_file(weights)
    key = next(k for k in tensors if "embed_tokens" in k)
    tensors[key] = tensors[key] * 2
    save_file(tensors, weights, metadata={"format": "pt"})
    ckpt = moved / "checkpoints/dORM"
    assert adapter_config(str(ckpt))[BASE_KEY] == str(moved / "backbones/tiny")
    assert resolve_checkpoint(str(ckpt)).base == str(moved / "backbones/tiny")
    model, _ = load_scorer(str(ckpt))
    assert torch.equal(model.get_input_embeddings().weight, tensors[key])
