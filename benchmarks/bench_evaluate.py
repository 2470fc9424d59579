"""End-to-end timing of ``rmflow evaluate`` against the per-question reference implementation.

Generates a paper-sized synthetic evaluation (14 categories x 150 questions x 128 CoTs, four reward
models: dORM/dPRM step lists, gORM/gPRM 10-sample lists with some NaN and null) as files in a temporary
directory, then runs, each as a fresh process (interpreter start and loading included):

* ``rmflow evaluate ...`` (the vectorized evaluator), and
* ``python -m rmflow.evaluation.reference ...`` (a plain loop over docs/formats.md's rules),

checks that both wrote identical CSVs and prints both wall times and the speed-up.

    python benchmarks/bench_evaluate.py [--questions 150] [--cots 128] [--num_runs 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rmflow.categories import CATEGORIES

MODELS = (("dORM-14B", "last"), ("dPRM-14B", "min"), ("gORM-14B", "mean"), ("gPRM-14B", "mean"))
LETTERS = list("ABCDEFGHIJ")


def _probabilities(rng: np.random.Generator, size: int) -> list[float]:
    """Uniform probabilities from float32, as a softmax in float32 would give them."""
    return rng.random(size, dtype=np.float32).astype(np.float64).tolist()


def generate(root: Path, questions: int, cots: int, seed: int = 0) -> None:
    """Write ``root/test/{cat}.json`` and ``root/{model}/{cat}_reward.json`` for the 14 categories."""
    rng = np.random.default_rng(seed)
    for d in ["test", *(m for m, _ in MODELS)]:
        (root / d).mkdir(parents=True, exist_ok=True)
    for ci, cat in enumerate(CATEGORIES):
        test, rewards = [], {m: [] for m, _ in MODELS}
        for qi in range(questions):
            # q_ids: ints in some categories, strings in others, as in the published sets
            q_id = qi + 1000 * ci if ci % 2 else f"{cat}-{qi}"
            n_steps = rng.integers(2, 13, size=cots)
            gold = LETTERS[rng.integers(10)]
            # about a third of the answers are right; a few unparsed (None) or off-alphabet
            answers = np.where(rng.random(cots) < 0.3, gold, rng.choice(LETTERS, size=cots)).tolist()
            for k in np.flatnonzero(rng.random(cots) < 0.04):
                answers[k] = None if k % 2 else "K"
            right = np.array([a == gold for a in answers])
            cot_ids = list(range(cots))
            test.append(
                {
                    "q_id": q_id,
                    "question": f"Question {qi} of {cat}?",
                    "cot_ids": cot_ids,
                    "cots": [
                        [f"Step {s + 1} of solution {c}." for s in range(n)] for c, n in enumerate(n_steps)
                    ],
                    "parsed_answers": answers,
                    "answer": gold,
                }
            )
            for model, _ in MODELS:
                order = rng.permutation(cots).tolist()  # reward files may list CoTs in another order
                lists = []
                for c in order:
                    # informative rewards: right CoTs score higher on average
                    p = _probabilities(rng, int(n_steps[c]) if model.startswith("d") else 10)
                    p = [x**0.6 if right[c] else x**1.6 for x in p]
                    if model.startswith("g"):
                        for k in np.flatnonzero(rng.random(10) < 0.05):
                            p[k] = float("nan") if k % 3 else None
                    lists.append(p)
                rewards[model].append({"q_id": q_id, "cot_ids": order, "rewards": lists})
        (root / "test" / f"{cat}.json").write_text(json.dumps(test))
        for model, _ in MODELS:
            (root / model / f"{cat}_reward.json").write_text(json.dumps(rewards[model]))
        print(f"generated {cat}", file=sys.stderr)


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*.json")) / 1e6


def _run(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return its wall time and CPU time (user + system, children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _breakdown(root: Path, num_runs: int) -> dict[str, float]:
    """CPU seconds of the vectorized path's parts, in this process."""
    from rmflow.evaluation import vote
    from rmflow.evaluation.inputs import RewardModel, load_category

    models = [RewardModel(m, str(root / m), s) for m, s in MODELS]
    parts = dict.fromkeys(("load + join", "permutations", "voting"), 0.0)
    Ns = (1, 2, 4, 8, 16)
    for cat in CATEGORIES:
        t = time.process_time()
        data = load_category(str(root / "test"), cat, models)
        parts["load + join"] += time.process_time() - t
        t = time.process_time()
        perms = vote.permutations(data, Ns, num_runs, 42)
        parts["permutations"] += time.process_time() - t
        t = time.process_time()
        vote.accuracies(data, Ns, perms)
        parts["voting"] += time.process_time() - t
    return parts


def prepare(root: Path, questions: int, cots: int, num_runs: int) -> list[str]:
    """Generate the input under ``root`` unless present; the evaluation flags that read it."""
    if not (root / "test" / f"{CATEGORIES[-1]}.json").exists():
        t = time.perf_counter()
        generate(root, questions, cots)
        print(f"generated {_size_mb(root):.0f} MB of JSON in {time.perf_counter() - t:.1f} s")
    return [
        "--data_path", str(root / "test"),
        "--reward_dirs", *(str(root / m) for m, _ in MODELS),
        "--model_names", *(m for m, _ in MODELS),
        "--strategies", *(s for _, s in MODELS),
        "--num_runs", str(num_runs),
    ]  # fmt: skip


def rmflow_executable() -> str:
    """The ``rmflow`` console script next to this interpreter."""
    return shutil.which("rmflow", path=os.path.dirname(sys.executable)) or "rmflow"


def add_input_arguments(ap: argparse.ArgumentParser) -> None:
    """The flags that size the generated input (shared with ``bench_analysis.py``)."""
    ap.add_argument("--questions", type=int, default=150, help="questions per category")
    ap.add_argument("--cots", type=int, default=128, help="CoTs per question")
    ap.add_argument("--num_runs", type=int, default=100)
    ap.add_argument("--keep", help="generate into (or reuse) this directory instead of a temporary one")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_arguments(ap)
    args = ap.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_evaluate."))
    try:
        flags = prepare(root, args.questions, args.cots, args.num_runs)
        rmflow = rmflow_executable()
        fast_wall, fast_cpu = _run([rmflow, "evaluate", *flags, "--output_dir", str(root / "out_fast")])
        print(f"rmflow evaluate (vectorized):  wall {fast_wall:7.2f} s  cpu {fast_cpu:7.2f} s", flush=True)
        ref_wall, ref_cpu = _run(
            [
                sys.executable,
                "-m",
                "rmflow.evaluation.reference",
                *flags,
                "--output_dir",
                str(root / "out_ref"),
            ]
        )
        print(f"reference loop:                wall {ref_wall:7.2f} s  cpu {ref_cpu:7.2f} s")
        for name in ("best_of_n.csv", "weighted_vote.csv"):
            fast, ref = (root / d / name for d in ("out_fast", "out_ref"))
            if fast.read_text() != ref.read_text():
                sys.exit(f"MISMATCH: {fast} differs from {ref}")
        print("CSV files identical: yes")
        print(f"speed-up: wall {ref_wall / fast_wall:.1f}x  cpu {ref_cpu / fast_cpu:.1f}x  (target >= 20x)")
        parts = _breakdown(root, args.num_runs)
        print("vectorized path, CPU s by part:", ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
