"""Every `snakemake` command that README.md and config/README.md show runs as written (dry run).

Commands are taken from the documents' code blocks and inline code, so the docs and the workflow cannot
drift apart; each runs with `-n` added in a copy of the workflow with the stand-in `rmflow`, from the copy's
root as a user would type it (Slurm commands against the stub cluster of tests/slurm_stubs.py). A report
command runs after its targets are made, as the docs say.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurm_stubs  # noqa: E402
from workflow_harness import ROOT, full_run, snakemake  # noqa: E402

DOCS = ("README.md", "config/README.md")


def doc_commands() -> list[tuple[str, str]]:
    """(document, command) for every `snakemake ...` line of a code block or inline code span."""
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
        lines = [line for block in blocks for line in block.splitlines()]
        lines += re.findall(r"`(snakemake [^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for line in lines:
            command = line.split(" #")[0].strip()
            if command.startswith("snakemake ") and "..." not in command:
                found.append((doc, command))
    return sorted(set(found))


def test_docs_show_the_commands_users_type():
    commands = [c for _, c in doc_commands()]
    assert "snakemake --profile slurm results/plots/best_of_n.pdf" in commands
    assert any("--configfile=config/paper.yaml" in c for c in commands)
    # `--configfile FILE TARGET` would read the target as a second config file
    assert not [c for c in commands if re.search(r"--configfile \S+ \w", c)]


@pytest.fixture(scope="module")
def done_workspace(tmp_path_factory):
    """A workspace whose default run is complete (for --report, --touch and friends)."""
    return full_run(tmp_path_factory.mktemp("docs") / "wf")


@pytest.mark.parametrize(("doc", "command"), doc_commands())
def test_doc_command_runs_as_written(doc, command, done_workspace, tmp_path):
    argv = shlex.split(command)
    if "--report" in argv:  # a report collects what its targets made: make them first (stand-in stages)
        targets = argv[argv.index("--report") + 2 :]
        snakemake(done_workspace, "--cores", "2", *targets)
    env = {**os.environ, **slurm_stubs.install(tmp_path / "slurm"), "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *argv[1:], "-n"],
        cwd=done_workspace,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{doc}: {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
