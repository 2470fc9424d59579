"""Sampling stages driven by a scripted backend: reward files, NaN counts, resume, skipping, engines."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from rmflow.cli import build_parser
from rmflow.data import load_records
from rmflow.errors import UserError
from rmflow.generative.generate import GenerateStage
from rmflow.generative.reward import RewardStage
from rmflow.generative.runner import engine_groups, execute, run_engines
from rmflow.generative.sampling import Sample, SamplingSpec
from rmflow.io import write_jsonl
from rmflow.model_loading import last_token_id
from rmflow.synth import make_test_records, make_train_records

ORM_YES = "Verification: Is the answer correct (Yes/No)? Yes"
ORM_NO = "Verification: Is the answer correct (Yes/No)? No"


@pytest.fixture(scope="module")
def tokenizer():
    from rmflow.backbone import train_tokenizer

    return train_tokenizer(["A question with steps. Yes No"] * 5, 300)


class ScriptedBackend:
    """Sample j of every prompt: j%3==0 verdict Yes (P=0.8), 1 verdict No (only No in top-k), 2 no verdict."""

    def __init__(self, tokenizer, fail_on_call: int | None = None):
        self.tokenizer = tokenizer
        self.yes, self.no = last_token_id(tokenizer, " Yes"), last_token_id(tokenizer, " No")
        self.calls: list[int] = []
        self.fail_on_call = fail_on_call

    def generate(self, prompts, spec: SamplingSpec):
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("engine died")
        self.calls.append(len(prompts))
        assert all(p.endswith("<｜Assistant｜><think>\nLet's verify step by step:") for p in prompts)
        out = []
        for _ in prompts:
            samples = []
            for j in range(spec.n):
                if j % 3 == 0:
                    lp = {self.yes: math.log(0.8), self.no: math.log(0.2)}
                    samples.append(Sample(" ok " + ORM_YES, [1, self.yes], [lp], "stop"))
                elif j % 3 == 1:
                    samples.append(
                        Sample(" bad " + ORM_NO, [1, self.no], [{self.no: -0.01, 4: -5.0}], "stop")
                    )
                else:
                    samples.append(Sample(" rambling", [1, 2, 3], [{3: -0.1}], "length"))
            out.append(samples)
        return out

    def close(self):
        pass


def _stage(cls, backend, argv):
    class Stage(cls):
        def backend(self, name, device=None):
            return backend

    return Stage(build_parser(argv[0]).parse_args(argv))


@pytest.fixture
def test_dir(tmp_path) -> Path:
    d = tmp_path / "test"
    for cat in ("law", "math"):
        write_jsonl(d / f"{cat}.jsonl", make_test_records(5, cat, 3, 2))
    return d


def reward_argv(test_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "reward",
        "--task_type",
        "gORM",
        "--model_id",
        "unused",
        "--data_path",
        str(test_dir),
        "--output_dir",
        str(out),
        "--category",
        "law,math",
        "--backend",
        "transformers",
        "--n_samples",
        "4",
        *extra,
    ]


def test_reward_files_and_nan_counts(tokenizer, test_dir, tmp_path):
    out = tmp_path / "rew"
    backend = ScriptedBackend(tokenizer)
    stage = _stage(RewardStage, backend, reward_argv(test_dir, out))
    execute(stage, ["law", "math"])
    for cat in ("law", "math"):
        rewards = load_records(out, cat, "reward")
        test = load_records(test_dir, cat, "test")
        assert [r["q_id"] for r in rewards] == [t["q_id"] for t in test]
        for r, t in zip(rewards, test, strict=True):
            assert r["cot_ids"] == t["cot_ids"] and len(r["rewards"]) == len(t["cots"])
            for per_cot in r["rewards"]:
                assert per_cot[:2] == [pytest.approx(0.8), 0.0]
                assert math.isnan(per_cot[2]) and per_cot[3] == pytest.approx(0.8)
        assert "NaN" in (out / f"{cat}_reward.json").read_text()
    counts = json.loads((out / "nan_counts.json").read_text())
    assert counts["law"] == {
        "samples": 24,
        "nan": 6,
        "nan_rate": 0.25,
        "no_verdict": 6,
        "verdict_token_missing": 0,
        "mean_generated_tokens": pytest.approx(9 / 4),
    }
    meta = json.loads((out / "reward_meta.json").read_text())
    assert meta["backend"] == "transformers" and meta["sampling"]["n"] == 4
    assert not (out / ".chunks").exists()
    # existing reward files are not recomputed
    calls = len(backend.calls)
    execute(stage, ["law", "math"])
    assert len(backend.calls) == calls


def test_reward_resumes_after_a_failure(tokenizer, test_dir, tmp_path):
    clean = tmp_path / "clean"
    execute(
        _stage(RewardStage, ScriptedBackend(tokenizer), reward_argv(test_dir, clean, "--chunk_size", "2")),
        ["law"],
    )
    out = tmp_path / "resumed"
    argv = reward_argv(test_dir, out, "--chunk_size", "2")
    with pytest.raises(RuntimeError):
        execute(_stage(RewardStage, ScriptedBackend(tokenizer, fail_on_call=2), argv), ["law"])
    assert len(list((out / ".chunks").glob("law.0*.json"))) == 2  # 2 of 3 chunks (6 CoTs) saved
    healthy = ScriptedBackend(tokenizer)
    execute(_stage(RewardStage, healthy, argv), ["law"])
    assert healthy.calls == [2]  # only the missing chunk
    assert (out / "law_reward.json").read_text() == (clean / "law_reward.json").read_text()


@pytest.mark.fault("stale work reused")
def test_changed_settings_drop_stale_chunks(tokenizer, test_dir, tmp_path):
    out = tmp_path / "rew"
    with pytest.raises(RuntimeError):
        argv = reward_argv(test_dir, out, "--chunk_size", "2")
        execute(_stage(RewardStage, ScriptedBackend(tokenizer, fail_on_call=1), argv), ["law"])
    healthy = ScriptedBackend(tokenizer)
    execute(
        _stage(RewardStage, healthy, reward_argv(test_dir, out, "--chunk_size", "2", "--temperature", "0.7")),
        ["law"],
    )
    assert healthy.calls == [2, 2, 2]


def _weights(fill: bytes) -> bytes:
    """A safetensors file of one float32 vector of 16 entries, every byte ``fill``."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}}).encode()
    return len(header).to_bytes(8, "little") + header + fill * 64


