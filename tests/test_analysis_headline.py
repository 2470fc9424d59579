"""The headline table: weighted (bootstrap) AUROC against a brute-force count, its exact bootstrap
interval from bounded replicates, and its Markdown."""

from __future__ import annotations

import numpy as np
import pytest

from rmflow.analysis.auroc_bootstrap import Ranking, bootstrap_interval
from rmflow.analysis.headline import headline_markdown, weighted_auroc
from rmflow.analysis.uncertainty import percentile_ci


def brute_auroc(scores: list[float], right: list[bool]) -> float:
    pos = [s for s, r in zip(scores, right, strict=True) if r]
    neg = [s for s, r in zip(scores, right, strict=True) if not r]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_weighted_auroc_is_the_auroc_of_the_repeated_cots() -> None:
    rng = np.random.default_rng(0)
    scores = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=40)  # many ties
    right = rng.random(40) < 0.5
    counts = rng.integers(0, 4, size=(5, 40))
    got = weighted_auroc(scores, right, counts.astype(float))
    for b in range(5):
        rep = np.repeat(np.arange(40), counts[b])
        assert got[b] == pytest.approx(brute_auroc(scores[rep].tolist(), right[rep].tolist()))
    assert weighted_auroc(scores, right, np.ones((1, 40)))[0] == pytest.approx(brute_auroc(scores, right))


def test_weighted_auroc_without_a_class_is_nan() -> None:
    assert np.isnan(weighted_auroc(np.array([0.1, 0.9]), np.array([True, True]), np.ones((1, 2)))[0])


def test_markdown_rows_and_columns() -> None:
    rows = [
        ["synth", "dPRM", "dPRM", "min", "", "auroc", 0.912, 0.9, 0.92],
        ["synth", "dPRM", "dPRM", "min", 4, "best_of_n", 61.25, 58.0, 64.5],
        ["synth", "dPRM", "dPRM", "min", 4, "weighted_vote", 62.0, 59.0, 65.0],
        ["synth", "majority vote", "MV", "", 4, "majority_vote", 55.0, 52.0, 58.0],
        ["synth", "one CoT", "MV", "", 1, "majority_vote", 42.0, 40.0, 44.0],
    ]
    text = headline_markdown(rows, [1, 2, 4])
    lines = text.splitlines()
    assert lines[0] == "| | aggregation | AUROC | best-of-4 | weighted vote @4 |"
    assert "| dPRM | min | 0.91 [0.90, 0.92] | 61.2 [58.0, 64.5] | 62.0 [59.0, 65.0] |" in lines
    assert "| majority vote @4 |  |  |  | 55.0 [52.0, 58.0] |" in lines
    assert "| one CoT (N = 1) |  |  | 42.0 [40.0, 44.0] |  |" in lines


@pytest.mark.parametrize("buckets", [1, 4, 64])
def test_bootstrap_interval_equals_the_percentiles_of_every_replicate(buckets: int) -> None:
    rng = np.random.default_rng(1)
    questions, per = 30, 6
    scores = np.round(rng.random(questions * per), 2)  # ties within and across questions
    right = rng.random(questions * per) < 0.4 + 0.2 * scores
    ranking = Ranking(scores, right, np.repeat(np.arange(questions), per))
    counts = rng.multinomial(questions, np.full(questions, 1 / questions), size=400)
    every = ranking.auroc(counts)
    assert bootstrap_interval(ranking, counts, buckets) == tuple(
        float(x) for x in percentile_ci(every[~np.isnan(every)])
    )
    low, high = ranking.bounds(counts, buckets)
    assert (low <= every).all() and (every <= high).all()


def test_ranking_by_question_weights_equals_per_cot_weights() -> None:
    rng = np.random.default_rng(2)
    scores, right = rng.choice([0.1, 0.5, 0.9], size=24), rng.random(24) < 0.5
    group = np.repeat(np.arange(6), 4)
    counts = rng.integers(0, 3, size=(7, 6))
    by_question = Ranking(scores, right, group).auroc(counts)
    assert np.array_equal(by_question, weighted_auroc(scores, right, counts[:, group]), equal_nan=True)
