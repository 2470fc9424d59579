"""Provenance records and `rmflow audit` on a small fake lineage (no models), and on a workflow run."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from rmflow import audit as audit_mod
from rmflow import provenance as prov
from rmflow.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import full_run  # noqa: E402


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _adapter(ckpt: Path, base: str) -> None:
    _write(ckpt / "adapter_config.json", json.dumps({"base_model_name_or_path": base, "r": 4}))


@pytest.fixture()
def lineage(tmp_path, monkeypatch):
    """:func:`build_lineage` in ``tmp_path`` (the working directory)."""
    monkeypatch.chdir(tmp_path)
    return build_lineage(tmp_path)


def build_lineage(tmp_path: Path) -> dict:
    """The default workflow's lineage in miniature, each artifact with its provenance records, under the
    working directory ``tmp_path``:

    source dir -> export -> checkpoint (+ built backbone) -> rewards -> CSVs + summary -> plots, plus the
    analysis outputs (tables, figures) and the training curves, which nothing consumes.
    """
    jobs: list[tuple] = []  # (rule, params, inputs, outputs, started) of every recorded job, in order

    def job(rule: str, params: object, inputs: list, outputs: list, started: str | None = None) -> None:
        prov.record(rule, params, inputs, outputs, started=started, resolve_hub=False)
        jobs.append((rule, params, inputs, outputs, started))

    src = tmp_path / "local_train"
    _write(src / "law.json", '[{"q_id": 1}]')
    res = Path("results")
    data = res / "data" / "train"
    _write(data / "law.jsonl", '{"q_id": 1}\n')
    _write(
        data / "source.json",
        json.dumps({"source": "owner/train", "revision": None, "resolved_revision": "abc123"}),
    )
    job("export_data", {"dataset": {"source": "local_train"}}, [src], [data])
    backbone = res / "backbones" / "tiny"
    _write(backbone / "model.safetensors", "base weights")
    _write(backbone / "config.json", "{}")
    job("init_backbone", {"build": {}}, [], [backbone])
    ckpt = res / "checkpoints" / "dORM"
    _write(ckpt / "adapter_model.safetensors", "weights")
    _write(ckpt / "nested" / "tokenizer.json", "{}")
    _adapter(ckpt, "../../backbones/tiny")
    job("train_rm", {"train": {"lora_r": 16}}, [data, backbone], [ckpt], started="2026-01-01T00:00:00Z")
    curves = _write(res / "report" / "training_curves.png", "png")
    job("training_curves", {}, [ckpt], [curves])
    test = res / "data" / "test"
    _write(test / "law.jsonl", '{"q_id": 1, "cots": []}\n')
    job("synth", {}, [], [test])
    rewards = res / "rewards" / "dORM" / "test"
    _write(rewards / "law_reward.json", '[{"q_id": 1, "cot_ids": [0], "rewards": [[0.5]]}]')
    _write(rewards / "nan_counts.json", "{}")
    job("reward", {"scoring": {}}, [test, ckpt], [rewards])
    csv = res / "eval" / "best_of_n.csv"
    wv = res / "eval" / "weighted_vote.csv"
    summary = res / "eval" / "summary.json"
    _write(csv, "N,Method\n1,MV\n")
    _write(wv, "N,Method\n1,MV\n")
    _write(summary, "{}")
    evaluated = [csv, wv, summary]
    job("evaluate", {"evaluation": {"num_runs": 2}}, [test, rewards], evaluated)
    plots = []
    for table in (csv, wv):
        plot = _write(res / "plots" / f"{table.stem}.pdf", "%PDF fake")
        job("plot", {"plot": {}}, [table], [plot])
        plots.append(plot)
    table = _write(res / "analysis" / "accuracy.csv", "a\n")
    figure = _write(res / "plots" / "analysis" / "uncertainty.png", "png")
    job("analyze", {}, [test, rewards], [table, figure])
    return {
        "src": src,
        "data": data,
        "backbone": backbone,
        "ckpt": ckpt,
        "test": test,
        "rewards": rewards,
        "csv": csv,
        "plot": plots[0],
        "finals": sorted([*plots, summary, table, figure, curves]),
        "jobs": jobs,
    }


def _nodes(targets) -> dict[str, audit_mod.Node]:
    _, nodes = audit_mod.audit(targets)
    return {str(n.path.relative_to(Path.cwd().resolve())): n for n in nodes}


def _statuses(targets) -> dict[str, str]:
    return {path: n.status for path, n in _nodes(targets).items()}


def test_record_contents(lineage):
    rec = json.loads(prov.record_path(lineage["ckpt"]).read_text())
    assert rec["format"] == 3 and rec["rule"] == "train_rm"
    assert rec["params"] == {"train": {"lora_r": 16}}
    assert rec["artifact"] == "dORM"
    assert list(rec["inputs"]) == ["../data/train", "../backbones/tiny"]
    out = rec["outputs"]["dORM"]
    assert out["type"] == "dir" and out["files"] == 3
    files = ["adapter_config.json", "adapter_model.safetensors", "nested/tokenizer.json"]
    assert out["tree"] == {f: prov.file_sha256(lineage["ckpt"] / f) for f in files}  # per-file hashes
    assert rec["inputs"]["../backbones/tiny"]["tree"]["model.safetensors"] == prov.file_sha256(
        lineage["backbone"] / "model.safetensors"
    )
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
    assert prov.digest(a)["tree"] == prov.digest(b)["tree"]
    _write(b / "x" / "f.txt", "changed")
    assert prov.digest(a)["sha256"] != prov.digest(b)["sha256"]
    assert prov.tree_changes(prov.digest(a), prov.digest(b)) == {"changed": ["x/f.txt"]}
    (b / "x" / "f.txt").rename(b / "x" / "h.txt")  # renaming a file changes the tree hash too
    _write(b / "x" / "h.txt", "1")
    assert prov.digest(a)["sha256"] != prov.digest(b)["sha256"]
    assert prov.tree_changes(prov.digest(a), prov.digest(b)) == {"missing": ["x/f.txt"], "added": ["x/h.txt"]}
    assert prov.tree_changes({"sha256": "x"}, prov.digest(b)) == {}  # a record without per-file hashes
    assert prov.digest(tmp_path / "nope") is None


def test_clean_lineage_is_ok(lineage, capsys):
    statuses = _statuses([lineage["plot"]])
    assert set(statuses.values()) == {"ok", "source"}
    assert statuses["local_train"] == "source"
    assert len(statuses) == 8  # plot, csv, test, rewards, checkpoint, train data, backbone, source dir
    finals = audit_mod.default_targets(Path("results"))
    assert finals == lineage["finals"]  # everything no record consumes: plots, summary, analysis, curves
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "hub dataset owner/train @ abc123" in out
    assert "audit: 14 artifacts: 13 ok, 1 source" in out


def test_default_targets_cover_every_final_output(lineage):
    """A new final output (a second analysis figure) is audited without naming it; a consumed one is not."""
    extra = _write(Path("results/plots/analysis/groups.png"), "png")
    prov.record("analyze", {}, [lineage["rewards"]], [extra], resolve_hub=False)
    finals = audit_mod.default_targets(Path("results"))
    assert extra in finals and lineage["csv"] not in finals and lineage["ckpt"] not in finals
    _write(extra, "tampered")
    with pytest.raises(SystemExit):
        main(["audit"])


@pytest.mark.fault("artifact changed since recorded (audit)")
def test_tampered_reward_file_names_the_file_and_reaches_the_top(lineage):
    _write(lineage["rewards"] / "law_reward.json", '[{"q_id": 1, "cot_ids": [0], "rewards": [[0.9]]}]')
    nodes = _nodes(audit_mod.default_targets(Path("results")))
    rewards = nodes["results/rewards/dORM/test"]
    assert rewards.status == "modified" and rewards.files == {"changed": ["law_reward.json"]}
    assert "changed law_reward.json" in rewards.details[0]
    csv = nodes["results/eval/best_of_n.csv"]
    assert csv.status == "stale"  # made from the old rewards, and says which file changed
    assert any("results/rewards/dORM/test changed" in d and "law_reward.json" in d for d in csv.details)
    plot = nodes["results/plots/best_of_n.pdf"]
    assert plot.status == "stale"  # its own input (the CSV) is unchanged: stale through its ancestors
    assert plot.upstream == {
        Path.cwd().resolve() / "results/eval/best_of_n.csv": "stale",
        Path.cwd().resolve() / "results/rewards/dORM/test": "modified",
    }
    assert any("upstream results/eval/best_of_n.csv is stale" in d for d in plot.details)
    assert any("upstream results/rewards/dORM/test is modified" in d for d in plot.details)
    for final in ("results/plots/analysis/uncertainty.png", "results/eval/summary.json"):
        assert nodes[final].status == "stale"
    assert nodes["results/checkpoints/dORM"].status == "ok"
    assert nodes["results/report/training_curves.png"].status == "ok"  # not downstream of the rewards


@pytest.mark.fault("artifact changed since recorded (audit)")
def test_missing_and_added_files_inside_a_directory(lineage, capsys):
    (lineage["rewards"] / "nan_counts.json").unlink()
    _write(lineage["rewards"] / "math_reward.json", "[]")
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(lineage["plot"])])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert (
        "content differs from its provenance record (missing nan_counts.json; added math_reward.json)" in out
    )


@pytest.mark.fault("artifact changed since recorded (audit)")
def test_changed_source_input(lineage):
    _write(lineage["src"] / "law.json", '[{"q_id": 2}]')
    nodes = _nodes([lineage["plot"]])
    assert nodes["local_train"].status == "source"
    data = nodes["results/data/train"]
    assert data.status == "stale" and "(changed law.json)" in data.details[0]
    assert nodes["results/checkpoints/dORM"].status == "stale"
    for path in ("results/checkpoints/dORM", "results/rewards/dORM/test", "results/plots/best_of_n.pdf"):
        assert any("upstream results/data/train is stale" in d for d in nodes[path].details)
    assert nodes["results/data/test"].status == "ok"


@pytest.mark.fault("artifact changed since recorded (audit)")
def test_deleted_checkpoint(lineage, capsys):
    shutil.rmtree(lineage["ckpt"])
    statuses = _statuses([lineage["plot"]])
    assert statuses["results/checkpoints/dORM"] == "missing"
    assert statuses["results/data/train"] == "ok"  # the lineage continues below a missing artifact
    assert statuses["results/rewards/dORM/test"] == "stale"  # made from a checkpoint that is gone
    assert statuses["results/plots/best_of_n.pdf"] == "stale"
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(lineage["plot"])])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "missing" in out and "upstream results/checkpoints/dORM is missing" in out


@pytest.mark.fault("artifact changed since recorded (audit)")
def test_changed_backbone(lineage):
    _write(lineage["backbone"] / "model.safetensors", "other weights")
    nodes = _nodes([lineage["plot"]])
    assert nodes["results/backbones/tiny"].status == "modified"
    ckpt = nodes["results/checkpoints/dORM"]
    assert ckpt.status == "stale" and any("(changed model.safetensors)" in d for d in ckpt.details)
    assert nodes["results/plots/best_of_n.pdf"].status == "stale"


def test_file_inside_directory_artifact_and_unrecorded_target(lineage, tmp_path):
    statuses = _statuses([lineage["rewards"] / "law_reward.json"])
    assert statuses["results/rewards/dORM/test"] == "ok"
    stray = _write(tmp_path / "stray.txt", "x")
    assert _statuses([stray])["stray.txt"] == "unrecorded"


def test_copied_results_tree(lineage, tmp_path, monkeypatch):
    """Relative paths in records and in the adapter: a copy of results/ (with its source) audits clean."""
    dest = tmp_path / "copy"
    shutil.copytree("results", dest / "results")
    shutil.copytree(lineage["src"], dest / "local_train")
    monkeypatch.chdir(dest)
    assert set(_statuses([Path("results/plots/best_of_n.pdf")]).values()) == {"ok", "source"}
    _write(dest / "results/backbones/tiny/model.safetensors", "changed in the copy only")
    assert _statuses([Path("results/plots/best_of_n.pdf")])["results/checkpoints/dORM"] == "stale"
    shutil.rmtree(dest / "local_train")  # the external source did not travel: reported, not crashed
    statuses = _statuses([Path("results/plots/best_of_n.pdf")])
    assert statuses["local_train"] == "missing" and statuses["results/data/train"] == "stale"


@pytest.mark.fault("artifact changed since recorded (audit)")
def test_checkpoint_naming_another_trees_backbone(tmp_path, monkeypatch):
    """A checkpoint that names its backbone by absolute path audits ok where it was made, and is flagged
    in a copied tree (it would load the original tree's backbone, even an identical one)."""
    monkeypatch.chdir(tmp_path)
    backbone = tmp_path / "results" / "backbones" / "tiny"
    _write(backbone / "model.safetensors", "base weights")
    prov.record("init_backbone", {}, [], [backbone], resolve_hub=False)
    ckpt = tmp_path / "results" / "checkpoints" / "dORM"
    _adapter(ckpt, str(backbone))
    prov.record("train_rm", {}, [backbone], [ckpt], resolve_hub=False)
    rewards = _write(tmp_path / "results" / "rewards.json", "[]")
    prov.record("reward", {}, [ckpt], [rewards], resolve_hub=False)
    assert set(_statuses([rewards]).values()) == {"ok"}
    dest = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "results", dest / "results")
    monkeypatch.chdir(dest)
    nodes = _nodes([Path("results/rewards.json")])
    assert nodes["results/backbones/tiny"].status == "ok"
    ckpt_node = nodes["results/checkpoints/dORM"]
    assert ckpt_node.status == "stale"
    assert any(f"loads its backbone from {os.path.relpath(backbone)}" in d for d in ckpt_node.details)
    assert nodes["results/rewards.json"].status == "stale"
    shutil.rmtree(backbone)  # the original is gone: the copy's checkpoint names a missing backbone
    ckpt_node = _nodes([Path("results/rewards.json")])["results/checkpoints/dORM"]
    assert ckpt_node.status == "stale" and any("does not exist" in d for d in ckpt_node.details)


