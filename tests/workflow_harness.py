"""Test harness for the workflow tests: a tmp copy of the workflow with a stand-in `rmflow`.

The stand-in stages write small output files from their arguments; the real provenance module records
them. So the real Snakefile, rules, profiles and Snakemake metadata are exercised in seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "workflow", "config", "profiles", "envs", "slurm")
REAL_MODULES = (
    "__init__.py", "errors.py", "io.py", "strict_json.py", "presets.py", "provenance.py",
    "config_checks.py", "categories.py", "hub_names.py", "evaluation/__init__.py", "evaluation/memory.py",
    "evaluation/report.py", "styles.py", "names.py", "train_summary.py",
)  # fmt: skip

FAKE_CLI = '''"""Stand-in stages: each writes its declared outputs, containing its own arguments."""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from rmflow.names import (
    ANALYSIS_FIGURES, ANALYSIS_TABLES, ANALYSIS_TEXTS, SYNTH_KINDS, SYNTH_SUMMARY, TABLES, reward_file
)


def main():
    argv = sys.argv[1:]
    stage = argv[0]
    if stage == "provenance":
        from rmflow import provenance

        parser = argparse.ArgumentParser()
        provenance.add_arguments(parser)
        provenance.run(parser.parse_args(argv[1:]))
        return
    with open("calls.log", "a") as fh:
        fh.write(stage + "\\n")
    with open("calls.jsonl", "a") as fh:  # what each stage saw: its arguments and thread settings
        seen = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "SLURM_JOB_ID", "SLURM_CPUS_PER_TASK")}
        fh.write(json.dumps({"stage": stage, "argv": argv, **seen}) + "\\n")
    text = " ".join(argv) + "\\n"
    get = lambda flag: argv[argv.index(flag) + 1]

    def write(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    if stage == "plot":
        for suffix in (".pdf", ".png", "_overall.pdf", "_overall.png", "_legend.pdf", "_legend.png"):
            write(Path(get("--output_file") + suffix))
        return
    out = Path(get("--output_dir"))
    if stage == "synth":
        for kind in SYNTH_KINDS:
            write(out / kind / "law.jsonl")
        write(out / SYNTH_SUMMARY)
    elif stage == "evaluate":
        for table in TABLES:
            write(out / f"{table}.csv")
        write(out / "summary.json")
    elif stage == "reward":
        write(out / reward_file("law"))
    elif stage == "train":
        out.mkdir(parents=True, exist_ok=True)
        history = [{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.5}]
        (out / "rmflow_train.json").write_text(json.dumps({"args": argv, "loss_history": history}))
    elif stage == "export":
        write(out / (reward_file("law") if get("--kind") == "reward" else "law.jsonl"))
        (out / "source.json").write_text(json.dumps({"source": get("--data_path"), "resolved_revision": None}))
    elif stage == "analyze":  # the file names the rules declare (from rmflow.names, as here)
        for table in ANALYSIS_TABLES:
            write(out / f"{table}.csv")
        for text in ANALYSIS_TEXTS:
            write(out / text)
        write(out / "summary.json")
        models = argv[argv.index("--model_names") + 1 :]
        models = models[: next((i for i, a in enumerate(models) if a.startswith("--")), len(models))]
        for figure in [*ANALYSIS_FIGURES, *(f"length_{m}" for m in models)]:
            for suffix in (".pdf", ".png"):
                write(Path(get("--plot_dir")) / f"{figure}{suffix}")
    elif stage == "preprocess":
        write(out / "law.jsonl")
        write(out / "stats.json")
    else:
        write(out / "data.jsonl")


if __name__ == "__main__":
    main()
'''


def make_workspace(dest: Path) -> Path:
    """A copy of the workflow whose `rmflow` is the stand-in (plus the real provenance module)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / name)
        else:
            (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    pkg = dest / "src" / "rmflow"
    pkg.mkdir(parents=True)
    for name in REAL_MODULES:
        (pkg / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / "src" / "rmflow" / name, pkg / name)
    (pkg / "cli.py").write_text(FAKE_CLI)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def planned(workdir: Path, *args: str) -> list[str]:
    """Jobs a dry run would execute, as sorted 'rule[wildcards]' strings (the `all` target left out)."""
    out = snakemake(workdir, "-n", "--profile", "profiles/default", *args).stdout
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if not m or m.group(1) == "all":
            continue
        wc = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        jobs.append(f"{m.group(1)}[{wc.group(1)}]" if wc else m.group(1))
    return sorted(jobs)


def variant(workdir: Path, name: str, edit) -> str:
    """Write an edited copy of the default config; return its path for --configfile."""
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    edit(cfg)
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path.name


TAIL = ["evaluate", "plot[table=best_of_n]", "plot[table=weighted_vote]"]


def full_run(dest: Path) -> Path:
    """The default workflow run to completion in a fresh copy at ``dest``."""
    work = make_workspace(dest)
    snakemake(work, "--profile", "profiles/default", "--cores", "2", "all")
    return work
