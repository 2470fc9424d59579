"""The analysis' render engine: figures drawn in forked worker processes and written as PDF and PNG.

:func:`render` calls independent figure functions, in forked workers (one per idle usable CPU, at most
8) when there are CPUs to spare; :func:`save` writes a figure as ``{name}.pdf`` and ``.png`` atomically,
without timestamps; :func:`layout` sets fixed margins (no tight layout to measure). matplotlib (Agg) is
imported on first use.
"""

from __future__ import annotations

import gc
import io
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rmflow.io import atomic_path
from rmflow.styles import X_LABEL


def workers(tasks: int) -> int:
    """Worker processes for ``tasks`` figures: the usable CPUs not kept busy by the rest of the machine
    (its 1-minute load average, rounded down), at most 8. A worker on a busy CPU saves no time and
    costs CPU (a forked renderer runs colder than this process), so on a busy machine the figures are
    rendered here, in one process."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        busy = math.floor(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average on this platform
        busy = 0
    return max(1, min(tasks, cpus - busy, 8))


Task = tuple[Callable[..., list[Path]], tuple[Any, ...]]
_TASKS: Sequence[Task] = ()  # the tasks of the running render(), inherited by its forked workers


def _run_task(index: int) -> list[Path]:
    fn, args = _TASKS[index]
    return fn(*args)


def render(tasks: Sequence[Task]) -> list[Path]:
    """Call every ``(figure function, args)``; in forked worker processes when there are CPUs to spare.

    Figures are independent and each is written atomically, so the order of completion does not matter;
    the paths come back in task order. The workers inherit the tasks (nothing is pickled but an index),
    matplotlib with its fonts loaded, and a frozen garbage collector generation holding the parent's
    objects, so that their collections do not touch (and copy) the parent's memory.
    """
    global _TASKS
    n = workers(len(tasks))
    if n == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [path for fn, args in tasks for path in fn(*args)]
    _warm_up()
    _TASKS = tasks
    gc.freeze()
    try:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_run_task, i) for i in range(len(tasks))]
            return [path for future in futures for path in future.result()]
    finally:
        gc.unfreeze()
        _TASKS = ()


def _warm_up() -> None:
    """Import pyplot and load the fonts and text caches of both formats once, before forking."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.set_title("Warm-up: 0.5 (%)", fontsize=10)
    ax.set_xlabel(X_LABEL)
    ax.plot([1, 2], [0, 1], label="x")
    ax.legend(fontsize=7)
    _write(fig, io.BytesIO(), io.BytesIO())
    plt.close(fig)


def pyplot():
    """matplotlib's pyplot on the Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, plot_dir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` atomically (no timestamps in the files)."""
    pdf, png = Path(plot_dir) / f"{name}.pdf", Path(plot_dir) / f"{name}.png"
    with atomic_path(png) as png_tmp, atomic_path(pdf) as pdf_tmp:
        _write(fig, png_tmp, pdf_tmp)
    pyplot().close(fig)
    return [pdf, png]


def _write(fig: Any, png: Any, pdf: Any) -> None:
    """The figure as PNG (drawn first: it lays out the texts that :func:`_pdf_style` checks), then PDF.

    PNG glyphs are not hinted (as in the PDF; a tenth less drawing time) and compressed at zlib
    level 3 (a third less time than the default 6 for 2% more bytes).
    """
    plt = pyplot()
    with plt.rc_context({"text.hinting": "no_hinting"}):
        fig.savefig(png, format="png", dpi=100, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    with plt.rc_context(_pdf_style(fig)), _quiet_font_lookup():
        fig.savefig(pdf, format="pdf", dpi=100, metadata={"CreationDate": None})


def _pdf_style(fig: Any) -> dict[str, Any]:
    """The PDF's text in the standard Helvetica (not embedded: a third cheaper to write, a third the
    size), when every text of the figure, as just drawn, has its cp1252 encoding; else the embedded
    font of the PNG."""
    from matplotlib.text import Text

    try:
        for text in fig.findobj(Text):
            text.get_text().replace("\u2212", "-").encode("cp1252")  # minus: ASCII in the PDF
    except UnicodeEncodeError:
        return {}
    return {"pdf.use14corefonts": True, "axes.unicode_minus": False}


@contextmanager
def _quiet_font_lookup() -> Iterator[None]:
    """Without the font manager's warning that Helvetica's regular weight is named "medium"."""
    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def text_width(texts: Sequence[str], fontsize: float) -> float:
    """Rough width (inches) of the longest line of ``texts``: 0.72 em per capital, 0.56 em per other
    character (DejaVu Sans runs a little narrower)."""
    ems = (sum(0.72 if c.isupper() else 0.56 for c in line) for t in texts for line in t.split("\n"))
    return max(ems, default=0.0) * fontsize / 72


def legend_width(labels: Sequence[str], fontsize: float) -> float:
    """Rough width (inches) of a legend with these labels (handles and padding included)."""
    return text_width(labels, fontsize) + 4.5 * fontsize / 72


def layout(
    fig: Any, *, left: float = 0.75, right: float = 0.2, bottom: float = 0.6, top: float = 0.35,
    wgap: float = 0.3, hgap: float = 0.8,
) -> None:  # fmt: skip
    """Fixed margins and gaps between axes, in inches. A tight layout measures every artist, which
    costs about one more full draw per figure; the texts here are few and of known size."""
    width, height = fig.get_size_inches()
    nrows, ncols = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    axes_width = (width - left - right - (ncols - 1) * wgap) / ncols
    axes_height = (height - bottom - top - (nrows - 1) * hgap) / nrows
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
        wspace=wgap / axes_width, hspace=hgap / axes_height,
    )  # fmt: skip