def test_json_report_and_quiet(lineage, tmp_path, capsys):
    _write(lineage["csv"], "N,Method\n1,tampered\n")
    with pytest.raises(SystemExit):
        main(["audit", "--quiet", "--json", str(tmp_path / "audit.json")])
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith(("modified", "stale", "audit:", " ")) for line in out)
    assert any("input results/eval/best_of_n.csv changed since this was produced" in line for line in out)
    verdicts = {v["path"]: v for v in json.loads((tmp_path / "audit.json").read_text())}
    assert verdicts["results/eval/best_of_n.csv"]["status"] == "modified"
    assert verdicts["results/plots/best_of_n.pdf"]["status"] == "stale"
    assert verdicts["results/plots/best_of_n.pdf"]["upstream"] == {"results/eval/best_of_n.csv": "modified"}
    assert verdicts["results/plots/weighted_vote.pdf"]["status"] == "ok"


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


def test_workflow_run_records_every_output_and_audits_every_target(tmp_path, monkeypatch, capsys):
    """The real Snakefile (stand-in stages): evaluate's summary.json is declared and recorded, `rmflow
    audit` with no argument covers the training curves too, and a changed reward file reaches the plots."""
    work = full_run(tmp_path / "wf")
    monkeypatch.chdir(work)
    evaluated = json.loads(Path("results/eval/summary.json.prov.json").read_text())
    assert evaluated["rule"] == "evaluate" and "summary.json" in evaluated["outputs"]
    finals = {p.as_posix() for p in audit_mod.default_targets(Path("results"))}
    assert {"results/report/training_curves.png", "results/eval/summary.json"} <= finals
    assert "results/plots/best_of_n.pdf" in finals and "results/eval/best_of_n.csv" not in finals
    assert main(["audit", "--quiet"]) == 0
    reward_file = next(Path("results/rewards/dORM").glob("*/law_reward.json"))
    _write(reward_file, "changed\n")
    with pytest.raises(SystemExit):
        main(["audit", "--quiet", "--json", "audit.json"])
    verdicts = {v["path"]: v for v in json.loads(Path("audit.json").read_text())}
    rewards = verdicts[os.fspath(reward_file.parent)]
    assert rewards["status"] == "modified" and rewards["files"] == {"changed": ["law_reward.json"]}
    for final in ("results/plots/best_of_n.png", "results/plots/weighted_vote_legend.pdf"):
        assert verdicts[final]["status"] == "stale"
        assert verdicts[final]["upstream"][os.fspath(reward_file.parent)] == "modified"
    assert verdicts["results/report/training_curves.png"]["status"] == "ok"


def test_light_imports():
    """Audit and provenance must not pull in torch or transformers."""
    import subprocess

    code = "import sys, rmflow.audit, rmflow.provenance; print(any(m in sys.modules for m in ('torch', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
