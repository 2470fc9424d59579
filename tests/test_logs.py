"""Progress in log files: lines, not carriage-return bars; no library bars or deprecation noise."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from rmflow import logs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "example"


@pytest.fixture
def lines(caplog):
    """The progress lines logged in the test."""
    caplog.set_level(logging.INFO, logger="rmflow.progress")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "rmflow.progress"]


def test_long_loop_logs_one_line_per_tenth(lines):
    for _ in logs.LineProgress(range(300), desc="score", unit="cot"):
        pass
    out = lines()
    assert [line.split(" ")[1] for line in out] == [f"{30 * k}/300" for k in range(1, 11)]
    assert out[0].startswith("score: 30/300 cot (10%), ") and "cot/s" in out[0]
    assert out[-1].startswith("score: 300/300 cot (100%)")


def test_short_loop_logs_every_step_and_postfix(lines):
    with logs.LineProgress(total=3, desc="pre-train", unit="step") as bar:
        for loss in (0.9, 0.5, 0.2):
            bar.set_postfix(loss=loss)
            bar.update()
    assert [line.split(",")[0] for line in lines()] == [
        "pre-train: 1/3 step (33%)",
        "pre-train: 2/3 step (67%)",
        "pre-train: 3/3 step (100%)",
    ]
    assert lines()[-1].endswith("loss=0.2")


def test_unknown_total_logs_powers_of_two_and_the_end(lines):
    bar = logs.LineProgress(desc="generate", unit="batch")
    for _ in range(11):
        bar.update()
    bar.close()
    assert [line.split(" ")[1] for line in lines()] == ["1", "2", "4", "8", "11"]


def test_progress_is_a_bar_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(logs.progress(range(3), desc="x"), logs.LineProgress)
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = logs.progress(range(3), desc="x")
    assert type(bar).__name__ == "tqdm"
    list(bar)
    assert "\r" in sys.stderr.getvalue()


def test_configure_switches_off_library_bars_and_internal_deprecations(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    for name in logs.BAR_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")  # a user's choice stays
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        logs.configure()
        warnings.warn(
            "`is_gradient_checkpointing` is deprecated and will be removed", FutureWarning, stacklevel=1
        )
        warnings.warn("some other deprecation", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["some other deprecation"]
    assert os.environ["TQDM_DISABLE"] == "1" and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1"
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"


@pytest.mark.parametrize("stage", ["evaluate", "analyze"])
def test_stage_log_file_has_lines_and_a_summary(stage, tmp_path):
    """A stage whose stderr is a file, as under Snakemake: no carriage return, progress per category,
    and a last line that sums the run up."""
    argv = [
        stage, "--data_path", str(EXAMPLE / "test"), "--category", "law,math",
        "--reward_dirs", str(EXAMPLE / "rewards" / "dPRM-mine"), "--model_names", "dPRM-mine",
        "--Ns", "1", "2", "--num_runs", "5", "--output_dir", str(tmp_path / "out"),
    ]  # fmt: skip
    if stage == "analyze":
        argv += ["--bootstrap", "20"]
    log_file = tmp_path / "stage.log"
    env = {k: v for k, v in os.environ.items() if k not in logs.BAR_SWITCHES}
    with open(log_file, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "rmflow.cli", *argv], stdout=fh, stderr=fh, env=env)
    text = log_file.read_text()
    assert proc.returncode == 0, text
    assert "\r" not in text
    assert f"{stage}: 1/2 category (50%)" in text and f"{stage}: 2/2 category (100%)" in text
    last = text.strip().splitlines()[-1]
    assert ("evaluated 2 categories" if stage == "evaluate" else "analyzed 2 categories") in last
