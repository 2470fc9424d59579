"""The vectorised legacy shuffle equals numpy's ``RandomState(seed).permutation(n)`` draw for draw."""

from __future__ import annotations

import numpy as np
import pytest

from rmflow.evaluation.legacy_shuffle import expected_draws, outputs, shuffled_prefixes

EDGE_SEEDS = [0, 1, 42, 2**31 - 1, 2**31, 2**32 - 1]


def seeds(count: int, salt: int) -> np.ndarray:
    rng = np.random.default_rng(salt)
    return np.concatenate([EDGE_SEEDS, rng.integers(0, 2**32, size=count)]).astype(np.uint32)


def test_outputs_are_the_generators_32_bit_words():
    s = seeds(40, 0)
    words = outputs(s, 1500)  # beyond the first twist of the 624-word state
    for k, seed in enumerate(s.tolist()):
        raw = np.random.RandomState(seed)._bit_generator.random_raw(1500)
        assert np.array_equal(words[:, k], raw.astype(np.uint32)), seed


@pytest.mark.parametrize(
    "n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 127, 128, 129, 200, 256, 300]
)
def test_prefixes_equal_random_state(n):
    s = seeds(60, n)
    for length in sorted({1, min(n, 4), min(n, 16), n}):
        got = shuffled_prefixes(s, n, length)
        assert got.shape == (len(s), length) and got.dtype == np.int64
        for k, seed in enumerate(s.tolist()):
            assert np.array_equal(got[k], np.random.RandomState(seed).permutation(n)[:length]), (
                n,
                length,
                seed,
            )
            if length < n:  # the evaluation's subsample: choice without replacement, the same prefix
                assert np.array_equal(got[k], np.random.RandomState(seed).choice(n, length, replace=False))


@pytest.mark.parametrize("n", [700, 1500, 5000])
def test_long_shuffles_span_several_twists(n):
    s = seeds(5, n)
    got = shuffled_prefixes(s, n, n)
    for k, seed in enumerate(s.tolist()):
        assert np.array_equal(got[k], np.random.RandomState(seed).permutation(n))


def test_seeds_short_of_draws_are_shuffled_again():
    s = seeds(200, 7)
    few = expected_draws(128, sigmas=-1.0)  # below the mean: most seeds run out and go again
    got = shuffled_prefixes(s, 128, 16, draws=few)
    for k, seed in enumerate(s.tolist()):
        assert np.array_equal(got[k], np.random.RandomState(seed).permutation(128)[:16])


def test_no_seeds():
    assert shuffled_prefixes(np.array([], dtype=np.uint32), 10, 3).shape == (0, 3)
