"""Interrupted training: a real ``rmflow train --task_type dORM`` killed with SIGKILL after a checkpoint
resumes from it and ends with the same adapter, byte for byte, as an uninterrupted run; a checkpoint that a
kill cut short while saving (no ``trainer_state.json``) is skipped in favour of the last complete one; a work
directory holding checkpoints of another run (other settings, data or backbone) is started over."""

from __future__ import annotations

import contextlib
import json
import shutil

import pytest

from rmflow.checkpoints import STATE_FILE, last_complete_checkpoint
from rmflow.cli import main
from rmflow.errors import UserError
from rmflow.training_resume import FINGERPRINT_FILE, clear_work_dir, prepare_work_dir

pytestmark = pytest.mark.slow

STEPS = 6


@pytest.mark.fault("killed job")
def test_sigkill_during_dorm_training_then_resume(tiny_world, tmp_path, start_rmflow, sigkill_when, run_rmflow,
                                                  one_torch_thread):  # fmt: skip
    argv = ["train", "--task_type", "dORM", "--config", "dORM-tiny", "--model_id", tiny_world / "backbone",
            "--data_path", tiny_world / "synth" / "train", "--category", "law,math", "--per_device_batch_size", "4",
            "--max_steps", str(STEPS), "--save_steps", "1", "--set", "logging_steps=1",
            "--set", "gradient_checkpointing=false"]  # fmt: skip
    ref, out = tmp_path / "uninterrupted", tmp_path / "killed"
    assert main([*map(str, argv), "--output_dir", str(ref)]) == 0
    victim = start_rmflow(*argv, "--output_dir", out, log=tmp_path / "victim.log")
    ckpts = out / "checkpoints"
    sigkill_when(victim, lambda: (ckpts / "checkpoint-2" / STATE_FILE).exists())
    last = last_complete_checkpoint(ckpts)
    assert last is not None and not (out / "rmflow_train.json").exists()
    step = int(last.rsplit("-", 1)[1])
    assert 2 <= step < STEPS
    # the newest checkpoint as a kill while saving leaves it: weights written, trainer state not yet
    partial = ckpts / f"checkpoint-{step + 1}"
    if not partial.exists():
        shutil.copytree(last, partial, ignore=shutil.ignore_patterns(STATE_FILE))
    (partial / STATE_FILE).unlink(missing_ok=True)

    resumed = run_rmflow(*argv, "--output_dir", out)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((out / "rmflow_train.json").read_text())
    reference = json.loads((ref / "rmflow_train.json").read_text())
    assert summary["resumed_from"] == f"checkpoint-{step}" and summary["global_steps"] == STEPS
    assert [h["step"] for h in summary["loss_history"]] == list(range(step + 1, STEPS + 1))
    assert summary["loss_history"] == reference["loss_history"][step:]  # the same losses as uninterrupted
    assert (out / "adapter_model.safetensors").read_bytes() == (
        ref / "adapter_model.safetensors"
    ).read_bytes()
    assert not ckpts.exists()


@pytest.mark.fault("killed job")
def test_gorm_training_skips_a_checkpoint_cut_short_while_saving(tiny_world, tmp_path, one_torch_thread,
                                                                 monkeypatch):  # fmt: skip
    import rmflow.training as training

    out, work = tmp_path / "gorm", tmp_path / "work"
    argv = ["train", "--task_type", "gORM", "--config", "gORM-tiny", "--model_id", str(tiny_world / "backbone"),
            "--data_path", str(tiny_world / "synth" / "train_gORM"), "--output_dir", str(out), "--category", "law",
            "--per_device_batch_size", "2", "--set", "effective_batch_size=2", "--save_steps", "1",
            "--max_steps", "3", "--work_dir", str(work)]  # fmt: skip

    @contextlib.contextmanager
    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed after the last step, before the adapter is saved")
        yield

    monkeypatch.setattr(training, "staged_outputs", killed)
    with pytest.raises(KeyboardInterrupt):
        main(argv)
    monkeypatch.undo()
    assert last_complete_checkpoint(work) == str(work / "checkpoint-3")
    (work / "checkpoint-3" / STATE_FILE).write_text('{"global_step": 3, "log_hist')  # killed mid-write
    assert main(argv) == 0
    summary = json.loads((out / "rmflow_train.json").read_text())
    assert summary["resumed_from"] == "checkpoint-2" and summary["global_steps"] == 3
    assert not work.exists() and not list(out.glob("checkpoint-*"))


@pytest.mark.fault("stale work reused")
def test_work_dir_of_another_run_starts_over(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"

    def checkpoint(step: int) -> None:
        (work / f"checkpoint-{step}").mkdir()
        (work / f"checkpoint-{step}" / STATE_FILE).write_text("{}")

    assert prepare_work_dir(work, out, {"lr": 1}) is None  # nothing yet
    checkpoint(1)
    checkpoint(2)
    assert prepare_work_dir(work, out, {"lr": 1}) == str(work / "checkpoint-2")  # the same run: resume
    assert prepare_work_dir(work, out, {"lr": 1}, resume=False) is None and not any(work.glob("checkpoint-*"))
    checkpoint(1)
    assert prepare_work_dir(work, out, {"lr": 2}) is None  # other settings: the old checkpoint is dropped
    assert not (work / "checkpoint-1").exists() and (work / FINGERPRINT_FILE).exists()
    checkpoint(1)  # checkpoints without any recorded fingerprint are not trusted either
    (work / FINGERPRINT_FILE).unlink()
    assert prepare_work_dir(work, out, {"lr": 2}) is None and not (work / "checkpoint-1").exists()
    (work / "README.md").write_text("a trainer's model card")
    clear_work_dir(work, out)
    assert not work.exists()
    # a directory of something else is refused (it would be deleted at the end), unless it is the output
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds other files"):
        prepare_work_dir(tmp_path, out, {"lr": 1})
    prepare_work_dir(tmp_path, tmp_path, {"lr": 1})
    clear_work_dir(tmp_path, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me" and not (tmp_path / FINGERPRINT_FILE).exists()


@pytest.mark.fault("killed job")
def test_last_complete_checkpoint(tmp_path):
    assert last_complete_checkpoint(tmp_path / "none") is None
    for step, state in [(2, "{}"), (10, "{}"), (11, '{"trunc'), (12, None)]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / STATE_FILE).write_text(state)
    (tmp_path / "checkpoint-99.tmp").mkdir()
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")  # numeric, not lexical order
