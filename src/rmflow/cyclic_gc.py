"""Python's cyclic garbage collector paused while a stage builds many acyclic objects.

Reading a paper-sized evaluation creates millions of fresh containers (records, reward lists, table
rows); each few hundred allocations trigger a collection that walks the young objects, and the older
generations' collections walk the whole heap. None of these objects forms a cycle, so reference
counting frees them all; the collector only costs time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic collector (processes forked inside inherit the pause); collections resume on
    exit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
