"""Answer normalisation: only ``A``..``J`` / ``a``..``j`` count as given, all else is ``N/A``.

The vectorized evaluator works on small integer codes: ``a``..``j`` -> 0..9 and ``n/a`` -> 10
(:data:`NA`). A gold answer that no normalised prediction can equal gets :data:`NO_MATCH`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

LETTERS = "abcdefghij"
NOT_GIVEN = "N/A"
NA = len(LETTERS)  # code of N/A
NUM_CODES = NA + 1
NO_MATCH = -1  # gold code that matches no prediction
_CODE = {**{c: i for i, c in enumerate(LETTERS)}, **{c.upper(): i for i, c in enumerate(LETTERS)}}
_LOOKUP = {**_CODE, None: NA}  # the usual answers: a letter as it is, or null


def normalize(answer: Any) -> str:
    """The answer as voted on: ``str(answer).strip()`` if it is one of A..J / a..j, else ``N/A``."""
    text = str(answer).strip()
    return text if text in _CODE else NOT_GIVEN


def answer_code(answer: Any) -> int:
    """Code of a predicted answer: 0..9 for a..j (either case), :data:`NA` otherwise."""
    return _CODE.get(str(answer).strip(), NA)


def gold_code(gold: Any) -> int:
    """Code a prediction must have to match ``gold`` (case-insensitive after strip), or NO_MATCH."""
    text = str(gold).strip()
    if text in _CODE:
        return _CODE[text]
    return NA if text.lower() == NOT_GIVEN.lower() else NO_MATCH


def answer_codes(answers: Iterable[Any]) -> np.ndarray:
    """Codes of many predictions (int8): the letters and null by one table look-up, any other
    distinct value once by :func:`answer_code`."""
    answers = answers if isinstance(answers, list) else list(answers)
    codes = list(map(_LOOKUP.get, answers))
    if None in codes:  # values outside the table
        cache: dict[Any, int] = {}
        for i in [i for i, c in enumerate(codes) if c is None]:
            a = answers[i]
            code = cache.get(a)
            codes[i] = cache[a] = answer_code(a) if code is None else code
    return np.array(codes, dtype=np.int8)
