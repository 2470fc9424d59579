"""Determinism: evaluation tables do not depend on the order of records in the input files, and the
synthetic-data + evaluation part of the workflow run twice from scratch gives identical files.

The workflow run uses a reduced config: tiny synthetic sizes and two published-style reward sets built by
hand (``rewards:`` sources, exported by the workflow) instead of trained models, so it runs in seconds;
the model stages' own determinism is covered by the kill/resume tests (byte-identical outputs).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rmflow.cli import main
from rmflow.io import read_records
from rmflow.synth import synthesize

ROOT = Path(__file__).resolve().parents[1]
CATS = ("law", "math")
SYNTH = {
    "seed": 5,
    "train_questions": 1,
    "train_cots": 1,
    "test_questions": 5,
    "test_cots": 8,
    "critiques_per_cot": 1,
}


def unit(*parts: object) -> float:
    """A reproducible number in [0, 1) from ``parts``."""
    return int(hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 2**32


def reward_sets(test_dir: Path, root: Path) -> dict[str, Path]:
    """Published-style reward sets for the test set: dORM (P(+) per step) and gORM (4 samples, some NaN)."""
    dirs = {}
    for model in ("dORM", "gORM"):
        dirs[model] = root / model
        dirs[model].mkdir(parents=True)
        for cat in CATS:
            records = []
            for rec in read_records(test_dir / f"{cat}.jsonl"):
                rewards = []
                for cot_id, cot in zip(rec["cot_ids"], rec["cots"], strict=True):
                    if model == "dORM":
                        rewards.append(
                            [round(unit(model, rec["q_id"], cot_id, k), 4) for k in range(len(cot))]
                        )
                    else:
                        draws = [unit(model, rec["q_id"], cot_id, s) for s in range(4)]
                        rewards.append(
                            [math.nan if u < 0.15 else None if u > 0.95 else round(u, 3) for u in draws]
                        )
                records.append({"q_id": rec["q_id"], "cot_ids": rec["cot_ids"], "rewards": rewards})
            (dirs[model] / f"{cat}_reward.json").write_text(json.dumps(records))
    return dirs


# --------------------------------------------------------------------------- record order
def shuffled_copy(src: Path, dest: Path, rng: random.Random, inner: bool) -> Path:
    """``src``'s record files with records shuffled (and, with ``inner``, each entry's CoTs)."""
    dest.mkdir(parents=True)
    for path in src.iterdir():
        records = read_records(path)
        rng.shuffle(records)
        if inner:
            for rec in records:
                order = list(range(len(rec["cot_ids"])))
                rng.shuffle(order)
                rec["cot_ids"] = [rec["cot_ids"][i] for i in order]
                rec["rewards"] = [rec["rewards"][i] for i in order]
        (dest / path.name).write_text("".join(json.dumps(r) + "\n" for r in records) if path.suffix == ".jsonl"
                                      else json.dumps(records))  # fmt: skip
    return dest


def evaluate_tables(test_dir: Path, dirs: dict[str, Path], out: Path) -> bytes:
    argv = ["evaluate", "--data_path", str(test_dir), "--reward_dirs", *map(str, dirs.values()),
            "--model_names", *dirs, "--category", ",".join(CATS), "--num_runs", "30",
            "--Ns", "1", "2", "4", "8", "--output_dir", str(out)]  # fmt: skip
    assert main(argv) == 0
    return (out / "best_of_n.csv").read_bytes() + (out / "weighted_vote.csv").read_bytes()


@pytest.mark.fault("nondeterminism")
def test_tables_do_not_depend_on_record_order(tmp_path):
    synthesize(tmp_path / "synth", category=",".join(CATS), kinds=["test"], **SYNTH)
    test_dir = tmp_path / "synth" / "test"
    dirs = reward_sets(test_dir, tmp_path / "rewards")
    reference = evaluate_tables(test_dir, dirs, tmp_path / "ref")
    for trial in range(3):
        rng = random.Random(trial)
        test = shuffled_copy(test_dir, tmp_path / f"t{trial}" / "test", rng, inner=False)
        shuffled = {m: shuffled_copy(d, tmp_path / f"t{trial}" / m, rng, inner=True) for m, d in dirs.items()}
        assert evaluate_tables(test, shuffled, tmp_path / f"t{trial}" / "out") == reference
    # the reward files really were reordered (so the equality above is not vacuous)
    assert read_records(dirs["gORM"] / "law_reward.json") != read_records(
        tmp_path / "t0" / "gORM" / "law_reward.json"
    )


# --------------------------------------------------------------------------- the workflow twice
WORKFLOW_FILES = ("Snakefile", "rules", "workflow", "config", "profiles", "envs")


def workspace(dest: Path, rewards: dict[str, Path]) -> Path:
    """A copy of the workflow (the real ``rmflow``) with a reduced config."""
    dest.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    config = {
        "results": "results",
        "categories": list(CATS),
        "synth": SYNTH,
        "datasets": {"test": {"name": "synth", "source": "synth"}},
        "reward_models": {
            m: {"task_type": m, "strategy": "last" if m == "dORM" else "mean", "rewards": str(d)}
            for m, d in rewards.items()
        },  # fmt: skip
        "evaluation": {"num_runs": 30, "seed": 42, "Ns": [1, 2, 4, 8]},
    }
    (dest / "reduced.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


@pytest.mark.fault("nondeterminism")
@pytest.mark.slow
def test_synth_and_evaluation_workflow_twice_from_scratch(tmp_path, tree_digest):
    synthesize(tmp_path / "expected", category=",".join(CATS), kinds=["test"], **SYNTH)
    rewards = reward_sets(tmp_path / "expected" / "test", tmp_path / "published")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    targets = ["results/eval/best_of_n.csv", "results/eval/weighted_vote.csv"]
    runs = []
    for name in ("first", "second"):  # two fresh copies, run at the same time
        work = workspace(tmp_path / name, rewards)
        cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", "1", "--configfile", "reduced.yaml"]
        runs.append((work, subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True)))  # fmt: skip
    for _, proc in runs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
    (first, _), (second, _) = runs
    for sub in ("data/synth", "rewards", "eval"):
        files = {
            k: v for k, v in tree_digest(first / "results" / sub).items() if not k.endswith(".prov.json")
        }
        assert files, sub
        assert files == {k: v for k, v in tree_digest(second / "results" / sub).items() if k in files}, sub
    # the workflow's synthetic test set is the one the reward sets were built for
    for cat in CATS:
        synth_file = first / "results" / "data" / "synth" / "test" / f"{cat}.jsonl"
        assert synth_file.read_bytes() == (tmp_path / "expected" / "test" / f"{cat}.jsonl").read_bytes()
    table = (first / "results" / "eval" / "best_of_n.csv").read_text().splitlines()
    assert table[0].startswith("N,Method,Overall_mean,law_mean,math_mean,Overall_std")
    assert [row.split(",")[1] for row in table[1:5]] == ["MV", "dORM", "gORM", "Pass@N"]
