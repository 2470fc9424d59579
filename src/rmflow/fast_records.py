"""Local record files read in bulk: msgspec decodes each declared field against its type, and the
strict reader's checks run over the whole file at once. A file is accepted here only when the strict
reader (:func:`rmflow.io.read_records`, then :func:`rmflow.data.validate_records`) would accept it and
give the same values (as the declared types hold them: a tuple where a schema asks for one, the
strict reader's list); for anything else :func:`read` returns None and the caller asks the strict
reader, which then accepts the file or names its problem.

How the strict reader's rules are kept:

* syntax, UTF-8, control characters and lone surrogates: msgspec rejects what Python's ``json``
  rejects, also inside the values it only skips. ``NaN`` and ``Infinity``, which ``json`` reads,
  msgspec refuses: such a file goes to the strict reader, except that a schema may name one field
  whose numbers may be ``NaN`` (:attr:`Schema.nan_field`): there ``NaN`` is read as null, provided
  every null of the file then lies in that field (in one pass of declared fields that admit null
  nowhere else, by their types; otherwise by :attr:`Decoded.nulls`, a count over the text, for the
  caller to compare).
* types: every declared field is decoded with its msgspec type; fields not declared are parsed by the
  strict parser (:class:`rmflow.strict_json.Parsed`) from their own text, and kept as it gives them.
* a key given twice within a record: every key of a record ends at one colon and every other colon lies
  inside a value, so the file's colons equal the records' keys plus the colons inside their values
  exactly when no key repeats (a key holding a colon is left to the strict reader).

A schema whose fields are all required, numbers or single strings is first tried in one pass that
admits no other field: then every record holds exactly its declared keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from rmflow.strict_json import Parsed

_RECORD = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RECORDS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])


@dataclass(frozen=True)
class Schema:
    """Declared fields (name -> msgspec type), the required ones, the fields whose values hold no
    strings (their text has no colon to count) and those that hold one string or number at most."""

    types: Mapping[str, Any]
    required: frozenset[str]
    numeric: frozenset[str] = frozenset()
    scalar: frozenset[str] = frozenset()
    #: a field whose numbers may be NaN, read as null (None: a NaN goes to the strict reader)
    nan_field: str | None = None
    #: the NaN field's type in a file without null or NaN, tried first (it decodes faster)
    nan_free: Any = None
    decoders: dict[str, msgspec.json.Decoder] = field(init=False, repr=False, compare=False)
    #: the whole file in one pass, when the fields allow it (see the module docstring); and so for a
    #: file without null or NaN
    exact: msgspec.json.Decoder | None = field(init=False, repr=False, compare=False)
    exact_nan_free: msgspec.json.Decoder | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoders", {k: msgspec.json.Decoder(t) for k, t in self.types.items()})
        exact = exact_nan_free = None
        if self.required == self.types.keys() == self.numeric | self.scalar:
            exact = _records_decoder(self.types)
            if self.nan_field is not None and self.nan_free is not None:
                exact_nan_free = _records_decoder({**self.types, self.nan_field: self.nan_free})
        object.__setattr__(self, "exact", exact)
        object.__setattr__(self, "exact_nan_free", exact_nan_free)


def _records_decoder(types: Mapping[str, Any]) -> msgspec.json.Decoder:
    """A list of records holding exactly these fields."""
    return msgspec.json.Decoder(
        list[msgspec.defstruct("Record", list(types.items()), forbid_unknown_fields=True)]
    )


class _Doubt(Exception):
    """Something the strict reader has to decide."""


@dataclass(frozen=True)
class Decoded:
    """Records as :func:`read` gives them, and the nulls of the text when NaN was read as null."""

    records: list[dict[str, Any]]
    #: nulls in the text with every NaN read as null, when the caller has to check that all of them are
    #: the NaN field's (as many as its NaN and null entries); None: nothing to check; 0: no null or NaN
    nulls: int | None = None


def read(path: Path, schema: Schema) -> Decoded | None:
    """The records of a local ``.json`` (a list of objects) or ``.jsonl`` file, or None when the strict
    reader has to decide (see the module docstring). Records hold their declared fields as decoded and
    their other fields as the strict parser reads them; in :attr:`Schema.nan_field` NaN is None."""
    try:
        text = path.read_bytes()
    except OSError:
        return None
    colons = text.count(b":")
    if schema.exact_nan_free is not None and path.suffix == ".json":
        records = _exact(text, schema, colons, schema.exact_nan_free)
        if records is not None:
            return Decoded(records, 0)
    nan = schema.nan_field is not None and b"NaN" in text
    if nan:
        text = b"null".join(text.split(b"NaN"))  # faster than bytes.replace with many matches
    if schema.exact is not None and path.suffix == ".json":
        # a NaN read as null lies in the NaN field, or in a string (left to the next pass), or the
        # decoding failed: the fields admit null nowhere else
        records = _exact(text, schema, colons, schema.exact, "null" if nan else None)
        if records is not None:
            return Decoded(records)
    try:
        raw = _raw_records(text, path.suffix == ".jsonl")
        records = [_decode(rec, schema) for rec in raw]
        if colons != sum(len(rec) + _colons(rec, schema) for rec in raw):  # a key given twice
            return None
    except (msgspec.DecodeError, _Doubt, ValueError, RecursionError):
        return None
    return Decoded(records, text.count(b"null") if nan else None)


def _exact(
    text: bytes, schema: Schema, colons: int, decoder: msgspec.json.Decoder, unseen: str | None = None
) -> list[dict[str, Any]] | None:
    """Records holding exactly the declared fields, or None (then the general pass decides); also None
    if a string holds ``unseen``."""
    try:
        records = list(map(msgspec.structs.asdict, decoder.decode(text)))
    except msgspec.DecodeError:
        return None
    strings = [v for rec in records for k in schema.scalar if isinstance(v := rec[k], str)]
    if colons != len(schema.types) * len(records) or any(":" in v for v in strings):
        return None  # a key given twice, or a colon in a value to count
    if unseen is not None and any(unseen in v for v in strings):
        return None
    return records


def _raw_records(text: bytes, lines: bool) -> list[dict[str, msgspec.Raw]]:
    if not lines:
        return _RECORDS.decode(text)
    # only "\n" ends a line, as for the strict reader; its blank lines are blank here too or rejected
    return [_RECORD.decode(line) for line in text.split(b"\n") if line.strip()]


def _decode(rec: dict[str, msgspec.Raw], schema: Schema) -> dict[str, Any]:
    if not schema.required <= rec.keys():
        raise _Doubt
    out = {}
    for key, value in rec.items():
        decoder = schema.decoders.get(key)
        if decoder is not None:
            out[key] = decoder.decode(value)
            continue
        parsed = Parsed(bytes(value).decode("utf-8"))
        if parsed.repeated:
            raise _Doubt
        out[key] = parsed.value
    return out


def _colons(rec: dict[str, msgspec.Raw], schema: Schema) -> int:
    """Colons inside the record's values (and keys: any there is a doubt)."""
    if any(":" in key for key in rec):
        raise _Doubt
    return sum(bytes(v).count(b":") for k, v in rec.items() if k not in schema.numeric)
