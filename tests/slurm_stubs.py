"""A stand-in Slurm for tests of what jobs receive: stub `sbatch`, `srun`, `sacct`, `squeue` on PATH.

`sbatch` records its arguments and job script (one JSON line per submission in ``sbatch.jsonl``), then
runs the job at once, in the foreground, with the environment Slurm would give it (``SLURM_JOB_ID``,
``SLURM_CPUS_PER_TASK``); `srun` drops its own options and runs the job step; `sacct` and `squeue` report
every job as finished with its exit status; `sinfo` lists a default partition `cpuq` and `gpuq`; `sacctmgr` knows
the account `rmproj`. So the real Snakemake CLI with the real executor plugin
submits the real jobs, and a test reads both the submission lines and what each job saw.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

SBATCH = r"""
import fcntl, json, os, subprocess, sys
from pathlib import Path

state = Path(os.environ["STUB_SLURM_DIR"])
args = sys.argv[1:]
script = sys.stdin.read() if args and args[-1] == "/dev/stdin" else None
wrap = next((a.split("=", 1)[1] for a in args if a.startswith("--wrap=")), None)
with open(state / "next_id.lock", "w") as lock:  # concurrent submissions: one job id each
    fcntl.flock(lock, fcntl.LOCK_EX)
    counter = state / "next_id"
    jobid = int(counter.read_text()) if counter.exists() else 1
    counter.write_text(str(jobid + 1))
    with open(state / "sbatch.jsonl", "a") as fh:
        fh.write(json.dumps({"jobid": jobid, "argv": args, "script": script or wrap}) + "\n")
opts = dict(a.split("=", 1) for a in args if a.startswith("--") and "=" in a)
env = {**os.environ, "SLURM_JOB_ID": str(jobid), "SLURM_CPUS_PER_TASK": opts.get("--cpus-per-task", "1")}
with open(state / f"job{jobid}.log", "w") as log:
    rc = subprocess.run(["sh", "-c", script or wrap], env=env, stdout=log, stderr=log).returncode
with open(state / "jobs", "a") as fh:
    fh.write(f"{jobid}|{'COMPLETED' if rc == 0 else 'FAILED'}\n")
print(jobid)
"""

SRUN = r"""
import os, sys
args = sys.argv[1:]
while args and args[0].startswith("-"):
    args.pop(0)
os.execvp(args[0], args)
"""

STATUS = r"""
import os, sys
from pathlib import Path

jobs = Path(os.environ["STUB_SLURM_DIR"]) / "jobs"
lines = jobs.read_text().splitlines() if jobs.exists() else []
squeue = os.path.basename(sys.argv[0]) == "squeue"
for line in lines:
    jobid, state = line.split("|")
    print(f"{jobid} {state}" if squeue else f"{jobid}|{state}")
"""

SINFO = r"""
print("PARTITION")
print("cpuq*")
print("gpuq")
"""

ACCOUNTS = r"""
print("rmproj")
"""

#: flags that make the plugin poll at once instead of after its production delays
FAST = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1")


def install(state: Path) -> dict[str, str]:
    """Write the stubs into ``state/bin``; return the environment that puts them first on PATH."""
    bin_dir = state / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in {
        "sbatch": SBATCH,
        "srun": SRUN,
        "sacct": STATUS,
        "squeue": STATUS,
        "sinfo": SINFO,
        "sacctmgr": ACCOUNTS,
    }.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"STUB_SLURM_DIR": str(state), "PATH": path}


def submissions(state: Path) -> list[dict]:
    """Every submission: ``{jobid, argv, script, rule, wildcards, line}`` (``line``: the sbatch call)."""
    out = []
    path = state / "sbatch.jsonl"
    for text in path.read_text().splitlines() if path.exists() else []:
        sub = json.loads(text)
        argv = sub["argv"]
        comment = argv[argv.index("--comment") + 1] if "--comment" in argv else ""
        sub["line"] = shlex.join(["sbatch", *(a for a in sub["argv"] if not a.startswith("--wrap="))])
        sub["rule"] = comment
        out.append(sub)
    return out
