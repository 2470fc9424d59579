"""Property tests: the vectorized evaluator equals the plain reference loop on random inputs.

Random test sets and reward files cover null/NaN/empty reward lists, off-alphabet and missing
answers, questions with fewer CoTs than N, reward files listing questions and CoTs in another order,
string and int q_ids, and few distinct reward values (so ties are frequent).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmflow.evaluation import reference
from rmflow.evaluation.evaluate import evaluate
from rmflow.evaluation.inputs import RewardModel
from rmflow.evaluation.scores import STRATEGIES, score_lists
from rmflow.evaluation.settings import Settings
from rmflow.evaluation.vote import first_max_rows

ANSWERS = st.sampled_from(["A", "a", " B", "c ", "J", "j", "K", "N/A", "", "AB", None])
GOLDS = st.sampled_from(["A", "b", " c", "J", "N/A", "K"])
REWARDS = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, -1.0, 2.0, None, math.nan])
Q_IDS = st.one_of(st.integers(-3, 60), st.text("ab-7", min_size=1, max_size=3))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def evaluations(draw):
    """(test records per category, reward records per model and category, strategies, Ns, runs, seed)."""
    num_models = draw(st.integers(0, 3))
    strategies = [draw(st.sampled_from(STRATEGIES)) for _ in range(num_models)]
    categories = draw(
        st.lists(st.sampled_from(["law", "math", "other"]), min_size=1, max_size=2, unique=True)
    )
    test, rewards = {}, {f"m{i}": {} for i in range(num_models)}
    for cat in categories:
        q_ids = draw(st.lists(Q_IDS, min_size=1, max_size=4, unique_by=lambda q: (type(q).__name__, q)))
        records = []
        for q_id in q_ids:
            n = draw(st.integers(1, 9))
            cot_ids = draw(st.lists(st.integers(-5, 40), min_size=n, max_size=n, unique=True))
            records.append(
                {
                    "q_id": q_id,
                    "question": "q",
                    "cot_ids": cot_ids,
                    "cots": [["s"]] * n,
                    "parsed_answers": draw(st.lists(ANSWERS, min_size=n, max_size=n)),
                    "answer": draw(GOLDS),
                }
            )
        test[cat] = records
        for model in rewards:
            reward_records = []
            for rec in draw(st.permutations(records)):
                order = draw(st.permutations(range(len(rec["cot_ids"]))))
                reward_records.append(
                    {
                        "q_id": rec["q_id"],
                        "cot_ids": [rec["cot_ids"][k] for k in order],
                        "rewards": [draw(st.lists(REWARDS, max_size=4)) for _ in order],
                    }
                )
            rewards[model][cat] = reward_records
    Ns = draw(st.lists(st.integers(1, 10), min_size=1, max_size=4, unique=True))
    return test, rewards, strategies, Ns, draw(st.integers(1, 4)), draw(st.integers(0, 2**31))


@FAST
@given(evaluations())
def test_vectorized_equals_reference(case):
    test, rewards, strategies, Ns, num_runs, seed = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, per_cat in [("test", test), *rewards.items()]:
            (root / name).mkdir()
            for cat, records in per_cat.items():
                stem = cat if name == "test" else f"{cat}_reward"
                (root / name / f"{stem}.json").write_text(json.dumps(records))
        models = tuple(RewardModel(m, str(root / m), s) for m, s in zip(rewards, strategies, strict=True))
        run = Settings(str(root / "test"), models, tuple(test), tuple(Ns), num_runs, seed, root / "fast")
        fast = evaluate(run)
        slow = {cat: reference.category_accuracies(run, cat) for cat in test}
        assert fast.keys() == slow.keys()
        for cat in test:
            assert fast[cat].keys() == slow[cat].keys()
            for key, values in slow[cat].items():
                assert np.array_equal(fast[cat][key], values), (cat, key)
        reference.write_tables(root / "slow", slow, run.categories, run.Ns, run.model_names)
        for table in ("best_of_n.csv", "weighted_vote.csv"):
            assert (root / "fast" / table).read_text() == (root / "slow" / table).read_text()


@FAST
@given(st.lists(st.lists(REWARDS | st.floats(-2, 2), max_size=12), max_size=20), st.sampled_from(STRATEGIES))
def test_scores_equal_reference(lists, strategy):
    expected = [reference.score(lst, strategy) for lst in lists]
    assert score_lists(lists, strategy).tolist() == expected


@FAST
@given(
    st.integers(1, 20).flatmap(
        lambda n: st.lists(
            st.lists(st.sampled_from([0.0, 0.5, 1.0, -np.inf, np.inf, math.nan]), min_size=n, max_size=n),
            min_size=1,
            max_size=30,
        )
    ),
    st.booleans(),
)
def test_first_max_rows_is_argmax_down_the_positions(columns, as_int):
    """The evaluator's argmax over positions (ties to the first, a NaN before any number) is numpy's."""
    values = np.array(columns).T  # (n, cells)
    if as_int:
        values = np.nan_to_num(values, nan=3, posinf=2, neginf=-1).astype(np.int64)
    np.testing.assert_array_equal(first_max_rows(values), values.argmax(axis=0))
