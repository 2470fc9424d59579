"""Real SIGKILL of ``rmflow reward --task_type gORM`` (sampled verdicts, transformers backend)
mid-category: the restart samples only the missing chunks (per-chunk seeds) and ends byte-identical to an
uninterrupted run."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.fault("killed job")
def test_generative_reward_sigkill_then_resume(tiny_world, kill_and_resume, chunks_sampled):
    argv = ["reward", "--task_type", "gORM", "--model_id", tiny_world / "backbone", "--category", "law",
            "--data_path", tiny_world / "synth" / "test", "--backend", "transformers", "--dtype", "float32",
            "--n_samples", "2", "--max_tokens", "6", "--chunk_size", "4", "--per_device_batch_size", "4"]  # fmt: skip
    n_chunks = 40 * 4 // 4  # 40 questions x 4 CoTs, 4 prompts per chunk
    ref, out, done, log = kill_and_resume(argv, "law")
    assert 1 <= len(done) < n_chunks
    assert chunks_sampled(log, "law") == [i for i in range(n_chunks) if i not in done]
    for name in ("law_reward.json", "nan_counts.json"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    meta, ref_meta = (json.loads((d / "reward_meta.json").read_text()) for d in (out, ref))
    assert {k: v for k, v in meta.items() if k != "throughput"} == {
        k: v for k, v in ref_meta.items() if k != "throughput"
    }
    assert not (out / ".chunks").exists()
