"""Discriminative reward models (dORM, dPRM): a causal LM read at step tags (docs/formats.md#model-inputs).

``features`` builds the step-tagged token sequence shared by training and scoring; ``heads`` projects
hidden states onto the two LM-head rows (``-``, ``+``); ``train`` and ``reward`` are the stage modules.
"""

from __future__ import annotations

from typing import Any


def add_once(group: Any, flag: str, **kwargs: Any) -> None:
    """Add ``flag`` to an argparse group unless the other task family already defined it.

    ``train``/``reward`` parsers carry both families' flag groups; a flag both families need (with
    the same meaning) is defined by whichever module runs first.
    """
    if flag not in getattr(group, "_option_string_actions", {}):
        group.add_argument(flag, **kwargs)