@pytest.mark.fault("stale work reused")
def test_a_checkpoint_retrained_at_the_same_path_drops_its_chunks(tokenizer, test_dir, tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    weights = ckpt / "model.safetensors"
    weights.write_bytes(_weights(b"A"))
    before = weights.stat()
    argv = reward_argv(test_dir, tmp_path / "rew", "--chunk_size", "2")
    argv[argv.index("unused")] = str(ckpt)
    with pytest.raises(RuntimeError):  # 2 of 3 chunks saved with the first weights
        execute(_stage(RewardStage, ScriptedBackend(tokenizer, fail_on_call=2), argv), ["law"])
    weights.write_bytes(_weights(b"B"))  # retrained: other weights, same path, size and modification time
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    retrained = ScriptedBackend(tokenizer, fail_on_call=2)
    with pytest.raises(RuntimeError):
        execute(_stage(RewardStage, retrained, argv), ["law"])
    assert retrained.calls == [2, 2]  # the first model's chunks were not reused
    healthy = ScriptedBackend(tokenizer)
    execute(_stage(RewardStage, healthy, argv), ["law"])
    assert healthy.calls == [2]  # the same weights again: their chunks are reused


def test_generate_writes_one_record_per_sample(tokenizer, tmp_path):
    train = make_train_records(5, "law", 2, 2)
    train[0]["labels"] = []
    write_jsonl(tmp_path / "train" / "law.jsonl", train)
    out = tmp_path / "gen"
    argv = ["generate", "--task_type", "gPRM", "--data_path", str(tmp_path / "train"), "--model_id", "unused"]
    argv += ["--output_dir", str(out), "--category", "law", "--n", "2", "--backend", "transformers"]
    backend = ScriptedBackend(tokenizer)
    execute(_stage(GenerateStage, backend, argv), ["law"])
    generated = load_records(out, "law", "generated")
    assert len(generated) == 2 * (len(train) - 1)
    assert generated[0] == {**train[1], "critique": " ok " + ORM_YES}
    assert generated[1] == {**train[1], "critique": " bad " + ORM_NO}
    stats = json.loads((out / "generate_stats.json").read_text())["law"]
    assert stats["skipped_no_labels"] == 1 and stats["finish_reasons"] == {"stop": 6}


def test_generate_prompts_use_the_teacher_prompt(tokenizer, tmp_path):
    write_jsonl(tmp_path / "train" / "law.jsonl", make_train_records(5, "law", 1, 1))
    argv = ["generate", "--task_type", "gPRM", "--data_path", str(tmp_path / "train")]
    argv += ["--output_dir", str(tmp_path / "o")]
    stage = GenerateStage(build_parser("generate").parse_args(argv))
    (prompt,) = stage.prompts(tokenizer, "law")
    assert "Your output must be in the following format" in prompt
    assert stage.args.model_id == "Qwen/QwQ-32B" and stage.spec().top_k == 20 and stage.spec().n == 4


def test_engine_groups():
    assert engine_groups(["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
    assert engine_groups(["4", "5", "6"], 2) == ["4,5"]
    assert engine_groups(["0"], 1) == ["0"]
    with pytest.raises(UserError):
        engine_groups(["0"], 2)


def _record_devices(payload, rank, world):
    Path(payload, f"{rank}.txt").write_text(f"{os.environ['CUDA_VISIBLE_DEVICES']} {world}")
    if rank == 1 and Path(payload, "fail").exists():
        raise SystemExit(3)


@pytest.mark.slow
def test_engines_run_in_processes_with_their_gpus(tmp_path):
    run_engines(_record_devices, str(tmp_path), ["0,1", "2,3"])
    assert (tmp_path / "0.txt").read_text() == "0,1 2"
    assert (tmp_path / "1.txt").read_text() == "2,3 2"
    (tmp_path / "fail").touch()
    with pytest.raises(UserError, match=r"engine\(s\) \[1\] failed"):
        run_engines(_record_devices, str(tmp_path), ["0,1", "2,3"])
