"""Provenance records and `rmflow audit` on a small fake lineage (no models, no workflow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rmflow import audit as audit_mod
from rmflow import provenance as prov
from rmflow.cli import main


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def lineage(tmp_path, monkeypatch):
    """source dir -> export -> checkpoint -> rewards -> CSV -> plot, each with provenance records."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "local_train"
    _write(src / "law.json", '[{"q_id": 1}]')
    res = Path("results")
    data = res / "data" / "train"
    _write(data / "law.jsonl", '{"q_id": 1}\n')
    _write(
        data / "source.json",
        json.dumps({"source": "owner/train", "revision": None, "resolved_revision": "abc123"}),
    )
    prov.record("export_data", {"dataset": {"source": "local_train"}}, [src], [data], resolve_hub=False)
    ckpt = res / "checkpoints" / "dORM"
    _write(ckpt / "adapter_model.safetensors", "weights")
    _write(ckpt / "nested" / "tokenizer.json", "{}")
    prov.record(
        "train_rm",
        {"train": {"lora_r": 16}},
        [data],
        [ckpt],
        started="2026-01-01T00:00:00Z",
        resolve_hub=False,
    )
    test = res / "data" / "test"
    _write(test / "law.jsonl", '{"q_id": 1, "cots": []}\n')
    prov.record("synth", {}, [], [test], resolve_hub=False)
    rewards = res / "rewards" / "dORM" / "test"
    _write(rewards / "law_reward.json", '[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]]}]')
    prov.record("reward", {"scoring": {}}, [test, ckpt], [rewards], resolve_hub=False)
    csv = res / "eval" / "best_of_n.csv"
    wv = res / "eval" / "weighted_vote.csv"
    _write(csv, "N,Method\n1,MV\n")
    _write(wv, "N,Method\n1,MV\n")
    prov.record("evaluate", {"evaluation": {"num_runs": 2}}, [test, rewards], [csv, wv], resolve_hub=False)
    plot = res / "plots" / "best_of_n.pdf"
    _write(plot, "%PDF fake")
    prov.record("plot", {"plot": {}}, [csv], [plot], resolve_hub=False)
    return {
        "src": src,
        "data": data,
        "ckpt": ckpt,
        "test": test,
        "rewards": rewards,
        "csv": csv,
        "plot": plot,
    }


def _statuses(targets) -> dict[str, str]:
    _, nodes = audit_mod.audit(targets)
    return {str(n.path.relative_to(Path.cwd().resolve())): n.status for n in nodes}


def test_record_contents(lineage):
    rec = json.loads(prov.record_path(lineage["ckpt"]).read_text())
    assert rec["rule"] == "train_rm"
    assert rec["params"] == {"train": {"lora_r": 16}}
    assert rec["artifact"] == "dORM"
    assert list(rec["inputs"]) == ["../data/train"]
    assert rec["outputs"]["dORM"]["type"] == "dir" and rec["outputs"]["dORM"]["files"] == 2
    assert rec["started"] == "2026-01-01T00:00:00Z" and rec["finished"].endswith("Z")
    assert {"host", "git", "packages", "python"} <= set(rec)
    assert "rmflow" in rec["packages"]
    export = json.loads(prov.record_path(lineage["data"]).read_text())
    assert export["hub"] == [{"id": "owner/train", "type": "dataset", "revision": None, "resolved": "abc123"}]


def test_tree_hash_ignores_location_and_bookkeeping(tmp_path):
    a, b = tmp_path / "a", tmp_path / "elsewhere" / "b"
    _write(a / "x" / "f.txt", "1")
    _write(a / "g.txt", "2")
    shutil.copytree(a, b)
    _write(b / ".snakemake_timestamp", "")
    assert prov.digest(a)["sha256"] == prov.digest(b)["sha256"]
    _write(b / "x" / "f.txt", "changed")
    assert prov.digest(a)["sha256"] != prov.digest(b)["sha256"]
    (b / "x" / "f.txt").rename(b / "x" / "h.txt")  # renaming a file changes the tree hash too
    _write(b / "x" / "h.txt", "1")
    assert prov.digest(a)["sha256"] != prov.digest(b)["sha256"]
    assert prov.digest(tmp_path / "nope") is None


