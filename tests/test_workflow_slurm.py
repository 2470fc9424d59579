"""Slurm: what the jobs of `snakemake --profile slurm ...` receive, and (opt-in) a real single-node cluster.

The stub tests run the README's cluster commands, as written there, through the real Snakemake CLI and the
real snakemake-executor-plugin-slurm against a stand-in Slurm (tests/slurm_stubs.py: `sbatch` records its
arguments and runs the job at once) and a stand-in `rmflow` (tests/workflow_harness.py), then check every
submission line and what each job saw (threads, OMP_NUM_THREADS).

`test_slurm_cluster_run` needs RMFLOW_SLURM_TEST=1, root, and Debian's slurm-wlm and munge
(`apt-get install -y slurm-wlm munge`): it starts munged, slurmctld and slurmd on this host
(proctrack/linuxproc, task/none, no cgroups, no accounting, long MinJobAge so that squeue reports
finished jobs), runs a small target of the real pipeline through `--profile slurm`, audits the
result and stops the daemons it started. Remove the packages afterwards on a machine without a cluster:
with the Slurm client installed but no controller reachable, the plugin probes `scontrol show config`
whenever Snakemake builds its command line, which costs ~9 s per snakemake invocation.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurm_stubs  # noqa: E402
from workflow_harness import ROOT, make_workspace, snakemake  # noqa: E402

SLURM_ENV = {
    "RMFLOW_SLURM_ACCOUNT": "rmproj",
    "RMFLOW_SLURM_PARTITION": "cpuq",
    "RMFLOW_SLURM_GPU_PARTITION": "gpuq",
    "RMFLOW_GPU_MODEL": "h100",
}
#: stands in for `accelerate launch` on a machine without GPUs: records the process count, runs one process
ACCELERATE = r"""
import os, sys
args = sys.argv[2:]
n = args[args.index("--num_processes") + 1]
with open("accelerate.log", "a") as fh:
    fh.write(n + "\n")
rest = args[args.index("-m"):]
os.execvp(sys.executable, [sys.executable, *rest])
"""


def readme_commands(prefix: str) -> list[str]:
    """The README's shell lines that start with ``prefix`` (comments stripped), as written there."""
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line.split(" #")[0].strip() for line in lines if line.startswith(prefix)]


