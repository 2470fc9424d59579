"""Shared fixtures: the real ``rmflow`` command in a subprocess, a digest of an output directory, and a
tiny synthetic world (data + an untrained backbone) for tests that run stages on a real model."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tiny import tiny_backbone, torch_threads

ROOT = Path(__file__).resolve().parents[1]
#: the installed console script (``rmflow``), else the module
_SCRIPT = Path(sys.executable).with_name("rmflow")
RMFLOW = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "rmflow.cli"]
#: sizes of the tiny world: enough questions that a scoring run has many chunks to interrupt
WORLD_CATEGORIES = "law,math"
WORLD_SYNTH = dict(train_questions=20, train_cots=2, test_questions=40, test_cots=4)
WORLD_BACKBONE = tiny_backbone(pretrain_steps=0, vocab_size=600)


def subprocess_env() -> dict[str, str]:
    """Environment of stage subprocesses: one thread (the same float results as in-process runs), offline."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def digest(directory: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``directory`` (hidden and temporary files too)."""
    directory = Path(directory)
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def run_rmflow() -> Callable[..., subprocess.CompletedProcess]:
    """``run_rmflow(*args, timeout=...)``: the real CLI in a subprocess, output captured as text."""

    def run(*args: object, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*RMFLOW, *map(str, args)],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            timeout=timeout,
            cwd=cwd,
        )

    return run


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """``synth/{train,train_gORM,train_gPRM,test}/{law,math}.jsonl`` and an untrained ``backbone/``."""
    pytest.importorskip("torch")
    from rmflow.backbone import build_backbone
    from rmflow.synth import synthesize

    root = tmp_path_factory.mktemp("tiny_world")
    synthesize(root / "synth", seed=3, category=WORLD_CATEGORIES, **WORLD_SYNTH)
    build_backbone(root / "backbone", root / "synth", **WORLD_BACKBONE)
    return root


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest (and like the one-thread subprocesses) on one thread."""
    pytest.importorskip("torch")
    with torch_threads(1):
        yield


def one_error(err: str, command: str, pattern: str) -> None:
    """``err`` holds one ``error:`` line, from ``rmflow COMMAND``, matching ``pattern``, and no traceback."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"rmflow {command}: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err


@pytest.fixture(scope="session")
def assert_one_error() -> Callable[[str, str, str], None]:
    """:func:`one_error` as a fixture."""
    return one_error


@pytest.fixture(scope="session")
def tree_digest() -> Callable[[Path], dict[str, str]]:
    """:func:`digest` as a fixture."""
    return digest


@pytest.fixture(scope="session")
def start_rmflow() -> Callable[..., subprocess.Popen]:
    """``start_rmflow(*args, log=PATH)``: the real CLI started in the background, stdout+stderr to ``log``."""

    def start(*args: object, log: Path, cwd: Path | None = None) -> subprocess.Popen:
        fh = open(log, "w")  # noqa: SIM115 (the child owns it; closed with the process)
        try:
            return subprocess.Popen(
                [*RMFLOW, *map(str, args)], stdout=fh, stderr=subprocess.STDOUT, env=subprocess_env(), cwd=cwd
            )
        finally:
            fh.close()

    return start


@pytest.fixture(scope="session")
def sigkill_when() -> Callable[..., None]:
    """``sigkill_when(proc, ready, timeout)``: poll ``ready()`` every 2 ms; SIGKILL ``proc`` once it is true.

    Fails if the process ends first (nothing left to interrupt) or ``ready`` never holds.
    """

    def kill(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"the job ended (status {proc.returncode}) before it could be interrupted")
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the job never reached the point to interrupt")
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL

    return kill


@pytest.fixture
def kill_and_resume(
    tmp_path, start_rmflow, sigkill_when, run_rmflow, one_torch_thread
) -> Callable[..., tuple]:
    """``kill_and_resume(argv, category)`` for chunked stages: run ``argv`` uninterrupted in-process into
    ``ref``, and as the real command into ``out``, SIGKILLed once a chunk of ``category`` is saved and then
    restarted. Returns ``(ref, out, indexes of the chunks saved at the kill, log of the restart)``."""
    from rmflow.cli import main

    def run(argv: list[object], category: str) -> tuple[Path, Path, list[int], str]:
        ref, out = tmp_path / "uninterrupted", tmp_path / "killed"
        assert main([*map(str, argv), "--output_dir", str(ref)]) == 0
        victim = start_rmflow(*argv, "--output_dir", out, log=tmp_path / "victim.log")
        chunks = out / ".chunks"
        sigkill_when(victim, lambda: any(chunks.glob(f"{category}.[0-9]*.json")))
        done = sorted(int(p.name.split(".")[1]) for p in chunks.glob(f"{category}.[0-9]*.json"))
        resumed = run_rmflow(*argv, "--output_dir", out)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        return ref, out, done, resumed.stderr

    return run


def sampled_chunks(log: str, category: str) -> list[int]:
    """Chunk indexes (0-based) a sampling run computed, from the runner's ``{cat}: chunk i/n`` log lines."""
    pattern = rf"INFO rmflow\.generative\.runner: {re.escape(category)}: chunk (\d+)/\d+"
    return [int(i) - 1 for i in re.findall(pattern, log)]


@pytest.fixture(scope="session")
def chunks_sampled() -> Callable[[str, str], list[int]]:
    """:func:`sampled_chunks` as a fixture."""
    return sampled_chunks