def test_clean_lineage_is_ok(lineage, capsys):
    statuses = _statuses([lineage["plot"]])
    assert set(statuses.values()) == {"ok", "source"}
    assert statuses["local_train"] == "source"
    assert len(statuses) == 7  # plot, csv, test, rewards, checkpoint, train data, source dir
    assert main(["audit"]) == 0  # default target: the plots
    out = capsys.readouterr().out
    assert "hub dataset owner/train @ abc123" in out
    assert "audit: 7 artifacts: 6 ok, 1 source" in out


def test_tampered_reward_file(lineage):
    _write(lineage["rewards"] / "law_reward.json", '[{"q_id": 1, "cot_ids": [0], "rewards": [[0.9]]}]')
    statuses = _statuses([lineage["plot"]])
    assert statuses["results/rewards/dORM/test"] == "modified"
    assert statuses["results/eval/best_of_n.csv"] == "stale"  # made from the old rewards
    assert statuses["results/plots/best_of_n.pdf"] == "ok"  # its own input (the CSV) is unchanged
    assert statuses["results/checkpoints/dORM"] == "ok"


def test_changed_source_input(lineage):
    _write(lineage["src"] / "law.json", '[{"q_id": 2}]')
    statuses = _statuses([lineage["plot"]])
    assert statuses["local_train"] == "source"
    assert statuses["results/data/train"] == "stale"
    assert statuses["results/checkpoints/dORM"] == "ok"


def test_deleted_checkpoint(lineage, capsys):
    shutil.rmtree(lineage["ckpt"])
    statuses = _statuses([lineage["plot"]])
    assert statuses["results/checkpoints/dORM"] == "missing"
    assert statuses["results/data/train"] == "ok"  # the lineage continues below a missing artifact
    assert statuses["results/rewards/dORM/test"] == "ok"
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(lineage["plot"])])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "missing" in out and "results/checkpoints/dORM" in out


def test_file_inside_directory_artifact_and_unrecorded_target(lineage, tmp_path):
    statuses = _statuses([lineage["rewards"] / "law_reward.json"])
    assert statuses["results/rewards/dORM/test"] == "ok"
    stray = _write(tmp_path / "stray.txt", "x")
    assert _statuses([stray])["stray.txt"] == "unrecorded"


def test_copied_results_tree(lineage, tmp_path, monkeypatch):
    """Relative paths in records: a copy of results/ (with its source beside it) audits clean."""
    dest = tmp_path / "copy"
    shutil.copytree("results", dest / "results")
    shutil.copytree(lineage["src"], dest / "local_train")
    monkeypatch.chdir(dest)
    assert set(_statuses([Path("results/plots/best_of_n.pdf")]).values()) == {"ok", "source"}
    shutil.rmtree(dest / "local_train")  # the external source did not travel: reported, not crashed
    assert _statuses([Path("results/plots/best_of_n.pdf")])["local_train"] == "missing"


def test_json_report_and_quiet(lineage, tmp_path, capsys):
    _write(lineage["csv"], "N,Method\n1,tampered\n")
    with pytest.raises(SystemExit):
        main(["audit", "--quiet", "--json", str(tmp_path / "audit.json")])
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith(("modified", "stale", "audit:")) or line.startswith(" ") for line in out)
    verdicts = {v["path"]: v["status"] for v in json.loads((tmp_path / "audit.json").read_text())}
    assert verdicts["results/eval/best_of_n.csv"] == "modified"
    assert verdicts["results/plots/best_of_n.pdf"] == "stale"


def test_provenance_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "in.txt", "a")
    _write(tmp_path / "out" / "o.txt", "b")
    rc = main(
        [
            "provenance",
            "--rule=demo",
            "--params",
            '{"k": [1, 2]}',
            "--started",
            "T0",
            "--input",
            "in.txt",
            "",
            "--output",
            "out",
            "--no-resolve",
        ]
    )
    assert rc == 0
    rec = json.loads((tmp_path / "out.prov.json").read_text())
    assert rec["params"] == {"k": [1, 2]} and list(rec["inputs"]) == ["in.txt"]
    assert main(["provenance", "--rule=demo", "--params", "{bad", "--output", "out"]) == 2
    assert main(["provenance", "--rule=demo", "--output", "absent"]) == 2
    assert "absent" in capsys.readouterr().err


def test_audit_without_records(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["audit"]) == 2
    assert "no provenance records" in capsys.readouterr().err


def test_light_imports():
    """Audit and provenance must not pull in torch or transformers."""
    import subprocess
    import sys

    code = "import sys, rmflow.audit, rmflow.provenance; print(any(m in sys.modules for m in ('torch', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
