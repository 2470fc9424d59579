"""SIGKILL of a real ``snakemake`` (its whole process group) while it trains and while it scores, then
``snakemake --unlock`` and the same command again: Snakemake's ``rerun-incomplete`` deletes the killed job's
output directory, yet training resumes from its last checkpoint and scoring reuses the finished chunks, both
kept in the work area ``{results}/work``; the adapter and reward files equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tiny import tiny_backbone

from rmflow.checkpoints import STATE_FILE, last_complete_checkpoint
from rmflow.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "workflow", "config", "profiles", "envs")
CATS = ("law", "math")
STEPS = 6
TRAIN_SET = {"max_steps": STEPS, "save_steps": 1, "logging_steps": 1, "effective_batch_size": 4}
CONFIG = {
    "results": "results",
    "categories": list(CATS),
    "synth": {
        "seed": 3,
        "train_questions": 8,
        "train_cots": 2,
        "test_questions": 40,
        "test_cots": 4,
        "critiques_per_cot": 1,
    },  # fmt: skip
    "datasets": {"train": {"source": "synth"}, "test": {"name": "synth", "source": "synth"}},
    "backbones": {"tiny": {"build": tiny_backbone(pretrain_steps=0, vocab_size=600)}},
    "reward_models": {
        "dORM": {
            "task_type": "dORM",
            "strategy": "last",
            "train": {
                "preset": "dORM-tiny",
                "backbone": "tiny",
                "data": "train",
                "per_device_batch_size": 4,
                "set": TRAIN_SET,
            },  # fmt: skip
            "scoring": {"per_device_batch_size": 4, "dtype": "float32"},
        }
    },
    "evaluation": {"num_runs": 2, "seed": 42, "Ns": [1, 2]},
}
TARGET = "results/rewards/dORM/synth"
#: the workflow profile (profiles/default, with rerun-incomplete) applies without --profile
COMMAND = ["--configfile", "reduced.yaml", "--cores", "1", TARGET]


def snakemake_env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(
        HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    env.pop("PYTHONPATH", None)
    return env


def snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=work, env=snakemake_env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, f"snakemake {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def kill_snakemake_when(work: Path, ready: Callable[[], bool], timeout: float = 240) -> None:
    """Start ``snakemake COMMAND`` in its own process group; SIGKILL the whole group once ``ready()``."""
    with open(work / "snakemake.out", "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", *COMMAND], cwd=work, env=snakemake_env(),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"snakemake ended ({proc.poll()}) or timed out before the point to interrupt")
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    while True:  # the jobs (rmflow stages) were in the group too: wait until every one is gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a job outlived its snakemake"
        time.sleep(0.01)


@pytest.mark.fault("killed job")
def test_snakemake_killed_in_training_and_in_scoring_resumes(tmp_path, one_torch_thread):
    work = tmp_path / "wf"
    work.mkdir()
    for name in WORKFLOW_FILES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, work / name)
    (work / "reduced.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    results = work / "results"
    ckpt_work, chunk_work = (
        results / "work" / "train" / "dORM",
        results / "work" / "reward" / "dORM" / "synth",
    )
    checkpoint, rewards = results / "checkpoints" / "dORM", results / TARGET.split("/", 1)[1]

    # 1. killed while training, after the second checkpoint
    kill_snakemake_when(work, lambda: (ckpt_work / "checkpoint-2" / STATE_FILE).exists())
    last = last_complete_checkpoint(ckpt_work)
    assert last is not None and not (checkpoint / "rmflow_train.json").exists()
    step = int(last.rsplit("-", 1)[1])
    assert 2 <= step < STEPS
    snakemake(work, "--unlock")

    # 2. the same command: training resumes from that checkpoint; killed again once law is scored
    kill_snakemake_when(work, lambda: (rewards / "law_reward.json").exists())
    summary = json.loads((checkpoint / "rmflow_train.json").read_text())
    assert summary["resumed_from"] == f"checkpoint-{step}" and summary["global_steps"] == STEPS
    assert [h["step"] for h in summary["loss_history"]] == list(range(step + 1, STEPS + 1))
    assert not ckpt_work.exists()  # removed once the adapter was saved
    assert not (rewards / "math_reward.json").exists()
    assert len(list(chunk_work.glob("law.[0-9]*.json"))) == 1 and not any(chunk_work.glob("math.[0-9]*.json"))
    snakemake(work, "--unlock")

    # 3. the same command: law_reward.json went with the incomplete output, but law's chunk is reused
    snakemake(work, *COMMAND)
    log = (work / "logs" / "reward" / "dORM_synth.log").read_text()
    assert "law: reusing 1 of 1 finished chunks" in log
    assert "law: process 0/1 scores 0 of 1 chunks" in log and "math: process 0/1 scores 1 of 1 chunks" in log
    assert not chunk_work.exists()

    # an uninterrupted run of the same stages on the same inputs gives the same bytes
    ref = tmp_path / "ref"
    sets = [a for k, v in sorted(TRAIN_SET.items()) for a in ("--set", f"{k}={v}")]
    assert main(["train", "--task_type", "dORM", "--config", "dORM-tiny", "--model_id", str(results / "backbones" / "tiny"),
                 "--data_path", str(results / "data" / "synth" / "train"), "--category", ",".join(CATS),
                 "--per_device_batch_size", "4", *sets, "--output_dir", str(ref / "ckpt")]) == 0  # fmt: skip
    name = "adapter_model.safetensors"
    assert (checkpoint / name).read_bytes() == (ref / "ckpt" / name).read_bytes()
    assert main(["reward", "--task_type", "dORM", "--model_id", str(ref / "ckpt"), "--category", ",".join(CATS),
                 "--data_path", str(results / "data" / "synth" / "test"), "--per_device_batch_size", "4",
                 "--dtype", "float32", "--output_dir", str(ref / "rewards")]) == 0  # fmt: skip
    for cat in CATS:
        name = f"{cat}_reward.json"
        assert (rewards / name).read_bytes() == (ref / "rewards" / name).read_bytes(), name
