"""Modification times (a fresh clone reruns nothing; a copy that lost its mtimes is re-stamped) and
the HTML report of a finished run."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import full_run, make_workspace, planned, snakemake  # noqa: E402


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Path:
    """The default workflow run to completion in a tmp copy."""
    return full_run(tmp_path_factory.mktemp("wf"))


def test_fresh_clone_with_copied_results_reruns_nothing(done, tmp_path):
    """A fresh clone (every tracked file newer than the results) plus a results tree copied with its
    mtimes (cp -a, rsync -a, tar), without .snakemake/: nothing reruns. No tracked file is a rule input
    and no rule uses `script:` (whose mtime Snakemake compares), so the clone's new mtimes are harmless."""
    work = make_workspace(tmp_path / "clone")
    shutil.copytree(done / "results", work / "results")  # copy2: mtimes kept
    for path in [*(work / "config").rglob("*"), *(work / "rules").rglob("*"), work / "Snakefile"]:
        os.utime(path)  # the clone's files are newer than every result
    assert planned(work) == []


def test_scrambled_mtimes_are_restamped_by_touch(done, tmp_path):
    """Results copied without their mtimes (plain cp -r) look out of date to Snakemake, whose input-
    newer-than-output check ignores --rerun-triggers; `snakemake --touch` re-stamps them in DAG order."""
    work = make_workspace(tmp_path / "scrambled")
    shutil.copytree(done / "results", work / "results")
    past = time.time() - 10_000
    for i, path in enumerate(sorted((work / "results").rglob("*"), reverse=True)):  # inputs newest
        os.utime(path, (past + i, past + i))
    assert "train_rm[model=dORM]" in planned(work)
    snakemake(work, "--touch", "--cores", "1", "all")
    assert planned(work) == []
    assert (work / "calls.log").exists() is False  # touching ran no stage


def test_report_has_plots_tables_and_training_curves(done):
    """`snakemake --report` bundles the plots, the CSVs and the training curves with their captions."""
    snakemake(done, "--report", "results/report.html")
    html = (done / "results" / "report.html").read_text(encoding="utf-8", errors="replace")
    for name in (
        "best_of_n.png",
        "weighted_vote.png",
        "best_of_n.csv",
        "weighted_vote.csv",
        "training_curves.png",
    ):
        assert name in html
    assert "Task accuracy" in html and "Training loss" in html  # captions
