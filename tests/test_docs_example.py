"""The README's worked example runs as written on docs/example, and its numbers check by hand.

Every ``rmflow ...`` command of a code block in README.md, config/README.md and docs/*.md runs from the
root of a copy of the checkout's docs/ (continuation lines joined), in order, like a user pasting them.
"""

from __future__ import annotations

import csv
import re
import shlex
import shutil
from pathlib import Path

import pytest

from rmflow.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def rmflow_commands() -> list[str]:
    """Every ``rmflow`` command of the documents' shell code blocks, continuation lines joined."""
    found = []
    for doc in DOCS:
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for command in block.replace("\\\n", " ").splitlines():
                command = command.split(" #")[0].strip()
                if command.startswith("rmflow "):
                    found.append(command)
    return found


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """A copy of docs/ after running every documented command in it."""
    work = tmp_path_factory.mktemp("example")
    shutil.copytree(ROOT / "docs", work / "docs")
    commands = rmflow_commands()
    assert any("docs/example" in c for c in commands)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for command in commands:
            assert main(shlex.split(command)[1:]) == 0, command
    return work


def table(path: Path) -> dict[tuple[int, str], dict[str, float]]:
    with open(path, newline="") as fh:
        return {(int(r["N"]), r["Method"]): {k: float(v) for k, v in r.items() if k.endswith(("_mean", "_std"))}
                for r in csv.DictReader(fh)}  # fmt: skip


def test_documented_commands_write_tables_and_figures(example):
    out = example / "results" / "example"
    for name in ("best_of_n.csv", "weighted_vote.csv", "summary.json", "analysis/accuracy.csv"):
        assert (out / name).is_file(), name
    for stem in ("best_of_n", "best_of_n_overall", "best_of_n_legend"):
        for suffix in (".pdf", ".png"):
            assert (out / f"{stem}{suffix}").stat().st_size > 1000
    rows = table(out / "best_of_n.csv")
    assert [m for n, m in rows if n == 1] == ["MV", "dPRM-mine", "my-verifier", "Pass@N"]


def test_example_numbers_check_by_hand(example):
    """At N=4 every CoT of a question is used, so each run picks the same answers.

    law: dPRM-mine's min scores pick B (right) for law-1, cot 0 = C (right) for law-2 although the reward
    file lists its CoTs in reverse, and A (wrong) for law-3: 2 of 3. math: its NaN step counts 0.5, so
    q102's last CoT scores min(0.90, 0.5) and the first one (C, right) wins: 3 of 3. Majority Voting
    agrees (law-3's votes A, A, B, N/A go to the wrong A; q102's "C" and "c" are one answer).
    """
    rows = table(example / "results" / "example" / "best_of_n.csv")
    for method in ("MV", "dPRM-mine"):
        assert rows[4, method]["law_mean"] == pytest.approx(200 / 3)
        assert rows[4, method]["math_mean"] == 100.0
        assert rows[4, method]["Overall_mean"] == pytest.approx(250 / 3)
        assert rows[4, method]["law_std"] == pytest.approx(0.0, abs=1e-9)
    assert rows[4, "Pass@N"]["Overall_mean"] == 100.0
    # N=1: a random CoT per run, the same one for every method
    assert rows[1, "MV"] == rows[1, "dPRM-mine"] == rows[1, "my-verifier"] == rows[1, "Pass@N"]
