"""CoT scores from reward lists: strategies ``last|min|max|mean|prod``.

An empty list counts as ``[0.5]``; null or NaN entries count as 0.5. ``mean`` is numpy's mean of the
float64 list (pairwise summation), so every implementation that uses ``np.mean`` per list agrees
bit for bit; ``prod`` multiplies left to right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np

from rmflow.errors import UserError

STRATEGIES = ("last", "min", "max", "mean", "prod")
#: paper defaults, by the reward model's name prefix
DEFAULT_STRATEGIES = {"dORM": "last", "dPRM": "min", "gORM": "mean", "gPRM": "mean"}
MISSING = 0.5
_REDUCE = {"min": np.minimum, "max": np.maximum, "prod": np.multiply}


def family(model_name: str) -> str | None:
    """``dORM``, ``dPRM``, ``gORM`` or ``gPRM`` for a model named so (by prefix), else None. These
    families' rewards are probabilities (P(+) per step, P(Yes) per sampled critique)."""
    return next((prefix for prefix in DEFAULT_STRATEGIES if model_name.startswith(prefix)), None)


def outside_unit_interval(flat: np.ndarray) -> int | None:
    """Index of the first entry of ``flat`` below 0 or above 1 (NaN is neither), or None."""
    if not flat.size or (np.fmin.reduce(flat) >= 0.0 and np.fmax.reduce(flat) <= 1.0):  # NaN ignored
        return None
    return int(((flat < 0.0) | (flat > 1.0)).argmax())


def default_strategy(model_name: str) -> str:
    """The paper's strategy for a model named ``dORM...``, ``dPRM...``, ``gORM...`` or ``gPRM...``."""
    prefix = family(model_name)
    if prefix is not None:
        return DEFAULT_STRATEGIES[prefix]
    raise UserError(
        f"no default strategy for model {model_name!r} (name does not start with "
        f"{'/'.join(DEFAULT_STRATEGIES)}); pass --strategies"
    )


def flatten(
    reward_lists: Iterable[Sequence[float | None]], nulls: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """All entries as one float64 array (null -> NaN) and the length of every list (``nulls=False``: the
    lists hold numbers only)."""
    reward_lists = reward_lists if isinstance(reward_lists, list) else list(reward_lists)
    lengths = np.fromiter(map(len, reward_lists), dtype=np.int64, count=len(reward_lists))
    values = chain.from_iterable(reward_lists)
    if nulls:
        return np.array(list(values), dtype=np.float64), lengths
    return np.fromiter(values, dtype=np.float64, count=int(lengths.sum())), lengths


def aggregate(
    flat: np.ndarray, lengths: np.ndarray, strategy: str, nan: np.ndarray | None = None
) -> np.ndarray:
    """One score per list, given the concatenated entries ``flat`` and each list's length (``nan``:
    ``np.isnan(flat)``, when at hand)."""
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    nan = np.isnan(flat) if nan is None else nan
    if nan.any():
        flat = np.where(nan, MISSING, flat)
    scores = np.full(len(lengths), MISSING)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    given = lengths > 0
    if not given.any():
        return scores
    if strategy == "last":
        scores[given] = flat[ends[given] - 1]
    elif strategy == "mean":
        # rows of equal length as one 2-D block: the same summation order as np.mean on each list
        if given.all() and (lengths == lengths[0]).all():  # all of one length: the block is the array
            return flat.reshape(len(lengths), int(lengths[0])).mean(axis=1)
        for length in np.unique(lengths[given]):
            rows = np.flatnonzero(lengths == length)
            scores[rows] = flat[starts[rows, None] + np.arange(length)].mean(axis=1)
    else:  # empty lists add no entries, so the non-empty starts delimit every segment
        scores[given] = _REDUCE[strategy].reduceat(flat, starts[given])
    return scores


def missing_counts(flat: np.ndarray, lengths: np.ndarray, nan: np.ndarray | None = None) -> dict[str, int]:
    """Reward entries that are NaN or null (``nan`` of ``entries``, each counted as 0.5) and reward lists
    without any score (``unscored`` of ``lists``: empty or all NaN, scored 0.5); ``nan``:
    ``np.isnan(flat)``, when at hand."""
    nan = np.isnan(flat) if nan is None else nan
    missing = int(nan.sum())
    given = lengths > 0
    valid = given.astype(np.int64)
    if missing and given.any():  # empty lists add no entries, so the non-empty starts delimit every segment
        valid[given] = np.add.reduceat((~nan).astype(np.int64), (np.cumsum(lengths) - lengths)[given])
    return {
        "entries": int(flat.size),
        "nan": missing,
        "lists": len(lengths),
        "unscored": int((valid == 0).sum()),
    }


def score_lists(reward_lists: Sequence[Sequence[float | None]], strategy: str) -> np.ndarray:
    """One score per reward list by ``strategy``."""
    return aggregate(*flatten(reward_lists), strategy)
