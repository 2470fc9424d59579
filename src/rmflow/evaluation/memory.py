"""Memory the evaluator needs for one category, estimated before it allocates anything large.

:mod:`vote` works on every (question, run) *cell* of a category at once, so its memory grows with
``questions x num_runs x N``. :func:`evaluation_bytes` adds up its arrays (itemised below, a slight
over-estimate: temporaries are counted as if alive together) and :func:`check_evaluation_memory`
refuses a setting whose estimate exceeds :data:`MEMORY_FRACTION` of the available memory.
``tests/test_evaluation_memory.py`` compares the estimate with the measured peak.

Plain arithmetic without numpy: the workflow imports this module when it checks its config.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rmflow.errors import UserError

#: vote bins per cell: the ten answer letters, N/A and the padding slot (``vote.SLOTS``)
VOTE_BINS = 12
#: bytes per cell and subsample position of the largest N: indices (int64), answer codes (int8),
#: vote bins (int64), positions (int64) and one model's scores (float64)
PER_POSITION = 8 + 1 + 8 + 8 + 8
#: bytes per cell and vote bin: counts, first positions, weighted totals (int64/float64 each), seen
#: (bool), and the tie-break temporaries (float64 values, bool ties, int64 positions)
PER_BIN = 8 + 8 + 8 + 1 + 8 + 1 + 8
#: bytes per cell and subsample-permutation entry (int64)
PER_PERMUTATION = 8
#: the share of the available memory one evaluation may plan to use
MEMORY_FRACTION = 0.5


def evaluation_bytes(
    questions: int, num_runs: int, Ns: Sequence[int], models: int, max_cots: int | None = None
) -> int:
    """Estimated peak bytes of evaluating one category of ``questions`` with ``models`` reward sets.

    ``max_cots`` is the most CoTs of any question; unknown (None), it is taken as ``max(Ns)``.
    """
    n_max = max(Ns)
    width = max(n_max, max_cots or 0)
    # permutations are kept up to the largest N that some question has more CoTs than
    kept = max((n for n in Ns if max_cots is None or n < max_cots), default=0)
    cells = questions * num_runs
    results = len(Ns) * (2 + 2 * models)  # one bool per cell for MV, Pass@N and each (table, model)
    per_cell = PER_PERMUTATION * kept + results + PER_POSITION * n_max + PER_BIN * VOTE_BINS
    padded = questions * width * (8 + 1 + 1 + 8 * models)  # index, codes, mask, scores per model
    return cells * per_cell + padded


def available_memory() -> int | None:
    """Bytes this process can still allocate: MemAvailable, capped by a cgroup limit; None if unknown."""
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    available = None
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) * 1024
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit, used = (cgroup / "memory.max").read_text().strip(), (cgroup / "memory.current").read_text()
    except OSError:
        return available
    if limit.isdigit() and available is not None:
        available = min(available, int(limit) - int(used))
    return available


def memory_limit() -> int | None:
    """:data:`MEMORY_FRACTION` of :func:`available_memory` (None when that is unknown)."""
    available = available_memory()
    return None if available is None else int(available * MEMORY_FRACTION)


def human(size: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def check_evaluation_memory(
    questions: int,
    num_runs: int,
    Ns: Sequence[int],
    models: int,
    max_cots: int | None = None,
    *,
    where: str,
    names: tuple[str, str] = ("--num_runs", "--Ns"),
    limit: int | None = None,
) -> int:
    """The estimate of :func:`evaluation_bytes`; a :class:`UserError` naming ``names`` when it exceeds
    ``limit`` (default :func:`memory_limit`; no check when that is unknown). ``where`` says what is
    evaluated (a category, a config's test set)."""
    need = evaluation_bytes(questions, num_runs, Ns, models, max_cots)
    limit = memory_limit() if limit is None else limit
    if limit is not None and need > limit:
        runs, ns = names
        raise UserError(
            f"{runs} {num_runs} x {ns} {' '.join(map(str, Ns))} over {where} ({questions} "
            f"question{'s' * (questions != 1)}, {models} reward models) needs about {human(need)} of memory, more than the limit of "
            f"{human(limit)} ({MEMORY_FRACTION:.0%} of the available memory); lower {runs} or the largest N"
        )
    return need
