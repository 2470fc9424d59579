"""Time ``rmflow synth`` at its default sizes against reading the same files back (same run).

Prints the median wall time of the in-process generator, of the whole CLI (interpreter start-up
included) and of the baseline: loading and validating every written file with ``rmflow.data``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rmflow.categories import CATEGORIES
from rmflow.data import load_records
from rmflow.synth import KINDS, synthesize

REPEATS = 5


def _median(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gen = _median(lambda: synthesize(root / "synth"))
        cli = _median(
            lambda: subprocess.run(
                [sys.executable, "-m", "rmflow.cli", "synth", "--output_dir", str(root / "cli")],
                check=True,
                capture_output=True,
            )
        )
        load = _median(lambda: [load_records(root / "synth" / k, c, k) for k in KINDS for c in CATEGORIES])
        size = sum(p.stat().st_size for p in (root / "synth").rglob("*.jsonl"))
    print(f"synth defaults (14 categories, 4 kinds, {size / 1e6:.2f} MB): median of {REPEATS}")
    print(f"  synthesize() in process     {gen:7.3f} s")
    print(f"  rmflow synth CLI (+startup) {cli:7.3f} s")
    print(f"  baseline: load + validate   {load:7.3f} s")
    print(f"  ratio synthesize / baseline {gen / load:7.2f}x")


if __name__ == "__main__":
    main()
