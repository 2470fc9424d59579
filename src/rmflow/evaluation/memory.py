"""Memory the evaluator needs for one category, estimated before it allocates anything large.

:mod:`vote` works on every (question, run) *cell* of a category at once, so its memory grows with
``questions x num_runs x N``. :func:`evaluation_bytes` adds up its arrays (itemised below, a slight
over-estimate: temporaries are counted as if alive together) and :func:`check_evaluation_memory`
refuses a setting whose estimate exceeds :data:`MEMORY_FRACTION` of the available memory.
``tests/test_evaluation_memory.py`` compares the estimate with the measured peak. ``rmflow analyze``
runs the same evaluator over every score set and keeps more per category: :func:`analysis_bytes`.

Plain arithmetic without numpy: the workflow imports this module when it checks its config.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rmflow.errors import UserError

#: vote bins per cell: the ten answer letters, N/A and the padding slot (``vote.SLOTS``)
VOTE_BINS = 12
#: bytes per cell and subsample position of the largest N: indices (int64), answer codes (int8),
#: vote bins (int64), positions (int64), one model's scores (float64), and finding the first maximum
#: (the positions holding it, bool, and their weights, uint8)
PER_POSITION = 8 + 1 + 8 + 8 + 8 + 1 + 1
#: bytes per cell and vote bin: counts, first positions, weighted totals (int64/float64 each), seen
#: (bool), and the tie-break temporaries (float64 values, bool ties, int64 positions)
PER_BIN = 8 + 8 + 8 + 1 + 8 + 1 + 8
#: bytes per cell and subsample-permutation entry (int64)
PER_PERMUTATION = 8
#: the share of the available memory one evaluation may plan to use
MEMORY_FRACTION = 0.5
#: bytes of one per-run row of the analysis' accuracy table: the Python list, its run index and value,
#: and its CSV text
ROW_BYTES = 320


def evaluation_bytes(
    questions: int,
    num_runs: int,
    Ns: Sequence[int],
    models: int,
    max_cots: int | None = None,
    same_size: int | None = None,
) -> int:
    """Estimated peak bytes of evaluating one category of ``questions`` with ``models`` reward sets:
    the larger of drawing the subsamples (:func:`shuffle_bytes`) and voting on them.

    ``max_cots`` is the most CoTs of any question; unknown (None), it is taken as ``max(Ns)``.
    ``same_size``: the most questions with one CoT count (they are shuffled together); unknown (None),
    all of them.
    """
    n_max = max(Ns)
    width = max(n_max, max_cots or 0)
    # permutations are kept up to the largest N that some question has more CoTs than
    kept = max((n for n in Ns if max_cots is None or n < max_cots), default=0)
    cells = questions * num_runs
    results = len(Ns) * (2 + 2 * models)  # one bool per cell for MV, Pass@N and each (table, model)
    # the permutations and their position-major copy
    per_cell = 2 * PER_PERMUTATION * kept + results + PER_POSITION * n_max + PER_BIN * VOTE_BINS
    padded = questions * width * (8 + 1 + 1 + 8 * models)  # index, codes, mask, scores per model
    together = (questions if same_size is None else same_size) * num_runs
    shuffling = shuffle_bytes(together, width) + cells * PER_PERMUTATION * kept if kept else 0
    return max(cells * per_cell, shuffling) + padded


#: words of the MT19937 state, and the seeds whose states are built together (``legacy_shuffle``)
STATE_WORDS, STATE_CHUNK = 624, 8192


def shuffle_bytes(seeds: int, n: int) -> int:
    """Bytes of shuffling ``n`` CoTs for ``seeds`` (question, run) seeds at once: the states of a chunk
    of seeds, and per seed its draws (uint32, fewer than ``2 n + 64``: tests/test_evaluation_memory.py),
    the drawn j of every i (uint32) and the permutation (int16; int64 beyond 32767)."""
    per_seed = 4 * (2 * n + 64) + 4 * (n + 1) + (2 if n < 2**15 else 8) * n
    return 4 * STATE_WORDS * min(seeds, STATE_CHUNK) + seeds * per_seed


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


def refuse_beyond_limit(need: int, what: str, advice: str, limit: int | None = None) -> int:
    """``need`` bytes; a :class:`UserError` (``what`` needs about ..., more than the limit; ``advice``)
    when they exceed ``limit`` (default :func:`memory_limit`; no check when that is unknown)."""
    limit = memory_limit() if limit is None else limit
    if limit is not None and need > limit:
        raise UserError(
            f"{what} needs about {human(need)} of memory, more than the limit of {human(limit)} "
            f"({MEMORY_FRACTION:.0%} of the available memory); {advice}"
        )
    return need


def check_evaluation_memory(
    questions: int,
    num_runs: int,
    Ns: Sequence[int],
    models: int,
    max_cots: int | None = None,
    same_size: int | None = None,
    *,
    where: str,
    names: tuple[str, str] = ("--num_runs", "--Ns"),
    limit: int | None = None,
) -> int:
    """The estimate of :func:`evaluation_bytes`; a :class:`UserError` naming ``names`` when it exceeds
    ``limit`` (:func:`refuse_beyond_limit`). ``where`` says what is evaluated (a category, a config's
    test set)."""
    runs, ns = names
    return refuse_beyond_limit(
        evaluation_bytes(questions, num_runs, Ns, models, max_cots, same_size),
        f"{runs} {num_runs} x {ns} {' '.join(map(str, Ns))} over {where} ({questions} "
        f"question{'s' * (questions != 1)}, {models} reward models)",
        f"lower {runs} or the largest N",
        limit,
    )


def analysis_bytes(
    questions: Sequence[int],
    num_runs: int,
    Ns: Sequence[int],
    score_sets: int,
    kept_sets: int,
    primary_sets: int,
    bootstrap: int,
    max_cots: int | None = None,
) -> int:
    """Estimated peak bytes of ``rmflow analyze`` once it has read categories of ``questions`` (the last
    one about to be evaluated, with ``max_cots`` CoTs at most).

    The evaluator's pass over the last category (:func:`evaluation_bytes`, once per score set, and the
    best-of-N choice of each score set, int64 per cell and N); kept per category: the run accuracies
    and per-question correctness of every series (float64), the choices of the ``kept_sets`` score sets
    the length analysis reads (int32 steps and a bool per cell and N); the bootstrap's counts and sign
    flips (float64 per resample and question) and its replicates (float64 per resample, series and
    category), twice for the paired comparisons; and the per-run rows of the accuracy table
    (:data:`ROW_BYTES` each: three macro groups x the primary sets' series x runs).
    """
    q, total, categories = questions[-1], sum(questions), len(questions)
    series = len(Ns) * (3 + 2 * score_sets)
    cells = q * num_runs
    selecting = evaluation_bytes(q, num_runs, Ns, score_sets, max_cots) + 8 * len(Ns) * score_sets * cells
    kept = 8 * (categories * num_runs + total) * series + 5 * len(Ns) * kept_sets * total * num_runs
    resampling = 8 * bootstrap * (2 * total + 3 * categories * series)
    rows = ROW_BYTES * 3 * len(Ns) * (2 + 2 * primary_sets) * num_runs
    return selecting + kept + resampling + rows
