"""Real SIGKILL of ``rmflow generate`` (teacher critiques, transformers backend) mid-category: the restart
samples only the missing chunks (per-chunk seeds) and ends byte-identical to an uninterrupted run."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.fault("killed job")
def test_generate_sigkill_then_resume(tiny_world, kill_and_resume, chunks_sampled):
    argv = ["generate", "--task_type", "gPRM", "--model_id", tiny_world / "backbone", "--category", "math",
            "--data_path", tiny_world / "synth" / "train", "--backend", "transformers", "--n", "2",
            "--max_tokens", "8", "--temperature", "1.0", "--chunk_size", "1"]  # fmt: skip
    n_chunks = 20 * 2  # 20 questions x 2 CoTs, one record per chunk
    ref, out, done, log = kill_and_resume(argv, "math")
    assert 1 <= len(done) < n_chunks
    assert chunks_sampled(log, "math") == [i for i in range(n_chunks) if i not in done]
    assert (out / "math.jsonl").read_bytes() == (ref / "math.jsonl").read_bytes()
    critiques = [json.loads(line)["critique"] for line in (out / "math.jsonl").read_text().splitlines()]
    assert len(critiques) == 2 * n_chunks and len(set(critiques)) > n_chunks  # sampled text, not constants
    assert not (out / ".chunks").exists()
