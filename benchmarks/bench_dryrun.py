"""Dry-run time of the workflow (`snakemake -n`) for the default and the paper config.

Budgets: default <= 3 s, paper <= 10 s (wall clock, whole process). Baseline, measured in the same run:
the dry run of a one-rule Snakefile, i.e. Snakemake's own start-up; the ratio shows what the workflow
itself adds. Each figure is the median of --repeats runs; the CPU time (user + sys of the process) is
printed too, since wall time on a loaded machine mostly measures the other load.

    python benchmarks/bench_dryrun.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"default": 3.0, "paper": 10.0}
TRIVIAL = 'rule all:\n    output: "x.txt"\n    shell: "touch {output}"\n'


def dry_run(workdir: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one dry run."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--nolock", "--quiet", "all", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"snakemake -n {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def median_of(repeats: int, fn, *args) -> tuple[float, float]:
    runs = [fn(*args) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Snakefile").write_text(TRIVIAL)
        baseline = median_of(args.repeats, dry_run, Path(tmp))
    figures = {
        "default": median_of(args.repeats, dry_run, ROOT),
        "paper": median_of(args.repeats, dry_run, ROOT, "--configfile", "config/paper.yaml"),
    }
    print(f"baseline (one-rule Snakefile): {baseline[0]:.2f} s wall, {baseline[1]:.2f} s CPU")
    for name, (wall, cpu) in figures.items():
        verdict = "within" if wall <= BUDGETS[name] else "OVER"
        print(
            f"{name:>7} config: {wall:.2f} s wall ({wall / baseline[0]:.2f}x baseline), "
            f"{cpu:.2f} s CPU ({cpu / baseline[1]:.2f}x); budget {BUDGETS[name]:.0f} s wall: {verdict}"
        )


if __name__ == "__main__":
    main()
