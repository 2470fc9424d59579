"""Faults from the environment: an output directory that refuses writes, an output path that is a file, an
input that cannot be read, a disk that fills up mid-write, a publication cut short, a checkpoint cut short or with a broken config, a lone
surrogate in the input, an empty category list, settings too large for memory. Each is one error line naming
the file or flag, exit status 2, no traceback, and every earlier output stays byte for byte (a multi-file
output is published all or nothing: :func:`rmflow.io.staged_dirs`).

How the faults are made (the tests may run as root, and root ignores permission bits):

* a read-only directory: ``chmod a-w``, and where that does not stop a write (root) ``chattr +i`` (an
  immutable directory refuses new entries even to root); skipped where neither refuses a write;
* an unreadable input: ``chmod 000``, and where that does not stop a read (root) opening it raises the
  ``PermissionError`` the OS would give (``builtins.open`` / ``io.open`` wrapped);
* a full disk, in-process: every file opened for writing under the output directory after the first one
  fails its writes with ``ENOSPC``, as a full disk does (``builtins.open`` / ``io.open`` wrapped);
* a full disk and a read-only file system for real: the command runs in its own mount namespace
  (``unshare -m``) on a tiny tmpfs, filled up or remounted read-only; skipped where mounting is not allowed;
* a publication cut short: a directory planted where a later output file goes, so its rename fails after
  earlier files were moved into place.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_reliability_inputs import (
    OUTPUTS,
    RW,
    TEST,
    analyze,
    copy_world,
    edit_json,
    evaluate,
    export,
    make_pristine,
    plant_outputs,
    plot,
    setitem,
    shorten,
    synth,
)

from rmflow.cli import main


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_pristine(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def world(pristine, tmp_path) -> Path:
    return copy_world(pristine, tmp_path)


STAGES = ("evaluate", "analyze", "plot", "export", "synth", "shorten")


def stage_argv(stage: str) -> Callable[[Path], list[str]]:
    """The valid command of a light stage on the world (as in test_reliability_inputs), into ``out``."""
    return {
        "evaluate": evaluate(),
        "analyze": analyze(),
        "plot": plot(),
        "export": export("train", "train"),
        "synth": synth(),
        "shorten": shorten("gORM"),
    }[stage]


# --------------------------------------------------------------------------- making the faults
def _writable(directory: Path) -> bool:
    probe = directory / f".probe-{uuid.uuid4().hex}"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` refuses new files: ``chmod a-w``, plus ``chattr +i`` where that is not enough (root)."""
    mode = directory.stat().st_mode
    os.chmod(directory, 0o555)
    immutable = False
    try:
        if _writable(directory) and shutil.which("chattr"):
            immutable = subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0
        if _writable(directory):
            pytest.skip("cannot make a directory read-only here (root, and no chattr +i)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        os.chmod(directory, mode)


class _FullDisk:
    """A file object whose writes fail as on a full disk (the file itself was created)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    writelines = write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._fh)


@contextlib.contextmanager
def disk_full_after(first: int, under: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Files opened for writing under ``under`` after the first ``first`` fail their writes (ENOSPC)."""
    real_open, opened = builtins.open, []
    root = str(under.resolve())

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        writing = isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+")
        if writing and os.path.abspath(file).startswith(root):
            opened.append(os.fspath(file))
            if len(opened) > first:
                return _FullDisk(fh)
        return fh

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    yield opened


@contextlib.contextmanager
def unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``path`` cannot be opened for reading: ``chmod 000``, and where that does not stop a read (root)
    opening it raises the ``PermissionError`` the OS gives (``builtins.open`` / ``io.open`` wrapped)."""
    mode = path.stat().st_mode
    os.chmod(path, 0)
    try:
        try:
            path.read_bytes()
        except PermissionError:
            pass
        else:
            real_open, target = builtins.open, os.path.abspath(path)

            def open_(file: Any, *args: Any, **kwargs: Any) -> Any:
                if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == target:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
                return real_open(file, *args, **kwargs)

            monkeypatch.setattr(builtins, "open", open_)
            monkeypatch.setattr(io, "open", open_)
        yield
    finally:
        os.chmod(path, mode)


def block_last_output(stage: str) -> Callable[[Path], None]:
    """A directory where the stage's last-but-one output file goes: its rename fails mid-publication."""
    blocked = {"evaluate": "weighted_vote.csv", "analyze": "verifier.csv", "plot": "fig_overall.png",
               "export": "source.json", "synth": "train/law.jsonl", "shorten": "math.jsonl"}[stage]  # fmt: skip

    def plant(out: Path) -> None:
        (out / blocked).unlink(missing_ok=True)
        (out / blocked).mkdir(parents=True)
        (out / blocked / "keep").write_text("a directory in the way\n")

    return plant


# --------------------------------------------------------------------------- the case table
@dataclass(frozen=True)
class Case:
    fault: str
    name: str
    stage: str
    argv: Callable[[Path], list[str]]
    message: str  # regex searched in the error line
    mutate: Callable[[Path], None] = lambda w: None
    around: str = ""  # "read-only", "disk full", "unreadable FILE" or "": how the run is wrapped

    @property
    def id(self) -> str:
        return f"{self.fault}:{self.stage}:{self.name}"


def _into(flag: str, rel: str, argv: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    """``argv`` with ``flag`` pointing at ``w/rel`` instead."""

    def build(w: Path) -> list[str]:
        args = argv(w)
        args[args.index(flag) + 1] = str(w / rel)
        return args

    return build


def _a_file(rel: str) -> Callable[[Path], None]:
    def mutate(w: Path) -> None:
        (w / rel).parent.mkdir(parents=True, exist_ok=True)
        (w / rel).write_text("a file, not a directory\n")

    return mutate


def _with(argv: Callable[[Path], list[str]], *extra: str) -> Callable[[Path], list[str]]:
    return lambda w: [*argv(w), *extra]


SURROGATE = "\\ud800"  # as JSON text: an escape of half a UTF-16 pair


def _surrogate(rel: str, index: int, field: str) -> Callable[[Path], None]:
    """Put a lone surrogate escape into ``field`` of record ``index`` of the JSON(L) file ``rel``."""

    def mutate(w: Path) -> None:
        marker = "<<surrogate>>"
        edit_json(rel, setitem(index, field, f"text {marker}"))(w)
        path = w / rel
        path.write_text(path.read_text().replace(marker, SURROGATE))

    return mutate


WRITE_REFUSED = r"cannot write: (Permission denied|Operation not permitted)"
CASES = [
    # ---- an output directory that refuses writes
    *(Case("read-only output", "output directory", stage, stage_argv(stage), rf"/out\b.*: {WRITE_REFUSED}",
           around="read-only") for stage in STAGES),  # fmt: skip
    # ---- an output path that is an existing file
    Case("output path is a file", "--output_dir", "evaluate", _into("--output_dir", "taken", evaluate()),
         r"/taken: cannot write: exists and is not a directory", _a_file("taken")),
    Case("output path is a file", "--plot_dir", "analyze", _into("--plot_dir", "taken", analyze()),
         r"/taken: cannot write: exists and is not a directory", _a_file("taken")),
    Case("output path is a file", "--output_file parent", "plot", _into("--output_file", "taken/fig", plot()),
         r"/taken: cannot write: exists and is not a directory", _a_file("taken")),
    Case("output path is a file", "--output_dir parent", "export", _into("--output_dir", "taken/out",
         export("train", "train")), r"/taken: cannot write: exists and is not a directory", _a_file("taken")),
    Case("output path is a file", "--output_dir", "synth", _into("--output_dir", "taken", synth()),
         r"/taken: cannot write: exists and is not a directory", _a_file("taken")),
    Case("output path is a file", "--output_dir", "shorten", _into("--output_dir", "taken", shorten("gPRM")),
         r"/taken: cannot write: exists and is not a directory", _a_file("taken")),
    # ---- an input that cannot be read
    *(Case("unreadable input", rel, stage, stage_argv(stage), rf"{re.escape(rel)}: cannot read: Permission denied",
           around=f"unreadable {rel}")
      for stage, rel in (("evaluate", TEST), ("analyze", RW), ("plot", "tables/best_of_n.csv"),
                         ("export", "train/math.jsonl"), ("shorten", "train_gORM/law.jsonl"))),
    # ---- a disk filling up after the first file
    *(Case("disk full", "after the first file", stage, stage_argv(stage),
           r"/out/[^ ]+: cannot write: No space left on device", around="disk full") for stage in STAGES),  # fmt: skip
    # ---- a publication cut short by a directory in the way of a later file
    *(Case("publication cut short", "directory in the way", stage, stage_argv(stage),
           r"/out/[^ ]+: cannot write: Is a directory") for stage in STAGES),  # fmt: skip
    # ---- a lone surrogate (half a UTF-16 pair) in a string
    Case("lone surrogate", "question", "evaluate", evaluate(),
         r"test/math\.json: record 1 \(q_id \d+\), field 'question': question holds a lone surrogate \\ud800",
         _surrogate(TEST, 1, "question")),
    Case("lone surrogate", "train question", "export", export("train", "train"),
         r"train/law\.jsonl: record 0 \(q_id \d+\), field 'question': .*lone surrogate \\ud800",
         _surrogate("train/law.jsonl", 0, "question")),
    Case("lone surrogate", "critique", "shorten", shorten("gORM"),
         r"train_gORM/math\.jsonl: record 2 \(q_id \d+\), field 'critique': .*lone surrogate \\ud800",
         _surrogate("train_gORM/math.jsonl", 2, "critique")),
    Case("lone surrogate", "reward q_id", "analyze", analyze(),
         r"rm/dORM/math_reward\.json: record 0 \(q_id .*\), field 'q_id': .*lone surrogate \\ud800",
         _surrogate(RW, 0, "q_id")),
    # ---- an empty category list
    *(Case("no category", "--category ,", stage, _with(stage_argv(stage), "--category", ","),
           r"--category ',' names no category") for stage in STAGES if stage != "plot"),  # fmt: skip
    # ---- settings too large for memory
    Case("too large for memory", "--num_runs 1e9", "evaluate", evaluate("--num_runs", "1000000000"),
         r"--num_runs 1000000000 x --Ns 1 2 over .*needs about .* of memory, more than the limit"),
    Case("too large for memory", "huge N", "evaluate", evaluate("--Ns", "1", "10000000000000"),
         r"--Ns 1 10000000000000 over .*needs about .* of memory, more than .*; lower --num_runs or the largest N"),
    Case("too large for memory", "--num_runs 1e9", "analyze", analyze("--num_runs", "1000000000"),
         r"--num_runs 1000000000 x --Ns 1 2 x --bootstrap 10 over .*needs about .* more than the limit"),
    Case("too large for memory", "huge N", "analyze", analyze("--Ns", "1", "10000000000000"),
         r"--Ns 1 10000000000000 x --bootstrap 10 over .*lower --num_runs, --bootstrap or the largest N"),
    Case("too large for memory", "--bootstrap 1e12", "analyze", analyze("--bootstrap", "1000000000000"),
         r"x --bootstrap 1000000000000 over .*needs about .* of memory"),
    Case("bad flag", "--seed -1", "analyze", analyze("--seed", "-1"),
         r"--seed must be a non-negative integer \(it seeds the bootstrap\), got -1"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_environment_fault_is_one_clear_error(case: Case, world: Path, capsys, monkeypatch, tree_digest,
                                              assert_one_error):  # fmt: skip
    out = world / "out"
    case.mutate(world)
    plant_outputs(out, case.stage)
    if case.fault == "publication cut short":
        block_last_output(case.stage)(out)
    before = tree_digest(out)
    with contextlib.ExitStack() as stack:
        if case.around == "read-only":
            stack.enter_context(read_only(out))
        elif case.around == "disk full":
            opened = stack.enter_context(disk_full_after(1, out, monkeypatch))
        elif case.around.startswith("unreadable "):
            stack.enter_context(unreadable(world / case.around.split(" ", 1)[1], monkeypatch))
        code = main(case.argv(world))  # any exception but a UserError escapes: a traceback fails the test
    err = capsys.readouterr().err
    assert code == 2, err
    assert_one_error(err, case.stage, case.message)
    assert ".staging" not in err and ".tmp" not in err  # the output is named, not its temporary copy
    assert tree_digest(out) == before  # nothing published, nothing left behind
    if case.around == "disk full":
        assert len(opened) >= 2  # the fault did hit, after a first file was written in full


def test_case_table_covers_every_light_stage():
    assert {c.stage for c in CASES} == set(STAGES) == set(OUTPUTS)
    assert len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- all or nothing, in detail
@pytest.mark.fault("publication cut short")
def test_a_failed_publication_puts_back_what_it_had_moved(world: Path, monkeypatch):
    """evaluate publishes best_of_n.csv, then fails on weighted_vote.csv: best_of_n.csv is restored."""
    out = world / "out"
    plant_outputs(out, "evaluate")
    real_replace, moved = os.replace, []

    def replace(src: Any, dst: Any) -> None:
        if ".staging." in str(src) and Path(dst).parent == out:
            moved.append(Path(dst).name)
            if Path(dst).name == "weighted_vote.csv":
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(src), None, str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert main(evaluate()(world)) == 2
    assert moved == ["best_of_n.csv", "weighted_vote.csv", "best_of_n.csv"]  # moved, failed, put back
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        rel: f"earlier output {rel}\n" for rel in OUTPUTS["evaluate"]
    }


@pytest.mark.fault("disk full")
def test_first_run_into_a_new_directory_leaves_nothing_when_the_disk_fills(world: Path, monkeypatch, capsys):
    out = world / "fresh" / "out"
    with disk_full_after(1, world / "fresh", monkeypatch):
        assert main([*evaluate()(world)[:-2], "--output_dir", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == []  # no partial set, no staging directory


# --------------------------------------------------------------------------- the real thing: tmpfs
def _namespace_shell() -> list[str]:
    """``unshare -m sh -c``, if this process may mount file systems in a namespace of its own."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                           capture_output=True)  # fmt: skip
    if probe.returncode:
        pytest.skip("mounting a tmpfs in a mount namespace is not allowed here")
    return ["unshare", "-m", "sh", "-c"]


def _on_tmpfs(world: Path, run_rmflow_argv: list[str], prepare: str) -> tuple[int, str, dict[str, str]]:
    """Run evaluate into ``out`` on a fresh 64 KiB tmpfs holding the earlier outputs, after ``prepare``
    (shell, in ``$OUT``); returns status, stderr and the tmpfs' files with their sha256 afterwards."""
    from conftest import RMFLOW, subprocess_env

    out = world / "out"
    out.mkdir(exist_ok=True)
    earlier = world / "earlier"
    plant_outputs(earlier, "evaluate")
    argv = " ".join(f"'{a}'" for a in [*RMFLOW, *run_rmflow_argv])
    script = (
        f'set -e; OUT={out}; mount -t tmpfs -o size=64k tmpfs "$OUT"; cp {earlier}/* "$OUT"/; {prepare}; '
        f'set +e; {argv} 2>"$OUT.err"; echo "status $?" >>"$OUT.err"; rm -f "$OUT/.filler"; '
        'cd "$OUT" && find . -type f -exec sha256sum {} + >"$OUT.files"'
    )
    proc = subprocess.run([*_namespace_shell(), script], capture_output=True, text=True, env=subprocess_env(),
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    err = Path(f"{out}.err").read_text()
    status = int(re.findall(r"status (\d+)", err)[-1])
    files = dict(reversed(line.split("  ./")) for line in Path(f"{out}.files").read_text().splitlines())
    return status, err, files


def _digest_of_earlier(world: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (world / "earlier").iterdir()}


@pytest.mark.fault("disk full")
def test_a_real_full_disk_changes_nothing(world: Path, assert_one_error):
    """A 64 KiB tmpfs filled up but for one page: the first new file fits, the second does not."""
    fill = 'dd if=/dev/zero of="$OUT/.filler" bs=4096 2>/dev/null || true; truncate -s -4096 "$OUT/.filler"'
    status, err, files = _on_tmpfs(world, evaluate()(world), fill)
    assert status == 2, err
    assert_one_error(
        err, "evaluate", r"/out/(weighted_vote\.csv|best_of_n\.csv): cannot write: No space left"
    )
    assert files == _digest_of_earlier(world)


@pytest.mark.fault("read-only file system")
def test_a_real_read_only_file_system_changes_nothing(world: Path, assert_one_error):
    status, err, files = _on_tmpfs(world, evaluate()(world), 'mount -o remount,ro "$OUT"')
    assert status == 2, err
    assert_one_error(err, "evaluate", r"/out: cannot write: Read-only file system")
    assert files == _digest_of_earlier(world)


# --------------------------------------------------------------------------- checkpoints cut short
def _safetensors(path: Path, tensors: dict[str, int]) -> bytes:
    """A valid safetensors file of float32 zero vectors (``{name: length}``), written without torch."""
    header, offset = {}, 0
    for name, length in tensors.items():
        header[name] = {"dtype": "F32", "shape": [length], "data_offsets": [offset, offset + 4 * length]}
        offset += 4 * length
    text = json.dumps(header).encode()
    data = len(text).to_bytes(8, "little") + text + bytes(offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def _checkpoint(w: Path, cut: int = 0, config: str | None = None, base_cut: int = 0) -> None:
    """``ck/``: a LoRA adapter on the local ``base/`` (both cut short by ``cut``/``base_cut`` bytes), with
    ``config`` as its adapter_config.json text."""
    weights = _safetensors(w / "ck" / "adapter_model.safetensors", {"lora_A": 64, "lora_B": 64})
    if cut:
        (w / "ck" / "adapter_model.safetensors").write_bytes(weights[:-cut])
    cfg = config if config is not None else json.dumps({"base_model_name_or_path": "../base", "r": 4})
    (w / "ck" / "adapter_config.json").write_text(cfg)
    base = _safetensors(w / "base" / "model.safetensors", {"embed": 256})
    if base_cut:
        (w / "base" / "model.safetensors").write_bytes(base[:-base_cut])
    (w / "base" / "config.json").write_text('{"model_type": "qwen2"}')


def reward(task: str) -> Callable[[Path], list[str]]:
    sampling = (
        ["--n_samples", "1", "--max_tokens", "2", "--backend", "transformers"] if task[0] == "g" else []
    )
    return lambda w: ["reward", "--task_type", task, "--model_id", str(w / "ck"), "--data_path", str(w / "test"),
                      "--output_dir", str(w / "out"), "--category", "law,math", *sampling]  # fmt: skip


def train(task: str) -> Callable[[Path], list[str]]:
    return lambda w: ["train", "--task_type", task, "--config", f"{task}-tiny", "--model_id", str(w / "base"),
                      "--data_path", str(w / ("train" if task[0] == "d" else f"train_{task}")),
                      "--output_dir", str(w / "out"), "--category", "law", "--max_steps", "1"]  # fmt: skip


def _no_weights(w: Path) -> None:
    _checkpoint(w)
    (w / "ck" / "adapter_model.safetensors").unlink()


MODEL_CASES = [
    Case("truncated weights", "adapter", "reward", reward("dORM"),
         r"ck/adapter_model\.safetensors: truncated safetensors file \(\d+ bytes; its header describes \d+\)",
         lambda w: _checkpoint(w, cut=100)),
    Case("truncated weights", "adapter", "reward", reward("gORM"),
         r"ck/adapter_model\.safetensors: truncated safetensors file", lambda w: _checkpoint(w, cut=1)),
    Case("truncated weights", "within the header", "reward", reward("dPRM"),
         r"ck/adapter_model\.safetensors: truncated safetensors file \(\d+ bytes; its header alone claims \d+\)",
         lambda w: _checkpoint(w, cut=560)),
    Case("truncated weights", "the adapter's base", "reward", reward("gPRM"),
         r"base/model\.safetensors: truncated safetensors file", lambda w: _checkpoint(w, base_cut=4)),
    Case("truncated weights", "the backbone to train", "train", train("dORM"),
         r"base/model\.safetensors: truncated safetensors file", lambda w: _checkpoint(w, base_cut=4)),
    Case("truncated weights", "the backbone to train", "train", train("gORM"),
         r"base/model\.safetensors: truncated safetensors file", lambda w: _checkpoint(w, base_cut=100)),
    Case("invalid model config", "adapter_config.json cut", "reward", reward("dORM"),
         r"ck/adapter_config\.json: record at line 1 column \d+: invalid JSON",
         lambda w: _checkpoint(w, config='{"base_model_name_or_path": "../ba')),
    Case("invalid model config", "adapter_config.json a list", "reward", reward("gORM"),
         r"ck/adapter_config\.json: expected a JSON object, got list", lambda w: _checkpoint(w, config="[]")),
    Case("invalid model config", "adapter_config.json repeats a key", "reward", reward("dORM"),
         r"ck/adapter_config\.json: record \(top level\), field 'r': key 'r' given twice",
         lambda w: _checkpoint(w, config='{"base_model_name_or_path": "../base", "r": 4, "r": 8}')),
    Case("invalid model config", "adapter without weights", "reward", reward("dORM"),
         r"ck: an adapter without weights \(no adapter_model\.safetensors\)", _no_weights),
]  # fmt: skip


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.id for c in MODEL_CASES])
def test_broken_checkpoint_is_one_clear_error(case: Case, world: Path, capsys, tree_digest, assert_one_error):
    """Checked before any library loads the model (the checkpoints here could not be loaded anyway)."""
    pytest.importorskip("torch")
    case.mutate(world)
    (world / "out").mkdir()
    (world / "out" / "law_reward.json").write_text("earlier\n")
    before = tree_digest(world / "out")
    code = main(case.argv(world))
    err = capsys.readouterr().err
    assert code == 2, err
    assert_one_error(err, case.stage, case.message)
    assert {k: v for k, v in tree_digest(world / "out").items() if not k.startswith(".chunks")} == before
