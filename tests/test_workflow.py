"""Rerun scope of the workflow under `--rerun-triggers params`, and provenance of a real run.

The default workflow runs once in a tmp copy (stand-in stages, see workflow_harness.py); each test then
asks Snakemake which jobs a config change schedules: exactly the changed rule and what depends on it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from rmflow import audit as audit_mod

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import TAIL, full_run, planned, snakemake, variant  # noqa: E402


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Path:
    """The default workflow run to completion in a tmp copy."""
    return full_run(tmp_path_factory.mktemp("wf"))


def test_run_records_provenance_and_audits_clean(done):
    for table in ("best_of_n", "weighted_vote"):
        for suffix in (".pdf", ".png", "_overall.pdf", "_overall.png", "_legend.pdf", "_legend.png"):
            assert (done / "results" / "plots" / f"{table}{suffix}").is_file()
    cwd = os.getcwd()
    os.chdir(done)
    try:
        _, nodes = audit_mod.audit(audit_mod.default_targets(Path("results")))
    finally:
        os.chdir(cwd)
    assert {n.status for n in nodes} == {"ok"}
    rules = {n.rule for n in nodes}
    assert {"plot", "evaluate", "reward", "train_rm", "init_backbone", "synth"} <= rules
    assert planned(done) == []  # up to date


def test_lora_rank_reruns_only_that_model(done):
    cfg = variant(done, "lora", lambda c: c["reward_models"]["gORM"]["train"]["set"].update(lora_r=8))
    assert planned(done, "--configfile", cfg) == sorted(
        ["train_rm[model=gORM]", "reward[model=gORM, test=synth]", "training_curves", *TAIL]
    )


def test_num_runs_reruns_only_evaluation(done):
    cfg = variant(done, "runs", lambda c: c["evaluation"].update(num_runs=7))
    assert planned(done, "--configfile", cfg) == sorted(TAIL)


def test_plot_option_reruns_only_plots(done):
    cfg = variant(done, "oracle", lambda c: c["plot"].update(plot_oracle=False))
    assert planned(done, "--configfile", cfg) == sorted(TAIL[1:])


def test_plot_band_draws_from_the_analysis(done, tmp_path):
    """`plot.band: true`: the plots wait for `analyze` and get its accuracy table as `--band`."""
    work = tmp_path / "band"
    shutil.copytree(done, work, symlinks=True)  # mtimes kept: nothing else looks outdated
    cfg = variant(work, "band", lambda c: c["plot"].update(band=True))
    assert planned(work, "--configfile", cfg) == sorted(["analyze", *TAIL[1:]])
    snakemake(work, "--profile", "profiles/default", "--cores", "2", f"--configfile={cfg}", "all")
    calls = [json.loads(line) for line in (work / "calls.jsonl").read_text().splitlines()]
    *before, last, latest = [c["argv"] for c in calls if c["stage"] == "plot"]
    assert [a[a.index("--band") + 1] for a in (last, latest)] == ["results/analysis/accuracy.csv"] * 2
    assert before and all("--band" not in a for a in before)  # the default run's plots: no band


def test_scoring_change_reruns_scoring_not_training(done):
    cfg = variant(done, "score", lambda c: c["reward_models"]["gPRM"]["scoring"].update(n_samples=3))
    assert planned(done, "--configfile", cfg) == sorted(["reward[model=gPRM, test=synth]", *TAIL])


def test_resources_do_not_rerun(done):
    cfg = variant(done, "res", lambda c: c["resources"]["train"].update(mem_mb=9999, runtime=5))
    assert planned(done, "--configfile", cfg) == []


def test_added_model_adds_its_chain(done):
    def add(c):
        c["reward_models"]["dORM-2"] = {**c["reward_models"]["dORM"], "strategy": "max"}

    cfg = variant(done, "added", add)
    assert planned(done, "--configfile", cfg) == sorted(
        ["train_rm[model=dORM-2]", "reward[model=dORM-2, test=synth]", "training_curves", *TAIL]
    )


def test_preset_edit_reruns_its_models(done, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(done, work, symlinks=True)
    assert planned(work) == []  # a moved checkout (with its .snakemake/ metadata) is still up to date
    rules = work / "rules" / "evaluate.smk"
    rules.write_text(rules.read_text().replace("{RMFLOW} plot --input_file", "{RMFLOW}  plot --input_file"))
    assert planned(work) == []  # editing a rule's shell text (plumbing) reruns nothing
    preset = work / "config" / "presets" / "dPRM-tiny.yaml"
    settings = yaml.safe_load(preset.read_text())
    settings["lora_r"] = settings.get("lora_r", 16) + 1
    preset.write_text(yaml.safe_dump(settings))
    assert planned(work) == sorted(
        ["train_rm[model=dPRM]", "reward[model=dPRM, test=synth]", "training_curves", *TAIL]
    )
