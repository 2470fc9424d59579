"""JSON whose meaning is not left to the parser: a key repeated within one object (Python's ``json`` keeps
the last value silently) and a lone UTF-16 surrogate escape such as ``"\\ud800"`` (parsed into a string
that is not Unicode text: it cannot be written as UTF-8 or tokenised) are found and located.

Both checks cost a C-level pass at most: repeated keys are noted by an ``object_pairs_hook`` (called once
per JSON object, i.e. per record), and strings are inspected only when the text holds a surrogate escape
at all (one regular-expression pass over the text), first by one ``json.dumps`` of the parsed value.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: an escape of a UTF-16 surrogate (``\\ud800`` .. ``\\udfff``); valid pairs match too
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class Parsed:
    """A parsed JSON value and the objects in it that repeat a key (``id(obj)`` -> the first such key)."""

    def __init__(self, text: str) -> None:
        self.repeated: dict[int, str] = {}
        self.value: Any = json.loads(text, object_pairs_hook=self._object)
        self.surrogates = _SURROGATE_ESCAPE.search(text) is not None

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            self.repeated[id(obj)] = next(k for k, _ in pairs if k in seen or seen.add(k))
        return obj

    def repeated_key(self, value: Any) -> tuple[str, str] | None:
        """``(path, key)`` of the first object inside ``value`` (a part of :attr:`value`) repeating a key."""
        if not self.repeated:
            return None
        return _first(value, "", lambda v: self.repeated.get(id(v)) if isinstance(v, dict) else None)

    def lone_surrogate(self, value: Any) -> tuple[str, str] | None:
        """``(path, escape)`` of the first string inside ``value`` holding a lone surrogate."""
        if not self.surrogates:
            return None
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")  # one C-level pass over every string
        except UnicodeEncodeError:
            return _first(value, "", _surrogate_in)
        return None


def _surrogate_in(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"\\u{ord(value[exc.start]):04x}"
    return None


def _first(value: Any, path: str, found: Any) -> tuple[str, str] | None:
    """Depth-first: ``(path, found(v))`` for the first ``v`` (``value`` itself or inside it) with a result;
    dictionary keys are inspected as strings too."""
    hit = found(value)
    if hit is not None:
        return path, hit
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            hit = found(key)
            if hit is not None:
                return where, hit
            inner = _first(item, where, found)
            if inner is not None:
                return inner
    elif isinstance(value, list):
        for i, item in enumerate(value):
            inner = _first(item, f"{path}[{i}]", found)
            if inner is not None:
                return inner
    return None
