"""dORM/dPRM scoring sharded over two processes gives the same bytes as one.

The processes are started with ``torch.distributed.run`` (what ``accelerate launch --multi_gpu`` uses
underneath); without CUDA they form a gloo group on CPU.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from tiny import dprm_reward_args, tiny_backbone, torch_threads  # noqa: E402

from rmflow.backbone import build_backbone, write_mini_corpus  # noqa: E402
from rmflow.discriminative import reward as reward_mod  # noqa: E402

pytestmark = pytest.mark.slow
SIZES = tiny_backbone(pretrain_steps=4)


def test_two_processes_write_the_same_bytes_as_one(tmp_path):
    corpus = write_mini_corpus(tmp_path / "corpus", categories=("math", "law"), questions=5)
    args = dprm_reward_args(tmp_path / "bb", corpus / "test", tmp_path / "one")
    with torch_threads(1):
        build_backbone(tmp_path / "bb", corpus, **SIZES)
        reward_mod.run(args)
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port)]
    cmd += ["-m", "rmflow.cli", "reward"]
    cmd += ["--task_type", "dPRM", "--model_id", args.model_id, "--data_path", args.data_path]
    cmd += ["--output_dir", str(tmp_path / "two"), "--category", "math,law", "--dtype", "float32"]
    cmd += ["--chunk_questions", "2", "--per_device_batch_size", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    # 5 questions in chunks of 2 -> 3 chunks: process 0 takes chunks 0 and 2, process 1 chunk 1
    assert "math: process 0/2 scores 2 of 3 chunks" in done.stderr
    assert "math: process 1/2 scores 1 of 3 chunks" in done.stderr
    for cat in ("math", "law"):
        one = (tmp_path / "one" / f"{cat}_reward.json").read_bytes()
        assert (tmp_path / "two" / f"{cat}_reward.json").read_bytes() == one
    assert not (tmp_path / "two" / ".chunks").exists()
