"""The Slurm profile: the sbatch lines it produces per rule, and (opt-in) a real single-node cluster run.

`test_sbatch_lines` always runs: it takes each job's resources from a dry run under profiles/slurm and
builds the sbatch call with snakemake-executor-plugin-slurm's own functions.

`test_slurm_cluster_run` needs RMFLOW_SLURM_TEST=1, root, and Debian's slurm-wlm and munge
(`apt-get install -y slurm-wlm munge`): it starts munged, slurmctld and slurmd on this host
(proctrack/linuxproc, task/none, no cgroups, no accounting, long MinJobAge so that squeue reports
finished jobs), runs a small target of the real pipeline through `--profile profiles/slurm`, audits the
result and stops the daemons it started. Remove the packages afterwards on a machine without a cluster:
with the Slurm client installed but no controller reachable, the plugin probes `scontrol show config`
whenever Snakemake builds its command line, which costs ~9 s per snakemake invocation.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import ROOT, make_workspace, snakemake, variant  # noqa: E402

SLURM_ENV = {
    "RMFLOW_SLURM_ACCOUNT": "rmproj",
    "RMFLOW_SLURM_PARTITION": "cpuq",
    "RMFLOW_SLURM_GPU_PARTITION": "gpuq",
    "RMFLOW_GPU_MODEL": "h100",
}


def _value(text: str):
    text = text.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def job_resources(out: str) -> dict[str, dict]:
    """rule[wildcards] -> resources, from a dry run's job listing."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(local)?rule (\w+):", block)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if not m or not res or m.group(2) == "all":
            continue
        wc = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        name = f"{m.group(2)}[{wc.group(1)}]" if wc else m.group(2)
        pairs = (item.split("=", 1) for item in res.group(1).split(", "))
        jobs[name] = {"local": bool(m.group(1)), **{k: _value(v) for k, v in pairs}}
    return jobs


def sbatch_line(name: str, res: dict) -> str:
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    resources = SimpleNamespace(**res)
    resources.get = lambda key, default=None: res.get(key, default)
    job = SimpleNamespace(resources=resources, threads=res.get("_cores", 1), name=name)
    params = {
        "run_uuid": "RUN",
        "slurm_logfile": f"slurm_logs/{name}.log",
        "comment_str": f"rule_{name}",
        "account": f"-A {res['slurm_account']}",  # what the executor passes after validating it
        "partition": f"-p {res['slurm_partition']}",
        "workdir": "/work",
    }
    return get_submit_command(job, params) + set_gres_string(job)


def test_sbatch_lines(tmp_path, monkeypatch):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    for key, value in SLURM_ENV.items():
        monkeypatch.setenv(key, value)
    work = make_workspace(tmp_path)

    def with_critiques(c):
        c["reward_models"]["gORM"]["train"]["data"] = "critiques"

    cfg = variant(work, "crit", with_critiques)
    out = snakemake(work, "-n", "--profile", "profiles/slurm", "--configfile", cfg).stdout
    jobs = job_resources(out)
    lines = {name: sbatch_line(name, res) for name, res in jobs.items() if not res["local"]}
    assert set(lines) >= {
        "train_rm[model=gORM]",
        "reward[model=gORM, test=synth]",
        "generate_critiques[task=gORM]",
    }

    train = lines["train_rm[model=dPRM]"]
    for flag in ("-A rmproj", "-p gpuq", "-t 1440", "--mem 256000", "--cpus-per-task=16", "--gpus=h100:4"):
        assert flag in train, (flag, train)
    reward = lines["reward[model=dORM, test=synth]"]
    for flag in ("-p gpuq", "-t 720", "--mem 128000", "--cpus-per-task=8", "--gpus=h100:1"):
        assert flag in reward, (flag, reward)
    assert "--gpus=h100:4" in lines["generate_critiques[task=gORM]"]
    # CPU rules: the CPU partition, the config's own sizes, no GPUs
    backbone = lines["init_backbone[backbone=tiny]"]
    for flag in ("-A rmproj", "-p cpuq", "-t 60", "--mem 4000", "--cpus-per-task=1", "--ntasks=1"):
        assert flag in backbone, (flag, backbone)
    for name in ("synth", "evaluate", "plot[table=best_of_n]", "preprocess_critiques[task=gORM]"):
        assert "--gpus" not in lines[name] and "-p cpuq" in lines[name]
    # hub exports would run on the login node
    assert all(res["local"] for name, res in jobs.items() if name.startswith("export"))


def test_gpu_partition_falls_back_to_partition(tmp_path, monkeypatch):
    for key in SLURM_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RMFLOW_SLURM_PARTITION", "shared")
    work = make_workspace(tmp_path)
    jobs = job_resources(snakemake(work, "-n", "--profile", "profiles/slurm").stdout)
    assert jobs["train_rm[model=gORM]"]["slurm_partition"] == "shared"
    assert jobs["train_rm[model=gORM]"]["gpu_model"] == ""
    assert "--gpus=4" in sbatch_line("train_rm", jobs["train_rm[model=gORM]"])


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
    """A small real target (synth -> evaluate -> plots) submitted through profiles/slurm."""
    work = tmp_path / "wf"
    work.mkdir()
    for name in ("Snakefile", "rules", "workflow", "config", "profiles", "envs", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)

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
        "profiles/slurm",
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
