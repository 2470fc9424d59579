"""Verifier/selection metrics and uncertainty: hand-computed examples and properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmflow.analysis.metrics import (
    NO_ERROR,
    UNLABELLED,
    auroc,
    ece,
    first_error_labels,
    first_error_scores,
    first_error_steps,
    pass_at_k,
    reliability,
)
from rmflow.analysis.uncertainty import (
    CategoryResamples,
    group_intervals,
    macro_over_runs,
    paired_comparison,
    permutation_p,
)


# --------------------------------------------------------------------------- AUROC
def test_auroc_with_ties_by_hand() -> None:
    # positives 0.8, 0.5, 0.5; negatives 0.5, 0.2. Pairs (pos, neg):
    # (0.8,0.5)=1 (0.8,0.2)=1 (0.5,0.5)=.5 (0.5,0.2)=1 (0.5,0.5)=.5 (0.5,0.2)=1 -> 5/6
    scores = np.array([0.8, 0.5, 0.5, 0.5, 0.2])
    labels = np.array([1, 1, 1, 0, 0], dtype=bool)
    assert auroc(scores, labels) == pytest.approx(5 / 6)


def test_auroc_one_class_is_nan() -> None:
    assert math.isnan(auroc(np.array([0.1, 0.9]), np.array([True, True])))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.booleans(), min_size=2, max_size=40).filter(lambda x: 0 < sum(x) < len(x)), st.randoms())
def test_auroc_perfect_and_constant_scorers(labels: list[bool], rnd) -> None:
    y = np.array(labels)
    perfect = np.where(y, 1 + np.array([rnd.random() for _ in y]), np.array([rnd.random() for _ in y]))
    assert auroc(perfect, y) == 1.0
    assert auroc(-perfect, y) == 0.0
    assert auroc(np.full(len(y), rnd.random()), y) == 0.5


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=2, max_size=30))
def test_auroc_equals_pair_count(pairs: list[tuple[int, bool]]) -> None:
    s = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs])
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        assert math.isnan(auroc(s, y))
        return
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    assert auroc(s, y) == pytest.approx(wins / (len(pos) * len(neg)))


# --------------------------------------------------------------------------- calibration
def test_ece_bins_by_hand() -> None:
    scores = np.array([0.05, 0.15, 0.95, 1.0, 0.9, 0.45])
    correct = np.array([0, 0, 1, 1, 0, 1])
    rel = reliability(scores, correct, bins=4)  # edges 0, .25, .5, .75, 1
    assert rel.count.tolist() == [2, 1, 0, 3]
    assert rel.mean_score[0] == pytest.approx(0.1)
    assert rel.accuracy[3] == pytest.approx(2 / 3)
    # bins: |0 - .1|*2 + |1 - .45|*1 + |2 - 2.85| = .2 + .55 + .85 = 1.6 over 6
    assert rel.ece == pytest.approx(1.6 / 6)
    assert ece(scores, correct, bins=4) == pytest.approx(1.6 / 6)
    assert (rel + rel).ece == pytest.approx(rel.ece)


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    scores = np.array([0.25] * 4 + [0.75] * 4)
    correct = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert ece(scores, correct, bins=2) == pytest.approx(0.0)


def test_reliability_rejects_non_probabilities() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability(np.array([1.5]), np.array([1]))


# --------------------------------------------------------------------------- first error steps
def test_first_error_steps() -> None:
    flat = np.array([0.9, 0.4, 0.1, 0.8, 0.7, np.nan, 0.2])
    lengths = np.array([3, 0, 2, 2])
    assert first_error_steps(flat, lengths).tolist() == [1, NO_ERROR, NO_ERROR, 1]
    assert first_error_steps(flat, lengths, threshold=0.3).tolist() == [2, NO_ERROR, NO_ERROR, 1]


def test_first_error_labels() -> None:
    assert first_error_labels([1, 1, -1, -1]) == 2
    assert first_error_labels([1, 1]) == NO_ERROR
    assert first_error_labels(None) == UNLABELLED


def test_first_error_f1_on_tiny_table() -> None:
    # erroneous CoTs (actual >= 0): 3 of which 2 found exactly; correct CoTs: 2 of which 1 unflagged
    predicted = np.array([1, 2, 0, NO_ERROR, 3, 0])
    actual = np.array([1, 2, 1, NO_ERROR, NO_ERROR, UNLABELLED])
    s = first_error_scores(predicted, actual)
    assert (s.erroneous, s.correct) == (3, 2)
    assert s.acc_erroneous == pytest.approx(2 / 3)
    assert s.acc_correct == pytest.approx(1 / 2)
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4/7


# --------------------------------------------------------------------------- pass@k
def test_pass_at_k_closed_form() -> None:
    n = np.array([4, 10, 16, 5, 3])
    c = np.array([1, 3, 0, 5, 1])
    for k in (1, 2, 3):
        expected = [1 - math.comb(ni - ci, k) / math.comb(ni, k) for ni, ci in zip(n, c, strict=True)]
        assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-15)
    assert pass_at_k(np.array([4]), np.array([1]), 2)[0] == 0.5  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(np.array([3, 3]), np.array([1, 0]), 8).tolist() == [1.0, 0.0]  # k > n: all CoTs


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.booleans(), min_size=1, max_size=8), st.integers(1, 8))
def test_pass_at_k_is_the_subset_average(correct: list[bool], k: int) -> None:
    n = len(correct)
    kk = min(k, n)
    subsets = list(itertools.combinations(correct, kk))
    expected = sum(any(s) for s in subsets) / len(subsets)
    assert pass_at_k(np.array([n]), np.array([sum(correct)]), k)[0] == pytest.approx(expected)


# --------------------------------------------------------------------------- uncertainty
def test_macro_over_runs_is_per_run_mean() -> None:
    acc = np.array([[10.0, 20.0], [30.0, 60.0]])  # 2 categories x 2 runs
    assert macro_over_runs(acc).tolist() == [20.0, 40.0]
    assert np.std(macro_over_runs(acc)) == 10.0  # the seed's pooled std would be 18.03


def _ci_width(n_questions: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    p = (rng.random((n_questions, 1)) < 0.6).astype(float)
    r = CategoryResamples.draw(p, "law", seed, n_boot=400, n_perm=10)
    iv = group_intervals([r])
    assert iv.low[0] <= iv.value[0] <= iv.high[0]
    return float(iv.high[0] - iv.low[0])


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 10_000))
def test_bootstrap_ci_shrinks_with_more_questions(seed: int) -> None:
    assert _ci_width(400, seed) < _ci_width(25, seed)


def test_paired_comparison_detects_a_real_difference_and_not_a_null_one() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(300) < 0.5).astype(float)
    better = np.maximum(base, (rng.random(300) < 0.3).astype(float))  # never worse, often better
    p = np.stack([base, better, base], axis=1)
    parts = [CategoryResamples.draw(p, c, 1, n_boot=500, n_perm=500) for c in ("law", "math")]
    cmp = paired_comparison(parts, np.array([1, 2]), np.array([0, 0]))
    assert cmp.diff[0] > 0 and cmp.low[0] > 0 and cmp.p_value[0] < 0.01
    assert cmp.diff[1] == 0 and cmp.p_value[1] == 1.0  # identical series


def test_permutation_p_counts_extremes() -> None:
    null = np.array([[0.5], [-2.0], [1.0], [3.0]])
    assert permutation_p(np.array([2.0]), null)[0] == pytest.approx(3 / 5)
