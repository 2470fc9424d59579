"""Analysis inputs of one category: the evaluation's joined arrays plus what the analyses need besides.

Loading, the (q_id, cot_id) join and scoring are the evaluation's (:mod:`rmflow.evaluation.inputs`,
:mod:`rmflow.evaluation.scores`); each reward file is read once and scored under every strategy
(primary reward sets) or under the model's strategy (replicas). On top of that, per CoT in test
order: its step count, whether its answer is correct (normalised parsed answer = gold), the predicted
first erroneous step of every reward set whose lists hold one P(+) per step, and the labelled first
erroneous step when step labels are available.

Step labels come from (in this order) ``--step_labels SOURCE`` — a hub id or directory in the train
schema ``{q_id, cot_id, labels}``, or ``synth[:SEED]``: the synthetic generator's labels, regenerated
and checked step by step against the test set — or else the test records' optional ``step_labels``
field (one ±1 list per CoT, parallel to ``cots``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rmflow.analysis.metrics import UNLABELLED, first_error_labels, first_error_steps
from rmflow.analysis.settings import SYNTH_LABELS
from rmflow.data import is_local, load_records, local_file, records_where
from rmflow.errors import RecordError, UserError
from rmflow.evaluation.inputs import CategoryData, RewardModel, join_index, load_rewards, test_data
from rmflow.evaluation.scores import STRATEGIES, aggregate
from rmflow.io import read_records

log = logging.getLogger(__name__)

Record = dict[str, Any]


@dataclass(frozen=True)
class ScoreSet:
    """A column of scores: a reward model (replica 0: its --reward_dirs entry) under one strategy."""

    key: str  # key in CategoryData.scores
    model: str
    strategy: str
    replica: int
    source: str

    @property
    def label(self) -> str:
        return self.model if self.replica == 0 else f"{self.model} #{self.replica + 1}"


def score_sets(
    models: tuple[RewardModel, ...], replicas: dict[str, tuple[RewardModel, ...]]
) -> list[ScoreSet]:
    """Every primary model under every strategy, then every replica under its model's strategy."""
    out = [ScoreSet(f"{i}/{s}", m.name, s, 0, m.source) for i, m in enumerate(models) for s in STRATEGIES]
    for i, m in enumerate(models):
        for j, r in enumerate(replicas.get(m.name, ()), 1):
            out.append(ScoreSet(f"{i}/{m.strategy}/{j}", m.name, m.strategy, j, r.source))
    return out


@dataclass
class AnalysisCategory:
    """One category: the evaluation's :class:`CategoryData` (scores keyed by :attr:`ScoreSet.key`)
    and flat per-CoT arrays in test order."""

    data: CategoryData
    n_steps: np.ndarray  # (CoTs,) int64
    correct: np.ndarray  # (CoTs,) bool
    first_error: np.ndarray  # (CoTs,) labelled first error, -1 none, UNLABELLED
    predicted_error: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (CoTs,) per-step sets

    @property
    def category(self) -> str:
        return self.data.category

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.data.n_cots) - self.data.n_cots


def _where(source: str, category: str) -> str:
    return str(records_where(source, category, "test"))


# --------------------------------------------------------------------------- step labels
def _field_labels(records: list[Record], where: str) -> list[list[int] | None] | None:
    """The optional ``step_labels`` field of test records, flat per CoT (None: no record has it)."""
    if not any("step_labels" in rec for rec in records):
        return None
    out: list[list[int] | None] = []
    for i, rec in enumerate(records):
        labels = rec.get("step_labels")
        if labels is None:
            out.extend([None] * len(rec["cots"]))
            continue
        at = f"{i} (q_id {rec['q_id']!r})"
        if not isinstance(labels, list) or len(labels) != len(rec["cots"]):
            raise RecordError(where, at, "step_labels", "expected one list of +1/-1 per CoT")
        for cot_id, cot, lab in zip(rec["cot_ids"], rec["cots"], labels, strict=True):
            _check_labels(lab, len(cot), where, at, "step_labels", cot_id)
        out.extend(labels)
    return out


def _check_labels(labels: Any, n_steps: int, where: str, at: str, name: str, cot_id: int) -> None:
    ok = isinstance(labels, list) and all(x in (1, -1) and not isinstance(x, bool) for x in labels)
    if not ok:
        raise RecordError(where, at, name, f"cot_id {cot_id}: expected a list of +1/-1")
    if len(labels) != n_steps:
        raise RecordError(where, at, name, f"cot_id {cot_id}: {len(labels)} labels for {n_steps} steps")


