"""The N = 1 short cut of the selection pass agrees with the evaluator cell for cell."""

from __future__ import annotations

import numpy as np
import pytest

from rmflow.analysis.selection import single_cot_correctness
from rmflow.evaluation.answers import NUM_CODES
from rmflow.evaluation.inputs import CategoryData
from rmflow.evaluation.vote import correctness, permutations


def _category(rng: np.random.Generator, sizes: tuple[int, ...] = (1, 2, 5, 9)) -> CategoryData:
    n_cots = rng.choice(sizes, size=12)
    total = int(n_cots.sum())
    ties = rng.integers(0, 3, size=total) / 2  # many equal scores
    nan = rng.random(total)
    nan[rng.random(total) < 0.2] = np.nan
    extreme = rng.choice([-np.inf, 0.0, 1.0, np.inf], size=total)
    return CategoryData(
        category="law",
        q_ids=[f"q{i}" for i in range(len(n_cots))],
        n_cots=n_cots.astype(np.int64),
        answers=rng.integers(0, NUM_CODES, size=total).astype(np.int8),
        gold=rng.integers(-1, NUM_CODES - 1, size=len(n_cots)).astype(np.int8),
        scores={"kept": rng.random(total), "ties": ties, "nan": nan, "extreme": extreme},
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sizes", [(1, 2, 5, 9), (1,)])
def test_single_cot_short_cut_matches_the_evaluator(seed: int, sizes: tuple[int, ...]) -> None:
    data = _category(np.random.default_rng(seed), sizes)
    Ns = [1, 2, 4]
    perms = permutations(data, Ns, 7, seed)
    expected_chosen: dict[tuple[int, str], np.ndarray] = {}
    expected = correctness(data, [1], perms, chosen=expected_chosen)
    chosen: dict[tuple[int, str], np.ndarray] = {}
    got = single_cot_correctness(data, perms, {"kept", "nan"}, chosen)
    assert got.keys() == expected.keys()
    for key, cells in expected.items():
        np.testing.assert_array_equal(got[key], cells, err_msg=str(key))
    assert chosen.keys() == {(1, "kept"), (1, "nan")}
    for key in chosen:
        np.testing.assert_array_equal(chosen[key], expected_chosen[key])
