"""Dataset layer (docs/formats.md): load any record kind from a hub id or a local directory, validate, export.

Every loader takes a *source*: a local directory holding ``{category}.json`` / ``{category}.jsonl``
(reward sets: ``{category}_reward.json``) or a Hugging Face hub id loaded with
``datasets.load_dataset(id, split=category, revision=...)``. ``datasets`` is imported lazily, only
for hub ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import msgspec

from rmflow import fast_records
from rmflow.errors import RecordError, UserError
from rmflow.fast_records import Schema
from rmflow.hub_names import current_hub_id
from rmflow.io import read_records, record_label
from rmflow.names import looks_like_hub_id

KINDS = ("train", "generated", "train_gORM", "train_gPRM", "test", "reward")

Record = dict[str, Any]


# --------------------------------------------------------------------------- validation
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_label(v: Any) -> bool:
    return _is_int(v) and v in (1, -1)


def _is_qid(v: Any) -> bool:
    return _is_int(v) or (isinstance(v, str) and v != "")


def _is_steps(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


def _is_answer(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _is_label_list(v: Any) -> bool:
    return isinstance(v, list) and all(_is_label(x) for x in v)


def _is_reward(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return not math.isinf(v)
    except OverflowError:  # an int beyond the float range
        return False


Check = tuple[str, Callable[[Any], bool], str, bool]  # field, predicate, expectation, required
_COMMON: list[Check] = [
    ("q_id", _is_qid, "an int or non-empty string", True),
    ("question", lambda v: isinstance(v, str), "a string", True),
]
_COT: list[Check] = [
    ("cot_id", _is_int, "an int", True),
    ("cot", _is_steps, "a list of step strings", True),
]
_SCHEMAS: dict[str, list[Check]] = {
    "train": _COMMON
    + _COT
    + [
        ("labels", lambda v: v is None or _is_label_list(v), "a list of +1/-1", False),
        ("parsed_answer", _is_answer, "a string or null", False),
        ("answer", _is_answer, "a string or null", False),
    ],
    "generated": _COMMON
    + _COT
    + [
        ("labels", lambda v: v is None or _is_label_list(v), "a list of +1/-1", False),
        ("critique", lambda v: isinstance(v, str), "a string", True),
    ],
    "train_gORM": _COMMON
    + _COT
    + [("critique", lambda v: isinstance(v, str), "a string", True), ("labels", _is_label, "+1 or -1", True)],
    "train_gPRM": _COMMON
    + _COT
    + [
        ("critique", lambda v: isinstance(v, str), "a string", True),
        ("labels", lambda v: _is_label_list(v) and len(v) > 0, "a non-empty list of +1/-1", True),
    ],
    "test": _COMMON
    + [
        ("cot_ids", lambda v: isinstance(v, list) and all(_is_int(x) for x in v), "a list of ints", True),
        (
            "cots",
            lambda v: isinstance(v, list) and all(_is_steps(c) for c in v),
            "a list of step lists",
            True,
        ),
        ("parsed_answers", lambda v: isinstance(v, list) and all(_is_answer(a) for a in v), "a list", True),
        ("answer", lambda v: isinstance(v, str), "a string", True),
    ],
    "reward": [
        ("q_id", _is_qid, "an int or non-empty string", True),
        ("cot_ids", lambda v: isinstance(v, list) and all(_is_int(x) for x in v), "a list of ints", True),
        (
            "rewards",
            lambda v: isinstance(v, list) and all(isinstance(r, list) and all(map(_is_reward, r)) for r in v),
            "a list of lists of finite numbers, NaN or null",
            True,
        ),
    ],
}
_PARALLEL = {"test": ("cot_ids", "cots", "parsed_answers"), "reward": ("cot_ids", "rewards")}
#: list-valued fields: (predicate of one entry, list depth), to point at the first bad entry in errors
_ENTRIES: dict[str, tuple[Callable[[Any], bool], int]] = {
    "cot": (lambda v: isinstance(v, str), 1),
    "labels": (_is_label, 1),
    "cot_ids": (_is_int, 1),
    "cots": (lambda v: isinstance(v, str), 2),
    "parsed_answers": (_is_answer, 1),
    "rewards": (_is_reward, 2),
}


def _first_bad(value: Any, ok: Callable[[Any], bool], depth: int, at: str = "") -> tuple[str, Any] | None:
    """``(index path, entry)`` of the first entry of a nested list that breaks ``ok`` (or is no list)."""
    if depth == 0:
        return None if ok(value) else (at, value)
    if not isinstance(value, list):
        return at, value
    for i, entry in enumerate(value):
        bad = _first_bad(entry, ok, depth - 1, f"{at}[{i}]")
        if bad is not None:
            return bad
    return None


def _problem(field: str, value: Any, expected: str) -> str:
    """``expected ..., got ...``, naming the first bad entry of a list-valued field."""
    bad = _first_bad(value, *_ENTRIES[field]) if field in _ENTRIES and isinstance(value, list) else None
    if bad is not None and bad[0]:
        return f"expected {expected}, but {field}{bad[0]} is {_short(bad[1])}"
    return f"expected {expected}, got {_short(value)}"


def validate_record(kind: str, rec: Record, path: str | Path, index: int) -> None:
    """Raise :class:`RecordError` naming file, record and field if ``rec`` breaks the ``kind`` schema."""
    where = record_label(rec, index)
    for field, ok, expected, required in _SCHEMAS[kind]:
        if field not in rec:
            if required:
                raise RecordError(path, where, field, "missing")
            continue
        if not ok(rec[field]):
            raise RecordError(path, where, field, _problem(field, rec[field], expected))
    problem = _structure_problem(kind, rec)
    if problem is not None:
        raise RecordError(path, where, *problem)


def _structure_problem(kind: str, rec: Record) -> tuple[str, str] | None:
    """``(field, problem)`` of a record of well-typed fields whose parallel lists differ in length or
    whose cot_ids repeat, else None."""
    fields = _PARALLEL.get(kind)
    if fields:
        lengths = {f: len(rec[f]) for f in fields}
        if len(set(lengths.values())) > 1:
            return fields[1], f"lengths differ: {lengths}"
        if len(set(rec["cot_ids"])) != len(rec["cot_ids"]):
            return "cot_ids", "duplicate cot_id"
    return None


def validate_records(kind: str, records: list[Record], path: str | Path) -> list[Record]:
    """Validate every record; for ``test`` and ``reward`` also reject duplicate q_ids."""
    if kind not in _SCHEMAS:
        raise UserError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")
    seen: set[Any] = set()
    for i, rec in enumerate(records):
        validate_record(kind, rec, path, i)
        if kind in _PARALLEL:
            if rec["q_id"] in seen:
                raise RecordError(path, i, "q_id", f"duplicate q_id {rec['q_id']!r}")
            seen.add(rec["q_id"])
    return records


# the ``test`` and ``reward`` schemas as msgspec types, for :mod:`rmflow.fast_records` (which the
# strict reader backs; tests/test_fast_records.py holds both to the same verdicts)
_QID = int | Annotated[str, msgspec.Meta(min_length=1)]
#: a reward as the strict reader gives it: an integer stays an int (a float type would make 0 into 0.0);
#: one beyond int64, which may lie beyond the float range, is left to the strict reader
_REWARD = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | float
FAST_SCHEMAS = {
    "test": Schema(
        types={
            "q_id": _QID,
            "question": str,
            "cot_ids": list[int],
            "cots": list[list[str]],
            "parsed_answers": list[str | None],
            "answer": str,
        },
        required=frozenset({"q_id", "question", "cot_ids", "cots", "parsed_answers", "answer"}),
        numeric=frozenset({"cot_ids"}),
        scalar=frozenset({"q_id", "question", "answer"}),
    ),
    "reward": Schema(
        types={"q_id": _QID, "cot_ids": list[int], "rewards": list[list[_REWARD | None]]},
        required=frozenset({"q_id", "cot_ids", "rewards"}),
        numeric=frozenset({"cot_ids", "rewards"}),
        scalar=frozenset({"q_id"}),
    ),
}


def read_local(path: Path, kind: str) -> list[Record]:
    """The validated records of a local file: read in bulk by :mod:`rmflow.fast_records` when it can
    vouch for them, else by the strict reader, which names any problem."""
    schema = FAST_SCHEMAS.get(kind)
    if schema is not None:
        decoded = fast_records.read(path, schema)
        if decoded is not None and well_formed(kind, decoded.records):
            return decoded.records
    return validate_records(kind, read_records(path), path)


def well_formed(kind: str, records: list[Record]) -> bool:
    """Whether records of well-typed fields (:data:`FAST_SCHEMAS`) pass the rest of :func:`validate_records`."""
    q_ids = [rec["q_id"] for rec in records]
    return len(set(q_ids)) == len(q_ids) and all(_structure_problem(kind, rec) is None for rec in records)


def _short(v: Any) -> str:
    text = repr(v)
    return f"{type(v).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# --------------------------------------------------------------------------- sources
def is_local(source: str | Path) -> bool:
    """True when ``source`` is an existing local directory."""
    return Path(source).is_dir()


def check_source(source: str | Path) -> None:
    """Fail early unless ``source`` is a local directory or looks like a hub id (``owner/name``)."""
    if not str(source).strip():
        raise UserError("an empty path is not a source (it would read the current directory)")
    if not is_local(source) and not looks_like_hub_id(str(source)):
        raise UserError(f"{source}: neither an existing directory nor a Hugging Face hub id (owner/name)")


def local_file(directory: str | Path, category: str, kind: str) -> Path:
    """The file holding ``category`` in a local directory: ``{category}.json`` or ``.jsonl`` (reward sets
    also ``{category}_reward.json`` / ``.jsonl``); more than one of them is an error, as nothing says which
    one is meant."""
    found = category_files(directory, category, kind)
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise UserError(
            f"{directory}: both {names} hold category {category!r}; which one is meant is ambiguous "
            "(remove or rename all but one)"
        )
    if found:
        return found[0]
    stem = f"{category}_reward" if kind == "reward" else category
    raise UserError(f"{directory}: no file for category {category!r} (expected {stem}.json or .jsonl)")


def category_files(directory: str | Path, category: str, kind: str) -> list[Path]:
    """The files of ``directory`` that would hold ``category`` (see :func:`local_file`)."""
    directory = Path(directory)
    stems = [f"{category}_reward", category] if kind == "reward" else [category]
    names = [f"{stem}{ext}" for stem in stems for ext in (".jsonl", ".json")]
    return [directory / name for name in names if (directory / name).is_file()]


def _hub_records(source: str, category: str, revision: str | None) -> list[Record]:
    import datasets  # lazy: only hub sources need it

    try:
        ds = datasets.load_dataset(source, split=category, revision=revision)
    except Exception as exc:  # network, auth, missing split: all user-facing
        raise UserError(
            f"{source} (split {category!r}, revision {revision or 'main'}): cannot load: {exc}"
        ) from None
    return [dict(r) for r in ds]


def records_where(source: str | Path, category: str, kind: str) -> Path | str:
    """Where ``category``'s records of ``kind`` come from, as errors name it: the local file
    (:func:`local_file`) or ``HUB_ID[category]`` (an old hub name as its current one)."""
    if is_local(source):
        return local_file(source, category, kind)
    return f"{current_hub_id(str(source))}[{category}]"


def load_records(source: str | Path, category: str, kind: str, revision: str | None = None) -> list[Record]:
    """Load and validate the ``category`` records of ``kind`` from a local directory or a hub id.

    An old name of a published set is read as its current one (:func:`rmflow.hub_names.current_hub_id`).
    An empty category is an error (a wrong file or split, not data), except for reward sets, whose
    coverage of the test set is checked where they are joined to it.
    """
    check_source(source)
    where = records_where(source, category, kind)
    if isinstance(where, Path):
        records = read_local(where, kind)
    else:
        records = validate_records(kind, _hub_records(current_hub_id(str(source)), category, revision), where)
    if not records and kind != "reward":
        raise UserError(f"{where}: category {category} has no {'questions' if kind == 'test' else 'records'}")
    return records


def resolve_revision(source: str | Path, revision: str | None, repo_type: str = "dataset") -> str | None:
    """Commit hash of a hub repository at ``revision`` (None for local sources or when offline)."""
    if is_local(source):
        return None
    try:
        from huggingface_hub import HfApi

        info = HfApi().repo_info(current_hub_id(str(source)), revision=revision, repo_type=repo_type)
        return info.sha
    except Exception:
        return None
