"""At N = 1 the evaluator returns the one sampled CoT for every selection rule, whatever its scores."""

from __future__ import annotations

import numpy as np
import pytest

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
def test_one_cot_is_every_rules_choice(seed: int, sizes: tuple[int, ...]) -> None:
    data = _category(np.random.default_rng(seed), sizes)
    Ns = [1, 2, 4]
    perms = permutations(data, Ns, 7, seed)
    chosen: dict[tuple[int, str], np.ndarray] = {}
    cells = correctness(data, Ns, perms, chosen=chosen)
    first = perms[:, :, 0] if perms.shape[2] else np.zeros(perms.shape[:2], dtype=np.int64)
    sampled = np.where(data.n_cots[:, None] > 1, first, 0)  # the CoT each (question, run) samples
    starts = np.cumsum(data.n_cots) - data.n_cots
    right = data.answers[starts[:, None] + sampled] == data.gold[:, None]
    for key in [k for k in cells if k[1] == 1]:
        np.testing.assert_array_equal(cells[key], right, err_msg=str(key))
    for name in data.scores:
        np.testing.assert_array_equal(chosen[1, name], sampled)
    assert {k[2] for k in cells if k[1] == 1} == {"MV", "Pass@N", *data.scores}