def run_on_stub_slurm(
    work: Path, state: Path, command: str, env: dict[str, str]
) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "snakemake"
    full = {**os.environ, **env, **slurm_stubs.install(state)}
    full.pop("PYTHONPATH", None)
    full["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *argv[1:], *slurm_stubs.FAST],
        cwd=work,
        env=full,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def by_rule(state: Path) -> dict[str, dict]:
    """Submissions keyed like ``train_rm[gORM]`` (rule and wildcard values from the plugin's comment)."""
    out = {}
    for sub in slurm_stubs.submissions(state):
        rule, _, wildcards = sub["rule"].removeprefix("rule_").partition("_wildcards_")
        out[f"{rule}[{wildcards}]" if wildcards else rule] = sub
    return out


def seen(work: Path, stage: str) -> list[dict]:
    """What the stand-in `rmflow STAGE` saw in each job (environment, arguments)."""
    calls = [json.loads(line) for line in (work / "calls.jsonl").read_text().splitlines()]
    return [c for c in calls if c["stage"] == stage]


def assert_flags(line: str, *flags: str) -> None:
    words = shlex.split(line)
    for flag in flags:
        assert (flag in words) if " " not in flag else (flag in line), (flag, line)


def test_readme_cluster_command_default(tmp_path):
    """`snakemake --profile slurm results/plots/best_of_n.pdf` from the root of a fresh copy: every job is
    submitted with the config's compute, CPU jobs get no GPU, and a job runs with the CPUs it asked for."""
    (command,) = readme_commands("snakemake --profile slurm results/")
    work = make_workspace(tmp_path / "wf")
    cfg_path = work / "config" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["resources"]["train"]["cpus_per_task"] = 2
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_on_stub_slurm(work, tmp_path / "slurm", command, SLURM_ENV)

    assert (work / "results" / "plots" / "best_of_n.pdf").exists()
    subs = by_rule(tmp_path / "slurm")
    models = ("dORM", "dPRM", "gORM", "gPRM")
    assert set(subs) == {
        "synth",
        "init_backbone[tiny]",
        "evaluate",
        "plot[best_of_n]",
        *(f"train_rm[{m}]" for m in models),
        *(f"reward[{m}_synth]" for m in models),
    }
    for name, sub in subs.items():
        assert_flags(sub["line"], "-A rmproj", "-p cpuq")  # no job of the tiny default uses a GPU
        assert "--gpus" not in sub["line"], name
        assert "--cores 'all'" in sub["script"], name  # nothing of the submitting machine caps a job
    for m in models:
        assert_flags(subs[f"train_rm[{m}]"]["line"], "--cpus-per-task=2", "--mem 4000", "-t 60")
        assert_flags(subs[f"reward[{m}_synth]"]["line"], "--cpus-per-task=1", "--mem 4000")
    threads = {c["OMP_NUM_THREADS"] for c in seen(work, "train")}
    assert threads == {str(min(2, os.cpu_count() or 1))}
    assert all(c["SLURM_JOB_ID"] for c in seen(work, "train"))


def test_readme_cluster_command_paper_scale(tmp_path):
    """The paper-scale command with every reward-model source that needs a GPU: train (with a per-model
    override), published checkpoints (one served by vLLM with tensor parallel 2) and teacher critiques."""
    (command,) = readme_commands("snakemake --profile slurm --configfile=config/paper.yaml")
    work = make_workspace(tmp_path / "wf")
    cfg = yaml.safe_load((work / "config" / "paper.yaml").read_text())
    rms = cfg["reward_models"]
    for rm in rms.values():
        del rm["rewards"]
    rms["dORM-14B"]["train"] = {
        "preset": "dORM-14B",
        "backbone": "14B",
        "data": "train",
        "per_device_batch_size": 4,
        "resources": {"gpu": 1, "mem_mb": 64000},
    }
    rms["dPRM-14B"]["checkpoint"] = "dongboklee/dPRM-14B"
    rms["gORM-14B"]["train"] = {
        "preset": "gORM-14B",
        "backbone": "14B",
        "data": "critiques",
        "per_device_batch_size": 4,
    }
    rms["gPRM-14B"]["checkpoint"] = "dongboklee/gPRM-14B"
    rms["gPRM-14B"]["scoring"]["tensor_parallel_size"] = 2
    (work / "variant.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    bin_dir = tmp_path / "slurm" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "accelerate").write_text(f"#!{sys.executable}\n{ACCELERATE}")
    (bin_dir / "accelerate").chmod(0o755)
    run_on_stub_slurm(
        work, tmp_path / "slurm", command.replace("config/paper.yaml", "variant.yaml"), SLURM_ENV
    )

    assert (work / "results" / "paper" / "plots" / "best_of_n.pdf").exists()
    subs = by_rule(tmp_path / "slurm")
    test = cfg["datasets"]["test"]["name"]
    gpu = ("-A rmproj", "-p gpuq")
    assert_flags(
        subs["train_rm[dORM-14B]"]["line"],
        *gpu,
        "--gpus=h100:1",
        "--mem 64000",
        "--cpus-per-task=16",
        "-t 1440",
    )
    assert_flags(
        subs["train_rm[gORM-14B]"]["line"], *gpu, "--gpus=h100:4", "--mem 256000", "--cpus-per-task=16"
    )
    assert_flags(subs["generate_critiques[gORM]"]["line"], *gpu, "--gpus=h100:4", "--cpus-per-task=16")
    assert_flags(
        subs[f"reward[dPRM-14B_{test}]"]["line"],
        *gpu,
        "--gpus=h100:1",
        "--mem 128000",
        "--cpus-per-task=8",
        "-t 720",
    )
    assert_flags(subs[f"reward[dORM-14B_{test}]"]["line"], *gpu, "--gpus=h100:1")
    assert_flags(subs[f"reward[gORM-14B_{test}]"]["line"], *gpu, "--gpus=h100:1")  # vLLM: tensor parallel 1
    assert_flags(subs[f"reward[gPRM-14B_{test}]"]["line"], *gpu, "--gpus=h100:2")  # vLLM: tensor parallel 2
    for name in ("preprocess_critiques[gORM]", "evaluate", "plot[best_of_n]"):
        assert "--gpus" not in subs[name]["line"] and "-p cpuq" in subs[name]["line"], name
    assert (work / "accelerate.log").read_text().split() == ["4"]  # gORM-14B: one worker per GPU
    cpus = str(min(16, os.cpu_count() or 1))
    assert {c["OMP_NUM_THREADS"] for c in seen(work, "train")} == {cpus}


def test_own_generic_slurm_profile(tmp_path):
    """A user's own `~/.config/snakemake/slurm` (executor and jobs only) gives the same jobs: compute comes
    from the workflow, not from a profile only this repo has."""
    work = make_workspace(tmp_path / "wf")
    (work / "slurm").unlink()
    home = tmp_path / "xdg" / "snakemake" / "slurm"
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("executor: slurm\njobs: 4\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    run_on_stub_slurm(work, tmp_path / "slurm", "snakemake --profile slurm results/checkpoints/dPRM", env)
    subs = by_rule(tmp_path / "slurm")
    assert set(subs) == {"synth", "init_backbone[tiny]", "train_rm[dPRM]"}
    assert_flags(subs["train_rm[dPRM]"]["line"], "-p cpuq", "--cpus-per-task=1", "--mem 4000", "-t 60")
    assert "--gpus" not in subs["train_rm[dPRM]"]["line"]


# --------------------------------------------------------------------------- opt-in: a real cluster
SLURM_CONF = """\
ClusterName=rmflow
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=86400
SlurmctldPort=16817
SlurmdPort=16818
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/spool
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
CONF_PATH = Path("/etc/slurm/slurm.conf")  # job steps (srun) read the standard location


@pytest.fixture()
def cluster(tmp_path_factory):
    if os.environ.get("RMFLOW_SLURM_TEST") != "1":
        pytest.skip("opt-in: set RMFLOW_SLURM_TEST=1 (needs root, slurm-wlm and munge)")
    missing = [b for b in ("slurmctld", "slurmd", "munged", "sbatch", "squeue") if not shutil.which(b)]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and {', '.join(missing) or 'slurm'} (apt-get install -y slurm-wlm munge)")
    host = socket.gethostname().split(".")[0]
    state = tmp_path_factory.mktemp("slurm")
    (state / "ctld").mkdir()
    (state / "spool").mkdir()
    text = SLURM_CONF.format(host=host, state=state, cpus=os.cpu_count() or 1)
    if CONF_PATH.exists() and "ClusterName=rmflow" not in CONF_PATH.read_text():
        pytest.skip(f"{CONF_PATH} belongs to another cluster; not touching it")
    created_conf = not CONF_PATH.exists()
    CONF_PATH.parent.mkdir(parents=True, exist_ok=True)
    CONF_PATH.write_text(text)
    started: list[int] = []
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
        started.append(int(Path("/run/munge/munged.pid").read_text()))
    subprocess.run(["slurmctld", "-f", str(CONF_PATH), "-c"], check=True)
    subprocess.run(["slurmd", "-f", str(CONF_PATH)], check=True)
    for name in ("slurmctld", "slurmd"):
        for _ in range(50):
            pid = state / f"{name}.pid"
            if pid.exists() and pid.read_text().strip():
                started.append(int(pid.read_text()))
                break
            time.sleep(0.2)
    for _ in range(50):
        if "idle" in subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout:
            break
        time.sleep(0.2)
    else:
        pytest.fail(
            "the local Slurm node did not become idle: " + (state / "slurmctld.log").read_text()[-2000:]
        )
    yield state
    for pid in reversed(started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
    if created_conf:
        CONF_PATH.unlink()


@pytest.mark.slurm
def test_slurm_cluster_run(cluster, tmp_path):
    """A small real target (synth -> evaluate -> plots) submitted through the `slurm` profile."""
    work = tmp_path / "wf"
    work.mkdir()
    for name in ("Snakefile", "rules", "workflow", "config", "profiles", "envs", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    os.symlink("profiles/slurm", work / "slurm")

    def small(c):
        c["synth"].update(train_questions=1, train_cots=2, test_questions=2, test_cots=4)
        c["categories"] = ["law", "math"]
        c["reward_models"] = {}
        c["evaluation"].update(num_runs=2, Ns=[1, 2])

    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    small(cfg)
    (work / "small.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(
        work,
        "--profile",
        "slurm",
        "--configfile",
        "small.yaml",
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--jobs",
        "2",
        "all",
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert len(re.findall(r"submitted with SLURM jobid", log)) == 4  # synth, evaluate, 2 plots
    assert (work / "results" / "plots" / "best_of_n.pdf").stat().st_size > 0
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    audit = subprocess.run(
        [sys.executable, "-m", "rmflow.cli", "audit"], cwd=work, env=env, capture_output=True, text=True
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
