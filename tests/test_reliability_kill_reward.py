"""A real ``rmflow reward --task_type dORM`` killed with SIGKILL mid-category and restarted: only the
missing chunks are scored and the output is byte-identical to an uninterrupted run."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

QUESTIONS = 40  # per category in the tiny world, one question per chunk
COTS = 4


@pytest.mark.fault("killed job")
def test_sigkill_mid_category_then_resume(tiny_world, kill_and_resume, tree_digest):
    argv = ["reward", "--task_type", "dORM", "--model_id", tiny_world / "backbone",
            "--data_path", tiny_world / "synth" / "test", "--category", "law,math",
            "--chunk_questions", "1", "--per_device_batch_size", "4", "--dtype", "float32"]  # fmt: skip
    ref, out, done, log = kill_and_resume(argv, "law")
    assert 1 <= len(done) < QUESTIONS, done  # killed in the middle of law (math not started)
    # the finished chunks were reused, and only the CoTs of the missing ones were scored
    assert f"law: reusing {len(done)} of {QUESTIONS} finished chunks" in log
    totals = {cat: int(n) for cat, n in re.findall(r"(law|math) \[0\]: \d+/(\d+) ", log)}
    assert totals == {"law": COTS * (QUESTIONS - len(done)), "math": COTS * QUESTIONS}, totals
    # byte-identical outputs, no chunk or temporary file left behind
    assert tree_digest(out) == tree_digest(ref)
    assert sorted(tree_digest(out)) == ["law_reward.json", "math_reward.json"]
