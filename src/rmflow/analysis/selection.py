"""Selection rules and groups: MV, Pass@N, unbiased pass@k, and best-of-N / weighted vote for every
score set (every model under every aggregation, plus replicas) from one pass of the evaluator.

A *series* is one (selection, N, method, aggregation, replica) curve point. Per category the pass
gives each series' correctness in every (question, run) cell; from it the run accuracies (R,) and
the run-averaged correctness per question (Q,) that the bootstrap resamples. Unbiased pass@k needs
no runs: per question ``1 - C(n-c, k) / C(n, k)`` over all its ``n`` CoTs, ``c`` of them correct.

Groups: ``all``; ``math_adjacent`` (math, physics, chemistry, engineering, computer_science);
``non_math_adjacent`` (the other named domains); and each category on its own. Group accuracies are
macro averages over the group's categories, as the seed's ``Overall``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rmflow.analysis.inputs import AnalysisCategory, ScoreSet
from rmflow.analysis.metrics import pass_at_k
from rmflow.categories import CATEGORIES
from rmflow.evaluation.vote import correctness, permutations
from rmflow.names import BEST_OF_N, MAJORITY, MV, ORACLE, PASS, PASS_K, TABLES, UNBIASED

MATH_ADJACENT = ("math", "physics", "chemistry", "engineering", "computer_science")
MACRO_GROUPS = ("all", "math_adjacent", "non_math_adjacent")
#: the selections by a reward model's scores (best-of-N, weighted vote): the evaluation tables'
SELECTIONS = TABLES


def groups(categories: Sequence[str]) -> dict[str, list[str]]:
    """Group name -> its categories (in the given order); empty groups are left out."""
    named = [c for c in categories if c in CATEGORIES]
    out = {
        "all": list(categories),
        "math_adjacent": [c for c in named if c in MATH_ADJACENT],
        "non_math_adjacent": [c for c in named if c not in MATH_ADJACENT],
    }
    out.update({c: [c] for c in categories})
    return {name: cats for name, cats in out.items() if cats}


@dataclass(frozen=True)
class Series:
    """One curve point; ``key`` is the evaluator's ``(table, N, method)`` key (None for pass@k)."""

    selection: str
    n: int
    method: str
    aggregation: str
    replica: int
    key: tuple[str, int, str] | None


def series_list(Ns: Sequence[int], sets: Sequence[ScoreSet]) -> list[Series]:
    """All series, in table order: per N MV, Pass@N, pass@k, then best-of-N and weighted vote per set."""
    out = []
    for n in Ns:
        out.append(Series(MAJORITY, n, MV, "", 0, (BEST_OF_N, n, MV)))
        out.append(Series(ORACLE, n, PASS, "", 0, (BEST_OF_N, n, PASS)))
        out.append(Series(UNBIASED, n, PASS_K, "", 0, None))
        for selection in SELECTIONS:
            out.extend(
                Series(selection, n, s.model, s.strategy, s.replica, (selection, n, s.key)) for s in sets
            )
    return out


@dataclass
class CategorySelection:
    """One category's series: run accuracies, per-question correctness, best-of-N choices."""

    runs: np.ndarray  # (R, M) accuracy (%) per run; pass@k repeated over runs
    p: np.ndarray  # (Q, M) run-averaged correctness per question
    chosen_steps: dict[tuple[int, str], np.ndarray]  # (N, set key) -> (Q, R) steps of the best-of-N CoT
    chosen_correct: dict[tuple[int, str], np.ndarray]  # (N, set key) -> (Q, R) bool


def select(
    cat: AnalysisCategory,
    series: Sequence[Series],
    Ns: Sequence[int],
    num_runs: int,
    seed: int,
    choice_keys: set[str],
) -> CategorySelection:
    """Run the evaluator once over every score set of ``cat`` (``choice_keys``: sets whose best-of-N
    choices are kept for the length analysis)."""
    data = cat.data
    chosen: dict[tuple[int, str], np.ndarray] = {}
    perms = permutations(data, Ns, num_runs, seed)
    cells = correctness(data, Ns, perms, chosen, choice_keys)
    n_correct = np.add.reduceat(cat.correct.astype(np.int64), cat.starts)
    num_q = len(data.q_ids)
    runs = np.empty((num_runs, len(series)))
    p = np.empty((num_q, len(series)))
    for j, s in enumerate(series):
        if s.key is None:  # unbiased pass@k
            per_question = pass_at_k(data.n_cots, n_correct, s.n)
            p[:, j] = per_question
            runs[:, j] = 100 * per_question.mean()
        else:
            c = cells[s.key]
            p[:, j] = c.mean(axis=1)
            runs[:, j] = 100 * (c.sum(axis=0) / num_q)
    steps_of, correct_of = {}, {}
    for (n, key), col in chosen.items():
        flat = cat.starts[:, None] + col
        steps_of[n, key] = cat.n_steps[flat].astype(np.int32)
        correct_of[n, key] = cat.correct[flat]
    return CategorySelection(runs, p, steps_of, correct_of)
