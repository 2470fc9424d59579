"""Config values reach the rules' shells quoted: a results directory with a space and `$(...)` runs every
rule of the default DAG (plus the critique chain and the analysis) where it says, and runs nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import make_workspace, snakemake, variant  # noqa: E402

RESULTS = "out dir/$(touch PWNED)"


def test_results_with_space_and_command_substitution(tmp_path):
    work = make_workspace(tmp_path / "wf")

    def edit(c):
        c["results"] = RESULTS
        c["reward_models"]["gORM"]["train"]["data"] = "critiques"

    cfg = variant(work, "odd", edit)
    snakemake(work, "--cores", "2", f"--configfile={cfg}", "all", "critiques", "analysis")
    root = work / RESULTS
    assert (root / "plots" / "best_of_n.pdf").is_file()
    assert (root / "analysis" / "summary.json").is_file()
    assert (root / "critiques" / "gORM" / "preprocessed").is_dir()
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    # every stage wrote only under the odd root (besides the workspace's own logs and metadata)
    strays = {p.relative_to(work).parts[0] for p in work.iterdir()} - {
        "out dir",
        "logs",
        ".snakemake",
        "calls.log",
        "calls.jsonl",
        "odd.yaml",
        "Snakefile",
        "rules",
        "workflow",
        "config",
        "profiles",
        "envs",
        "slurm",
        "src",
    }
    assert not strays
