"""Evaluation inputs: a category's test set joined with every reward model's scores on (q_id, cot_id).

Everything is laid out flat in test-set order (question by question, CoT by CoT) as numpy arrays, so
the evaluator never touches Python records again. Reward files may list a question's CoTs in any
order. A reward for a q_id or (q_id, cot_id) absent from the test set, or a test CoT without a
reward, is a :class:`UserError` naming the model, category, q_id and cot_id; the first problem in
reward-file order (then test order) is the one reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from rmflow import fast_records
from rmflow.data import FAST_SCHEMAS, load_records, records_where, well_formed
from rmflow.errors import RecordError, UserError
from rmflow.evaluation.answers import NA, NO_MATCH, answer_codes, gold_code
from rmflow.evaluation.scores import aggregate, family, flatten, missing_counts, outside_unit_interval
from rmflow.io import record_label


@dataclass(frozen=True)
class RewardModel:
    """A reward set to evaluate: display name, hub id or local directory, scoring strategy."""

    name: str
    source: str
    strategy: str


@dataclass
class CategoryData:
    """One category, flat in test order: ``n_cots[q]`` entries per question in ``answers``/``scores``."""

    category: str
    q_ids: list[Any]
    n_cots: np.ndarray  # (Q,) int64
    answers: np.ndarray  # (sum n_cots,) int8 answer codes
    gold: np.ndarray  # (Q,) int8 gold codes
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # model name -> (sum n_cots,) float64
    #: parsed answers that are not a single letter A-J (so N/A): ``null`` and ``other`` counts, the
    #: ``examples`` of other values (up to three distinct), and gold answers that are no such letter
    answer_issues: dict[str, Any] = field(default_factory=dict)
    #: model name -> :func:`rmflow.evaluation.scores.missing_counts` of its reward lists
    missing: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the test side of the (q_id, cot_id) join, once per category (:func:`_sorted_keys`)
    sorted_cots: tuple[int, int, np.ndarray, np.ndarray] | None = field(default=None, repr=False)


# --------------------------------------------------------------------------- error messages
def _where(model: RewardModel, category: str) -> str:
    return f"reward model {model.name} ({model.source}), category {category}"


def absent_question_error(model: RewardModel, category: str, q_id: Any, cot_ids: list[int]) -> UserError:
    cot = f"cot_id {cot_ids[0]}" if cot_ids else "no cot_ids"
    return UserError(
        f"{_where(model, category)}: reward for q_id {q_id!r} ({cot}) but the test set has no such question"
    )


def absent_cot_error(model: RewardModel, category: str, q_id: Any, cot_id: int) -> UserError:
    return UserError(
        f"{_where(model, category)}: reward for q_id {q_id!r}, cot_id {cot_id} "
        "but the test set has no such CoT"
    )


def missing_reward_error(model: RewardModel, category: str, q_id: Any, cot_id: int) -> UserError:
    return UserError(f"{_where(model, category)}: no reward for test CoT q_id {q_id!r}, cot_id {cot_id}")


# --------------------------------------------------------------------------- loading
def test_data(
    records: list[dict[str, Any]], source: str, category: str
) -> tuple[CategoryData, list[list[int]]]:
    """Validated test records of ``category`` as flat arrays, plus each question's cot_ids (for the join)."""
    if not records:
        raise UserError(f"{source}: category {category} has no questions")
    for rec in records:
        if not rec["cot_ids"]:
            raise UserError(f"{source}: category {category}, q_id {rec['q_id']!r} has no CoTs")
    parsed = list(chain.from_iterable(rec["parsed_answers"] for rec in records))
    data = CategoryData(
        category=category,
        q_ids=[rec["q_id"] for rec in records],
        n_cots=np.fromiter(map(len, (rec["cot_ids"] for rec in records)), dtype=np.int64, count=len(records)),
        answers=answer_codes(parsed),
        gold=np.array([gold_code(rec["answer"]) for rec in records], dtype=np.int8),
    )
    data.answer_issues = answer_issues(parsed, data)
    return data, [rec["cot_ids"] for rec in records]