def _synth_labels(records: list[Record], category: str, spec: str, source: str) -> list[list[int]]:
    """Labels of the synthetic generator for this test set, after checking it produced these CoTs."""
    from rmflow.synth import DEFAULTS, make_test_records

    _, _, seed_text = spec.partition(":")
    try:
        seed = int(seed_text) if seed_text else DEFAULTS["seed"]
    except ValueError:
        raise UserError(f"--step_labels {spec!r}: expected synth or synth:SEED") from None
    n_cots = {len(rec["cot_ids"]) for rec in records}
    if len(n_cots) != 1:
        raise UserError(f"--step_labels {spec}: {source} category {category} is not a synthetic test set")
    regenerated = make_test_records(seed, category, len(records), n_cots.pop(), step_labels=True)
    for rec, syn in zip(records, regenerated, strict=True):
        if (rec["q_id"], rec["cot_ids"], rec["cots"]) != (syn["q_id"], syn["cot_ids"], syn["cots"]):
            raise UserError(
                f"--step_labels {spec}: {source} category {category}, q_id {rec['q_id']!r} differs from "
                f"the synthetic test set of seed {seed}"
            )
    return [lab for syn in regenerated for lab in syn["step_labels"]]


def _label_records(source: str, category: str) -> tuple[list[Record], str]:
    """Records ``{q_id, cot_id, labels}`` of a step-label source and where they come from.

    A local file needs only those three fields (full train records have them too); a hub set is loaded
    and validated as a train set.
    """
    if not is_local(source):
        return load_records(source, category, "train"), f"{source}[{category}]"
    path = local_file(source, category, "train")
    records = read_records(path)
    for i, rec in enumerate(records):
        for name in ("q_id", "cot_id"):
            if name not in rec:
                raise RecordError(path, i, name, "missing")
    return records, str(path)


def _source_labels(records: list[Record], category: str, source: str) -> list[list[int] | None]:
    """Labels from a train-schema source, joined on (q_id, cot_id); CoTs it does not cover stay None."""
    steps = {
        (rec["q_id"], c): len(cot)
        for rec in records
        for c, cot in zip(rec["cot_ids"], rec["cots"], strict=True)
    }
    label_records, where = _label_records(source, category)
    found: dict[tuple[Any, int], list[int]] = {}
    for i, lab in enumerate(label_records):
        key = (lab["q_id"], lab["cot_id"])
        if key not in steps or not lab.get("labels"):
            continue
        _check_labels(lab["labels"], steps[key], where, f"{i} (q_id {key[0]!r})", "labels", key[1])
        found[key] = lab["labels"]
    log.info("%s: step labels for %d of %d test CoTs from %s", category, len(found), len(steps), source)
    return [found.get((rec["q_id"], c)) for rec in records for c in rec["cot_ids"]]


def step_labels(records: list[Record], category: str, test_source: str, spec: str | None) -> np.ndarray:
    """Labelled first-error index per CoT (flat, test order); all UNLABELLED without a source."""
    if spec is not None and spec.split(":")[0] == SYNTH_LABELS:
        labels: list[Any] | None = _synth_labels(records, category, spec, test_source)
    elif spec is not None:
        labels = _source_labels(records, category, spec)
    else:
        labels = _field_labels(records, _where(test_source, category))
    total = sum(len(rec["cot_ids"]) for rec in records)
    if labels is None:
        return np.full(total, UNLABELLED, dtype=np.int64)
    return np.fromiter(map(first_error_labels, labels), dtype=np.int64, count=total)


# --------------------------------------------------------------------------- loading
def load_analysis_category(
    test_source: str,
    category: str,
    models: tuple[RewardModel, ...],
    replicas: dict[str, tuple[RewardModel, ...]],
    sets: list[ScoreSet],
    labels_spec: str | None,
    threshold: float,
) -> AnalysisCategory:
    """Read the test set and every reward set of ``category`` once; score under every strategy."""
    records = load_records(test_source, category, "test")
    data, cot_ids = test_data(records, test_source, category)
    n_steps = np.fromiter(
        (len(c) for rec in records for c in rec["cots"]), dtype=np.int64, count=len(data.answers)
    )
    cat = AnalysisCategory(
        data=data,
        n_steps=n_steps,
        correct=data.answers == np.repeat(data.gold, data.n_cots),
        first_error=step_labels(records, category, test_source, labels_spec),
    )
    del records
    for model in models:
        sources = [(0, model), *enumerate(replicas.get(model.name, ()), 1)]
        for replica, reward_model in sources:
            rewards, flat, lengths = load_rewards(reward_model, category)
            order = join_index(data, cot_ids, rewards, reward_model)
            nan = np.isnan(flat)
            for s in sets:
                if s.model == model.name and s.replica == replica:
                    data.scores[s.key] = aggregate(flat, lengths, s.strategy, nan)[order]
            if replica == 0 and np.array_equal(lengths[order], n_steps):  # one P(+) per step
                cat.predicted_error[model.name] = first_error_steps(flat, lengths, threshold)[order]
    return cat
