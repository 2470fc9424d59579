"""Command-line helpers shared by the stage modules of both reward-model families."""

from __future__ import annotations

from typing import Any


def add_once(group: Any, flag: str, **kwargs: Any) -> None:
    """Add ``flag`` to an argparse group unless the other task family already defined it.

    ``train``/``reward`` parsers carry both families' flag groups; a flag both families need (with
    the same meaning) is defined by whichever module runs first.
    """
    if flag not in getattr(group, "_option_string_actions", {}):
        group.add_argument(flag, **kwargs)
