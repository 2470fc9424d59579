"""Workflow shape per config (dry runs), config validation and lint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import ROOT, TAIL, make_workspace, planned, snakemake, variant  # noqa: E402


def test_default_dag_dry_run(tmp_path):
    work = make_workspace(tmp_path)
    jobs = planned(work)
    assert jobs.count("synth") == 1 and jobs.count("init_backbone[backbone=tiny]") == 1
    for name in ("dORM", "dPRM", "gORM", "gPRM"):
        assert f"train_rm[model={name}]" in jobs
        assert f"reward[model={name}, test=synth]" in jobs
    assert "training_curves" in jobs
    assert len(jobs) == 1 + 1 + 4 + 4 + 1 + 1 + 2


PAPER_TEST = "MMLU-Pro_Llama-3.1-8B-Instruct_test"


def test_paper_config_dry_run_offline(tmp_path):
    work = make_workspace(tmp_path)
    jobs = planned(work, "--configfile", "config/paper.yaml")
    assert jobs == sorted(
        [f"export_rewards[model={m}-14B, test={PAPER_TEST}]" for m in ("dORM", "dPRM", "gORM", "gPRM")]
        + [f"export_test[test={PAPER_TEST}]", *TAIL]
    )


def test_critiques_target(tmp_path):
    work = make_workspace(tmp_path)
    jobs = planned(work, "critiques")
    assert jobs == sorted(
        ["synth", "init_backbone[backbone=tiny]", "critiques"]
        + [f"{r}[task={t}]" for t in ("gORM", "gPRM") for r in ("generate_critiques", "preprocess_critiques")]
    )
    cfg = variant(work, "short", lambda c: c["critiques"].update(shorten=True))
    assert "shorten_critiques[task=gPRM]" in planned(work, "critiques", "--configfile", cfg)

    def on_critiques(c):
        c["reward_models"]["gORM"]["train"]["data"] = "critiques"

    jobs = planned(work, "--configfile", variant(work, "crit", on_critiques))
    assert "generate_critiques[task=gORM]" in jobs and "generate_critiques[task=gPRM]" not in jobs


def test_zero_reward_models_is_valid(tmp_path):
    work = make_workspace(tmp_path)
    cfg = variant(work, "none", lambda c: c.update(reward_models={}))
    assert planned(work, "--configfile", cfg) == sorted(["synth", *TAIL])


def test_schema_rejects_unknown_keys(tmp_path):
    work = make_workspace(tmp_path)
    cfg = variant(work, "typo", lambda c: c["evaluation"].update(num_run=3))
    proc = snakemake(work, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "num_run" in proc.stdout + proc.stderr


def test_unknown_backbone_is_named(tmp_path):
    work = make_workspace(tmp_path)
    cfg = variant(work, "bb", lambda c: c["reward_models"]["dORM"]["train"].update(backbone="huge"))
    proc = snakemake(work, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "backbone 'huge' is not defined" in proc.stdout + proc.stderr


def _replica(of: str):
    def edit(c):
        c["reward_models"]["dORM2"] = {
            **c["reward_models"]["dORM"],
            "train": {**c["reward_models"]["dORM"]["train"], "seed": 2},
            "replica_of": of,
        }

    return edit


def test_replica_of_is_scored_for_the_analysis_only(tmp_path):
    work = make_workspace(tmp_path)
    cfg = variant(work, "rep", _replica("dORM"))
    jobs = planned(work, "--configfile", cfg)
    assert "reward[model=dORM2, test=synth]" not in jobs  # not compared in the tables and plots
    out = snakemake(work, "-n", "-p", "--profile", "profiles/default", "analysis", "--configfile", cfg).stdout
    assert "reward[model=dORM2, test=synth]" in "".join(planned(work, "analysis", "--configfile", cfg))
    (analyze,) = [line for line in out.splitlines() if " analyze " in line]
    assert "--replicas dORM=results/rewards/dORM2/synth" in analyze
    assert analyze.count("dORM2") == 1  # a replica, not a model of its own
    out = snakemake(work, "-n", "-p", "--profile", "profiles/default", "--configfile", cfg).stdout
    (evaluate,) = [line for line in out.splitlines() if " evaluate " in line]
    assert "--model_names dORM dPRM gORM gPRM " in evaluate and "dORM2" not in evaluate


@pytest.mark.parametrize("target", ["nope", "dORM2"])
def test_dangling_replica_of_fails_the_dry_run(tmp_path, target):
    work = make_workspace(tmp_path)
    cfg = variant(work, "bad", _replica(target))
    proc = snakemake(work, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert (
        f"reward_models.dORM2.replica_of: {target!r} is not a reward model of its own"
        in proc.stdout + proc.stderr
    )


def test_lint_clean():
    for extra in ([], ["--configfile", "config/paper.yaml"]):
        proc = snakemake(ROOT, "--lint", "--nolock", *extra, check=False)
        assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_launcher_one_worker_per_gpu(tmp_path):
    """launch.sh: >1 GPU -> accelerate launch with one process per GPU, except the vLLM backend."""
    import os
    import subprocess

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("accelerate", "python"):
        (bindir / tool).write_text(f'#!/bin/sh\necho {tool} "$@"\n')
        (bindir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    script = ROOT / "workflow" / "scripts" / "launch.sh"

    def launch(*args: str) -> str:
        return subprocess.run(
            ["bash", str(script), *args], env=env, capture_output=True, text=True, check=True
        ).stdout

    assert (
        launch("4", "train", "--task_type", "dORM")
        == "accelerate launch --num_processes 4 -m rmflow.cli train --task_type dORM\n"
    )
    assert launch("1", "reward", "--x") == "python -m rmflow.cli reward --x\n"
    assert launch("0", "reward") == "python -m rmflow.cli reward\n"
    assert launch("2", "reward", "--backend", "vllm", "--n_samples", "10").startswith(
        "python -m rmflow.cli reward"
    )
    assert launch("2", "reward", "--backend", "transformers").startswith(
        "accelerate launch --num_processes 2"
    )
