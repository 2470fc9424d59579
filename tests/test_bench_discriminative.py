"""benchmarks/bench_discriminative.py: the FLOP count behind its MFU, the peak table, a tiny run on CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_discriminative import SHAPES, forward_flops, main, peak_for  # noqa: E402


def test_14b_flops_per_token_are_twice_its_non_embedding_parameters():
    """Qwen2.5-14B has 13.1B non-embedding parameters (its model card); one token's forward is two
    FLOPs per weight, plus attention over one position and no head."""
    per_token = forward_flops(SHAPES["14B"], seq=1, tags=0, variant="two_row")
    assert per_token == pytest.approx(2 * 13.1e9, rel=0.02)


def test_the_head_and_attention_terms():
    arch = {"vocab": 100, "hidden": 8, "intermediate": 24, "layers": 2, "heads": 2, "kv_heads": 1}
    body = 2 * 2 * (2 * 64 + 2 * 8 * 4 + 3 * 8 * 24)  # per token: q, o 8x8; k, v 8x4; MLP 3 x 8x24
    attention = 2 * 4 * 8 * (3 * 4 / 2)  # positions 1..3 attend to 1..3 keys: 6 query-key pairs per layer
    assert forward_flops(arch, 3, 1, "two_row") == 3 * body + attention + 2 * 8 * 2
    assert forward_flops(arch, 3, 1, "naive") == 3 * body + attention + 2 * 8 * 100 * 3


def test_peaks_by_device_name():
    assert peak_for("NVIDIA H200") == pytest.approx(989.4)
    assert peak_for("NVIDIA H100 PCIe") == pytest.approx(756.0)  # not the SXM part's figure
    assert peak_for("NVIDIA H100 80GB HBM3") == pytest.approx(989.4)
    assert peak_for("Some GPU") is None


def test_tiny_run_reports_throughput_and_mfu(tmp_path):
    pytest.importorskip("torch")
    argv = [
        "--vocab",
        "2000",
        "--hidden",
        "64",
        "--batch",
        "2",
        "--seq",
        "64",
        "--repeats",
        "1",
        "--threads",
        "1",
    ]
    summary = main([*argv, "--peak_tflops", "1", "--json", str(tmp_path / "s.json")])
    for variant in ("two_row", "naive"):
        r = summary[variant]
        assert r["tokens_per_s"] == pytest.approx(64 * r["cots_per_s"])
        assert 0 < r["mfu"] == pytest.approx(r["tflops"])  # a peak of 1 TFLOP/s
    assert summary["max_abs_score_diff"] <= 1e-5  # fp32: the two heads agree
    assert (tmp_path / "s.json").is_file()