def answer_issues(parsed: list[Any], data: CategoryData) -> dict[str, Any]:
    """Counts of the answers that are not a single letter A-J (see :attr:`CategoryData.answer_issues`);
    ``parsed``: the parsed answers, flat in test order."""
    null = parsed.count(None)
    other = int((data.answers == NA).sum()) - null
    examples: list[str] = []
    if other:
        for i in np.flatnonzero(data.answers == NA).tolist():
            a = parsed[i]
            if a is not None and repr(a) not in examples:
                examples.append(repr(a))
                if len(examples) == 3:
                    break
    return {"null": null, "other": other, "examples": examples, "gold": int((data.gold == NO_MATCH).sum())}


test_data.__test__ = False  # a loader, not a pytest test, wherever it is imported


def load_test(data_path: str, category: str) -> tuple[CategoryData, list[list[int]]]:
    """:func:`test_data` of the test set of ``category`` at ``data_path``."""
    return test_data(load_records(data_path, category, "test"), data_path, category)


def check_probabilities(
    model: RewardModel,
    where: object,
    records: list[dict[str, Any]],
    flat: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> None:
    """A reward outside [0, 1] from a model named as a dORM/dPRM/gORM/gPRM (whose scores are probabilities)
    is a :class:`RecordError` naming the file (``where``), record and entry. ``flat`` and ``lengths``:
    :func:`~rmflow.evaluation.scores.flatten` of the records' reward lists, when already at hand."""
    kind = family(model.name)
    if kind is None:
        return
    if flat is None or lengths is None:
        flat, lengths = flatten(chain.from_iterable(rec["rewards"] for rec in records))
    entry = outside_unit_interval(flat)
    if entry is None:
        return
    ends = np.cumsum(lengths)
    lst = int(np.searchsorted(ends, entry, side="right"))  # the reward list holding the entry
    per_record = np.cumsum([len(rec["rewards"]) for rec in records])
    r = int(np.searchsorted(per_record, lst, side="right"))
    j, k = lst - (int(per_record[r - 1]) if r else 0), entry - int(ends[lst] - lengths[lst])
    raise RecordError(
        where, record_label(records[r], r), "rewards",
        f"rewards[{j}][{k}] is {float(flat[entry])!r}, outside [0, 1]: reward model {model.name} is named as a "
        f"{kind}, whose scores are probabilities (for scores on another scale, name it otherwise and "
        "pass --strategies)",
    )  # fmt: skip


#: reward files as the evaluation reads them: NaN rewards as null, each CoT's list as a tuple
REWARDS = replace(
    FAST_SCHEMAS["reward"],
    types={**FAST_SCHEMAS["reward"].types, "rewards": list[tuple[float | None, ...]]},
    nan_field="rewards",
    nan_free=list[tuple[float, ...]],
)


def load_rewards(model: RewardModel, category: str) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Validated reward records, plus all rewards flat (float64, null and NaN -> NaN) and each list's length.

    Local files (hundreds of MB for a paper-sized evaluation) are read by :mod:`rmflow.fast_records`
    (a NaN reward may come back as null, a list as a tuple) unless it has doubts, then as
    :func:`rmflow.data.load_records` reads them. Rewards of a model named as a dORM/dPRM/gORM/gPRM must
    lie in [0, 1] (:func:`check_probabilities`).
    """
    where = records_where(model.source, category, "reward")
    decoded = fast_records.read(where, REWARDS) if isinstance(where, Path) else None
    if decoded is not None and well_formed("reward", decoded.records):
        records = decoded.records
        lists = chain.from_iterable(rec["rewards"] for rec in records)
        flat, lengths = flatten(lists, nulls=decoded.nulls != 0)
        if decoded.nulls is not None and decoded.nulls != np.isnan(flat).sum():
            records = None  # a null outside the rewards
    else:
        records = None
    if records is None:
        records = load_records(model.source, category, "reward")
        flat, lengths = flatten(chain.from_iterable(rec["rewards"] for rec in records))
    check_probabilities(model, where, records, flat, lengths)
    return records, flat, lengths


def join_index(
    data: CategoryData, cot_ids: list[list[int]], records: list[dict[str, Any]], model: RewardModel
) -> np.ndarray:
    """For every test CoT (flat, test order) the index of its reward list in ``records`` (flat order).

    ``records`` are the model's reward records of ``data.category``; they must cover the test CoTs
    one to one, else the first problem is raised (see the module docstring).
    """
    index = {q_id: q for q, q_id in enumerate(data.q_ids)}
    rows = []
    for rec in records:
        q = index.get(rec["q_id"])
        if q is None:
            raise absent_question_error(model, data.category, rec["q_id"], rec["cot_ids"])
        rows.append(q)
    if data.sorted_cots is None:
        test_q = np.repeat(np.arange(len(data.q_ids), dtype=np.int64), data.n_cots)
        test_c = np.fromiter(chain.from_iterable(cot_ids), dtype=np.int64, count=len(test_q))
        data.sorted_cots = _sorted_keys(test_q, test_c, int(test_c.min()), int(test_c.max()))
    low, high, keys, test_order = data.sorted_cots
    counts = np.fromiter(map(len, (rec["cot_ids"] for rec in records)), dtype=np.int64, count=len(records))
    reward_q = np.repeat(np.array(rows, dtype=np.int64), counts)
    reward_c = np.fromiter(
        chain.from_iterable(rec["cot_ids"] for rec in records), dtype=np.int64, count=len(reward_q)
    )
    if len(reward_q) == len(keys) and (not len(keys) or low <= reward_c.min() and reward_c.max() <= high):
        _, _, reward_keys, reward_order = _sorted_keys(reward_q, reward_c, low, high)
        if np.array_equal(keys, reward_keys):
            order = np.empty_like(test_order)
            order[test_order] = reward_order
            return order
    raise _join_error(data, cot_ids, records, model)


def _sorted_keys(
    q: np.ndarray, c: np.ndarray, low: int, high: int
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """``(low, high, keys, order)``: the ``(question, cot_id)`` pairs (cot_ids in ``[low, high]``, unique
    per question) sorted, as one integer each where they fit, and the order that sorts them."""
    span = high - low + 1
    if span * (int(q.max(initial=0)) + 1) < 2**62:
        keys = q * span + (c - low)
        order = np.argsort(keys)
        return low, high, keys[order], order
    order = np.lexsort((c, q))
    return low, high, np.stack((q[order], c[order])), order


def load_scores(data: CategoryData, cot_ids: list[list[int]], model: RewardModel) -> np.ndarray:
    """The model's score of every test CoT of ``data`` (flat, test order); its NaN counts go to
    ``data.missing``."""
    records, flat, lengths = load_rewards(model, data.category)
    order = join_index(data, cot_ids, records, model)
    nan = np.isnan(flat)
    data.missing[model.name] = missing_counts(flat, lengths, nan)
    return aggregate(flat, lengths, model.strategy, nan)[order]


def _join_error(
    data: CategoryData, cot_ids: list[list[int]], records: list[dict[str, Any]], model: RewardModel
) -> UserError:
    """The first join problem, in reward-file order and then test order."""
    expected = dict(zip(data.q_ids, map(set, cot_ids), strict=True))
    covered: dict[Any, set[int]] = {}
    for rec in records:
        for c in rec["cot_ids"]:
            if c not in expected[rec["q_id"]]:
                return absent_cot_error(model, data.category, rec["q_id"], c)
        covered[rec["q_id"]] = set(rec["cot_ids"])
    for q_id, ids in zip(data.q_ids, cot_ids, strict=True):
        for c in ids:
            if c not in covered.get(q_id, ()):
                return missing_reward_error(model, data.category, q_id, c)
    raise AssertionError("join failed without a reportable problem")


def load_category(data_path: str, category: str, models: list[RewardModel]) -> CategoryData:
    """Test set and all models' scores for one category."""
    data, cot_ids = load_test(data_path, category)
    for model in models:
        data.scores[model.name] = load_scores(data, cot_ids, model)
    return data
