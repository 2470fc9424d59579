"""``rmflow evaluate`` side by side with the evaluation of an earlier commit, by CPU time.

Generates a paper-sized synthetic evaluation (14 categories x 150 questions x 128 CoTs, four reward
models: dORM/dPRM step lists, gORM/gPRM 10-sample lists with some NaN and null) as files in a temporary
directory. The baseline is ``rmflow evaluate`` of another commit (``--baseline REV``, default the commit
before the bulk reading and vectorised shuffles), checked out by this script as a ``git worktree``; the
candidate is this checkout. Both run as fresh processes with the same interpreter and packages
(interpreter start and loading included), alternately, ``--repeat`` times; the script checks that every
run wrote identical CSVs and prints the median CPU times (user + system of the child) and their ratio.
CPU time is the figure to read on a shared machine; wall times are printed too.

``--oracle`` also times the plain per-question loop of ``rmflow.evaluation.reference`` once: a test
oracle written for clarity (several times slower than any real implementation), not a baseline.

    python benchmarks/bench_evaluate.py [--baseline REV] [--repeat 5] [--oracle] [--keep DIR]
        [--questions 150] [--cots 128] [--num_runs 100]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
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
    """CPU seconds of the candidate's parts, in this process."""
    from rmflow import cyclic_gc
    from rmflow.evaluation import vote
    from rmflow.evaluation.inputs import RewardModel, load_scores, load_test

    models = [RewardModel(m, str(root / m), s) for m, s in MODELS]
    parts = dict.fromkeys(("test sets", "reward sets + join", "permutations", "voting"), 0.0)
    Ns = (1, 2, 4, 8, 16)
    with cyclic_gc.paused():
        for cat in CATEGORIES:
            t = time.process_time()
            data, cot_ids = load_test(str(root / "test"), cat)
            parts["test sets"] += time.process_time() - t
            t = time.process_time()
            for model in models:
                data.scores[model.name] = load_scores(data, cot_ids, model)
            parts["reward sets + join"] += time.process_time() - t
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


#: the commit before the evaluation read its inputs in bulk and drew its shuffles as array operations
BASELINE = "fe8344c"
REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def checkout(rev: str, where: Path) -> str:
    """A detached ``git worktree`` of ``rev`` at ``where``; its commit hash."""
    _git("worktree", "add", "--detach", "--force", str(where), rev)
    return _git("-C", str(where), "rev-parse", "--short", "HEAD").strip()


def evaluate_command(src: Path) -> tuple[list[str], dict[str, str]]:
    """``rmflow evaluate`` of the package under ``src``: its console entry point, with ``src`` first on
    the path (so this interpreter's installed copy is not the one imported)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    code = "import sys; from rmflow.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, "evaluate"], env


def _run_in(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """:func:`_run` with an environment."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _same_tables(a: Path, b: Path) -> None:
    for name in ("best_of_n.csv", "weighted_vote.csv"):
        if (a / name).read_bytes() != (b / name).read_bytes():
            sys.exit(f"MISMATCH: {a / name} differs from {b / name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_arguments(ap)
    ap.add_argument("--baseline", default=BASELINE, help="commit (or any git revision) to compare with")
    ap.add_argument("--repeat", type=int, default=5, help="baseline / candidate pairs, run alternately")
    ap.add_argument("--oracle", action="store_true", help="also time the reference loop (a test oracle)")
    args = ap.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_evaluate."))
    tree = Path(tempfile.mkdtemp(prefix="bench_evaluate_baseline."))
    try:
        flags = prepare(root, args.questions, args.cots, args.num_runs)
        base_rev = checkout(args.baseline, tree / "src_tree")
        head = _git("rev-parse", "--short", "HEAD").strip()
        dirty = " with uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else ""
        print(f"baseline:  rmflow evaluate of commit {base_rev} (--baseline {args.baseline}), a git worktree")
        print(f"candidate: rmflow evaluate of this checkout (commit {head}{dirty})")
        runs = {
            "baseline": evaluate_command(tree / "src_tree" / "src"),
            "candidate": evaluate_command(REPO / "src"),
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for i in range(args.repeat):
            for name, (cmd, env) in runs.items():
                out = root / f"out_{name}"
                times[name].append(_run_in([*cmd, *flags, "--output_dir", str(out)], env))
            _same_tables(root / "out_baseline", root / "out_candidate")
            print(
                f"pair {i + 1}/{args.repeat}: "
                + ", ".join(f"{n} cpu {t[-1][1]:.2f} s (wall {t[-1][0]:.2f} s)" for n, t in times.items()),
                flush=True,
            )
        print("CSV files identical in every pair: yes")
        med = {
            n: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
            for n, t in times.items()
        }
        for name, (wall, cpu) in med.items():
            print(f"median {name:9s}: cpu {cpu:6.2f} s  wall {wall:6.2f} s")
        ratio = med["candidate"][1] / med["baseline"][1]
        print(
            f"candidate / baseline by cpu: {ratio:.3f} ({1 / ratio:.1f}x faster; target <= 0.40); "
            f"by wall: {med['candidate'][0] / med['baseline'][0]:.3f}"
        )
        parts = _breakdown(root, args.num_runs)
        print(
            "candidate, CPU s by part (in this process):", ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        )
        if args.oracle:
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
            _same_tables(root / "out_candidate", root / "out_ref")
            print(
                f"reference loop (a test oracle, not a baseline): cpu {ref_cpu:.2f} s  wall {ref_wall:.2f} s; "
                "CSV files identical: yes"
            )
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree / "src_tree")], check=False
        )
        shutil.rmtree(tree, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
