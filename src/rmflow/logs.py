"""What a stage writes while it runs: progress that reads well in a log file, and no library noise.

On a terminal, progress is a tqdm bar. Anywhere else (a Snakemake log, a Slurm output file, a pipe) a bar's
carriage-return redraws would pile up into one unreadable line, so :func:`progress` logs one line per step
for short loops and one per :data:`EVERY_PERCENT` percent for long ones, and :func:`configure` switches
off the bars of the libraries (transformers, datasets, the hub, vLLM and TRL via tqdm's own switch) and
the deprecation warnings that their internals raise on rmflow's behalf.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("rmflow.progress")

EVERY_PERCENT = 10
#: at most this many steps: one line per step
STEP_LINES = 20
#: FutureWarnings raised inside libraries, not by arguments rmflow passes (PEFT asks every model it wraps
#: whether gradient checkpointing is on through a name transformers has deprecated)
LIBRARY_FUTURE_WARNINGS = (r"`is_gradient_checkpointing` is deprecated",)
#: environment switches of the libraries' progress bars
BAR_SWITCHES = ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")


def interactive() -> bool:
    """True when stderr is a terminal (progress bars), False for log files and pipes (progress lines)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def configure() -> None:
    """Called once per ``rmflow`` command, before any library is imported. A switch the user has set
    (to ``0`` or anything else) is left alone."""
    if not interactive():
        for name in BAR_SWITCHES:
            os.environ.setdefault(name, "1")
    for message in LIBRARY_FUTURE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)


class LineProgress:
    """The subset of tqdm's interface the stages use, written as log lines: ``desc: 30/300 unit (10%),
    12.0 s, 2.50 unit/s`` per step (up to :data:`STEP_LINES` steps) or per :data:`EVERY_PERCENT` percent,
    and always the last step. Without a total, a line at steps 1, 2, 4, 8, ... and at the end."""

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
    ):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n, self.postfix, self._logged = 0, "", 0
        self._start = time.monotonic()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LineProgress without an iterable is updated, not iterated")
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._due():
            self._line()

    def close(self) -> None:
        if self.n and self._logged != self.n:
            self._line()

    def _due(self) -> bool:
        if self.total is None:
            return self.n & (self.n - 1) == 0  # a power of two
        if self.total <= STEP_LINES or self.n >= self.total:
            return True
        step = self.total * EVERY_PERCENT / 100
        return int(self.n / step) > int(self._logged / step)

    def _line(self) -> None:
        self._logged = self.n
        elapsed = time.monotonic() - self._start
        done = f"{self.n}/{self.total}" if self.total else str(self.n)
        percent = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        rate = f", {self.n / elapsed:.2f} {self.unit}/s" if elapsed > 0 else ""
        extra = f", {self.postfix}" if self.postfix else ""
        log.info(
            "%s: %s %s%s, %.1f s%s%s", self.desc or "progress", done, self.unit, percent, elapsed, rate, extra
        )


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    leave: bool = True,
    disable: bool | None = False,
) -> Any:
    """A tqdm bar on a terminal, a :class:`LineProgress` elsewhere (``disable=True``: a silent one)."""
    if interactive() or disable:
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, disable=bool(disable))
    return LineProgress(iterable, total=total, desc=desc, unit=unit)
