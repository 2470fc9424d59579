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
def paused(freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic collector (processes forked inside inherit the pause); collections resume on
    exit. ``freeze`` (at a stage's end): the objects still alive then are moved out of the collector's
    sight (``gc.freeze``) instead of being walked by its next collection and at interpreter exit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
