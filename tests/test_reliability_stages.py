"""Bad input to the model stages (reward, train, generate, preprocess) on a tiny real backbone: one clear
error naming file, record and field (or preset key), exit status 2, no traceback, earlier outputs untouched.

Bad data sits in the second category (``math``); ``law`` has an earlier output, so the reward stages
also show that a finished category is skipped, not rewritten.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rmflow.cli import main

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    fault: str
    name: str
    stage: str  # reward-dORM, reward-gORM, train-dORM, train-gORM, generate, preprocess
    mutate: Callable[[Path], None]  # edits the copied world
    extra: tuple[str, ...]  # flags appended to the stage's valid command
    message: str

    @property
    def id(self) -> str:
        return f"{self.fault}:{self.stage}:{self.name}"


def lines(rel: str, fn: Callable[[list[dict]], None]) -> Callable[[Path], None]:
    """Mutation of the JSONL file ``rel`` of the world, record by record."""

    def mutate(w: Path) -> None:
        path = w / rel
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        fn(recs)
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))

    return mutate


def raw(rel: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def mutate(w: Path) -> None:
        (w / rel).write_bytes(fn((w / rel).read_bytes()))

    return mutate


def preset_file(text: bytes) -> Callable[[Path], None]:
    return lambda w: (w / "preset.yaml").write_bytes(text)


def garbage_model(w: Path) -> None:
    (w / "model").mkdir()
    (w / "model" / "config.json").write_text('{"hidden_size": 3}')


def none(w: Path) -> None:
    return None


TEST, TRAIN, GORM = "synth/test/math.jsonl", "synth/train/math.jsonl", "synth/train_gORM/math.jsonl"
GEN = "generated/math.jsonl"  # teacher output: train records + critique
SAMPLING = ("--n_samples", "1", "--max_tokens", "2", "--backend", "transformers")
CASES = [
    # reward (both families): test set faults
    *(c for task, extra in (("dORM", ()), ("gORM", SAMPLING)) for c in [
        Case("truncated JSON", "test line", f"reward-{task}", raw(TEST, lambda b: b[:-40]), extra,
             r"synth/test/math\.jsonl: record at line 40: invalid JSON"),
        Case("non-UTF-8", "test", f"reward-{task}", raw(TEST, lambda b: b[:9] + b"\xff" + b[9:]), extra,
             r"synth/test/math\.jsonl: record at byte 9: not valid UTF-8"),
        Case("wrong type", "cots", f"reward-{task}", lines(TEST, lambda r: r[3]["cots"][2].append(None)), extra,
             r"math\.jsonl: record 3 \(q_id \d+\), field 'cots': .* but cots\[2\]\[\d+\] is NoneType None"),
        Case("missing field", "question", f"reward-{task}", lines(TEST, lambda r: r[5].pop("question")), extra,
             r"math\.jsonl: record 5 \(q_id \d+\), field 'question': missing"),
        Case("duplicate q_id", "test", f"reward-{task}", lines(TEST, lambda r: r[1].update(q_id=r[0]["q_id"])),
             extra, r"math\.jsonl: record 1, field 'q_id': duplicate q_id \d+"),
        Case("empty category", "test", f"reward-{task}", raw(TEST, lambda b: b""), extra,
             r"synth/test/math\.jsonl: category math has no questions"),
        Case("unknown category", "flag", f"reward-{task}", none, (*extra, "--category", "law,chemistry"),
             r"test: no file for category 'chemistry'"),
        Case("bad model", "unrecognised config", f"reward-{task}", garbage_model, (*extra, "--model_id", "model"),
             r"model.*cannot load"),
    ]),
    Case("bad flag", "chunk size", "reward-dORM", none, ("--chunk_questions", "0"),
         r"--chunk_questions must be at least 1"),
    # training data and presets
    *(c for task, data in (("dORM", TRAIN), ("gORM", GORM)) for c in [
        Case("wrong type", "labels", f"train-{task}", lines(data, lambda r: r[2].update(labels="+")), (),
             rf"{data.replace('.', chr(92) + '.')}: record 2 \(q_id \d+\), field 'labels': expected .*, got str '\+'"),
        Case("truncated JSON", "data", f"train-{task}", raw(data, lambda b: b[: len(b) // 2]), (),
             r"math\.jsonl: record at line \d+: invalid JSON"),
        Case("empty category", "data", f"train-{task}", raw(data, lambda b: b"\n\n"), (),
             r"math\.jsonl: category math has no records"),
        Case("preset", "wrong type", f"train-{task}", none, ("--set", "lora_r=sixteen"),
             rf"{task}-tiny\.yaml \(with --set lora_r\): key 'lora_r': expected a positive integer, got 'sixteen'"),
        Case("preset", "not a number", f"train-{task}", none, ("--set", "learning_rate=fast"),
             r"key 'learning_rate': expected a positive number, got 'fast'"),
        Case("preset", "scheduler", f"train-{task}", none, ("--set", "lr_scheduler_type=cosinus"),
             r"key 'lr_scheduler_type': expected one of linear, cosine, .*, got 'cosinus'"),
        Case("preset", "out of range", f"train-{task}", none, ("--set", "lora_dropout=1.5"),
             r"key 'lora_dropout': expected a number in \[0, 1\), got 1\.5"),
        Case("preset", "unknown key", f"train-{task}", none, ("--set", "lora_rank=8"),
             r"override of unknown key 'lora_rank'"),
        Case("preset", "invalid YAML", f"train-{task}", preset_file(b"lora_r: [16\n"), ("--config", "preset.yaml"),
             r"preset\.yaml: invalid YAML"),
        Case("preset", "non-UTF-8", f"train-{task}", preset_file(b"lora_r: \xff16\n"), ("--config", "preset.yaml"),
             r"preset\.yaml: not valid UTF-8 \(at byte 8\)"),
        Case("preset", "not a mapping", f"train-{task}", preset_file(b"- lora_r\n"), ("--config", "preset.yaml"),
             r"preset\.yaml: expected a mapping of hyper-parameters"),
        Case("preset", "other task", f"train-{task}", none, ("--config", f"{task.replace('ORM', 'PRM')}-tiny"),
             rf"is for {task.replace('ORM', 'PRM')}, not"),
        Case("preset", "no such preset", f"train-{task}", none, ("--config", "dORM-1T"),
             r"preset 'dORM-1T': no such file"),
        Case("bad model", "unrecognised config", f"train-{task}", garbage_model, ("--model_id", "model"),
             r"model.*cannot load"),
    ]),
    Case("preset", "indivisible batch", "train-dORM", none, ("--set", "effective_batch_size=6"),
         r"effective batch 6 is not a multiple of per-device batch 4"),
    # teacher generation and preprocess
    Case("wrong type", "labels", "generate", lines(TRAIN, lambda r: r[0].update(labels=[1, 2])), (),
         r"train/math\.jsonl: record 0 \(q_id \d+\), field 'labels': .* but labels\[1\] is int 2"),
    Case("non-UTF-8", "train", "generate", raw(TRAIN, lambda b: b"\xfe" + b), (),
         r"train/math\.jsonl: record at byte 0: not valid UTF-8"),
    Case("empty category", "train", "generate", raw(TRAIN, lambda b: b""), (),
         r"train/math\.jsonl: category math has no records"),
    Case("missing field", "critique", "preprocess", lines(GEN, lambda r: r[4].pop("critique")), (),
         r"generated/math\.jsonl: record 4 \(q_id \d+\), field 'critique': missing"),
    Case("wrong type", "cot", "preprocess", lines(GEN, lambda r: r[1].update(cot="one step")), (),
         r"generated/math\.jsonl: record 1 \(q_id \d+\), field 'cot': expected a list of step strings"),
    Case("truncated JSON", "generated", "preprocess", raw(GEN, lambda b: b[:-2]), (),
         r"generated/math\.jsonl: record at line \d+: invalid JSON"),
    Case("empty category", "generated", "preprocess", raw(GEN, lambda b: b""), (),
         r"generated/math\.jsonl: category math has no records"),
    Case("bad model", "tokenizer", "preprocess", garbage_model, ("--model_id", "model"), r"model: cannot load tokenizer"),
]  # fmt: skip


def command(stage: str, w: Path) -> list[str]:
    """A valid command of ``stage`` on the world ``w`` (cwd), writing to ``out``."""
    common = ["--model_id", "backbone", "--output_dir", "out", "--category", "law,math"]
    if stage.startswith("reward-"):
        task = stage.split("-")[1]
        return ["reward", "--task_type", task, "--data_path", "synth/test", *common, "--dtype", "float32"]
    if stage.startswith("train-"):
        task = stage.split("-")[1]
        data = "synth/train" if task[0] == "d" else f"synth/train_{task}"
        return ["train", "--task_type", task, "--config", f"{task}-tiny", "--data_path", data, *common,
                "--per_device_batch_size", "4", "--max_steps", "1"]  # fmt: skip
    if stage == "generate":
        return ["generate", "--task_type", "gORM", "--data_path", "synth/train", *common, "--n", "1",
                "--max_tokens", "2", "--backend", "transformers"]  # fmt: skip
    return ["preprocess", "--task_type", "gORM", "--data_path", "generated", *common]


#: earlier outputs planted before each failing run
EARLIER = {
    "reward": ["law_reward.json", "nan_counts.json", "reward_meta.json"],
    "train": ["adapter_model.safetensors", "adapter_config.json", "rmflow_train.json"],
    "generate": ["law.jsonl", "generate_stats.json"],
    "preprocess": ["law.jsonl", "math.jsonl", "stats.json"],
}


@pytest.fixture(scope="module")
def stage_world(tiny_world, tmp_path_factory) -> Path:
    """The tiny world plus a ``generated/`` teacher-output set (train records with synthetic critiques)."""
    from rmflow.io import read_records
    from rmflow.synth import generated_record

    root = tmp_path_factory.mktemp("stage_world")
    shutil.copytree(tiny_world / "synth", root / "synth", ignore=shutil.ignore_patterns("train_gPRM"))
    (root / "backbone").symlink_to(tiny_world / "backbone")
    (root / "generated").mkdir()
    for cat in ("law", "math"):
        train = read_records(root / "synth" / "train" / f"{cat}.jsonl")
        recs = [generated_record(r, "gORM", 1 if i % 2 else -1) for i, r in enumerate(train[:8])]
        (root / "generated" / f"{cat}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_to_model_stages(case: Case, stage_world, tmp_path, monkeypatch, capsys, tree_digest,
                                   one_torch_thread, assert_one_error):  # fmt: skip
    w = tmp_path / "w"
    shutil.copytree(stage_world, w, symlinks=True)
    monkeypatch.chdir(w)
    case.mutate(w)
    family = case.stage.split("-")[0]
    for rel in EARLIER[family]:
        (w / "out").mkdir(exist_ok=True)
        (w / "out" / rel).write_text(f"earlier {rel}\n")
    before = tree_digest(w / "out")
    code = main([*command(case.stage, w), *case.extra])  # any other exception escapes and fails the test
    err = capsys.readouterr().err
    assert code == 2, err
    assert_one_error(err, command(case.stage, w)[0], case.message)
    # earlier outputs untouched; resumable work files (.chunks/) may have been started
    after = {k: v for k, v in tree_digest(w / "out").items() if not k.startswith(".chunks/")}
    assert after == before


def test_preset_schedulers_are_the_transformers_ones():
    from transformers.trainer_utils import SchedulerType

    from rmflow.presets import SCHEDULERS

    assert sorted(SCHEDULERS) == sorted(s.value for s in SchedulerType)


def test_every_shipped_preset_passes_its_checks():
    from rmflow.presets import PRESET_DIR, load_preset

    presets = sorted(PRESET_DIR.glob("*.yaml"))
    assert len(presets) >= 16
    for path in presets:
        preset = load_preset(str(path))
        assert preset["task_type"] == path.stem.split("-")[0]


@pytest.mark.fault("traceback from the real command")
def test_real_train_command_rejects_a_bad_preset_before_loading_a_model(stage_world, run_rmflow, tmp_path):
    argv = command("train-dORM", stage_world)
    proc = run_rmflow(*argv, "--set", "warmup_ratio=lots", "--output_dir", tmp_path / "out", cwd=stage_world)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "key 'warmup_ratio': expected a number in [0, 1], got 'lots'" in proc.stderr
    assert "Loading weights" not in proc.stderr  # refused before any model was loaded
