"""``rmflow analyze`` end to end on a small synthetic test set with constructed reward files."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from rmflow.analysis.inputs import step_labels
from rmflow.analysis.length import bucket_cuts, bucket_of
from rmflow.analysis.metrics import NO_ERROR, UNLABELLED
from rmflow.analysis.selection import groups
from rmflow.cli import main
from rmflow.errors import RecordError, UserError
from rmflow.evaluation.answers import answer_code, gold_code
from rmflow.names import ANALYSIS_FIGURES, ANALYSIS_TABLES
from rmflow.synth import make_test_records

SEED = 3
CATS = ("law", "math", "physics")
QUESTIONS, COTS = 10, 8
NS = ("1", "2", "4", "8")


def _rewards(records: list[dict], kind: str, rng: random.Random) -> list[dict]:
    """Reward records (CoTs in shuffled order) of a constructed reward model."""
    out = []
    for rec in records:
        order = list(range(len(rec["cot_ids"])))
        rng.shuffle(order)
        lists = []
        for k in order:
            labels = rec["step_labels"][k]
            correct = answer_code(rec["parsed_answers"][k]) == gold_code(rec["answer"])
            if kind == "perfect_prm":  # P(+) high exactly on the +1 steps
                lists.append([0.9 if x == 1 else 0.1 for x in labels])
            elif kind == "noisy_prm":
                lists.append(
                    [min(1.0, max(0.0, (0.7 if x == 1 else 0.3) + rng.gauss(0, 0.25))) for x in labels]
                )
            elif kind == "oracle_orm":  # two samples, one without a verdict
                lists.append([1.0 if correct else 0.0, None if k % 2 else float("nan")])
            else:
                raise AssertionError(kind)
        out.append({"q_id": rec["q_id"], "cot_ids": [rec["cot_ids"][k] for k in order], "rewards": lists})
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    rng = random.Random(0)
    for d in ("test", "dPRM-a", "dPRM-b", "gORM-o"):
        (root / d).mkdir()
    for cat in CATS:
        records = make_test_records(SEED, cat, QUESTIONS, COTS, step_labels=True)
        public = [{k: v for k, v in r.items() if k != "step_labels"} for r in records]
        (root / "test" / f"{cat}.json").write_text(json.dumps(public))
        for d, kind in (("dPRM-a", "perfect_prm"), ("dPRM-b", "noisy_prm"), ("gORM-o", "oracle_orm")):
            (root / d / f"{cat}_reward.json").write_text(json.dumps(_rewards(records, kind, rng)))
    return root


def _flags(root: Path, out: str) -> list[str]:
    return [
        "--data_path", str(root / "test"), "--category", ",".join(CATS),
        "--reward_dirs", str(root / "dPRM-a"), str(root / "gORM-o"),
        "--model_names", "dPRM-a", "gORM-o", "--strategies", "min", "mean",
        "--num_runs", "12", "--seed", "7", "--Ns", *NS, "--output_dir", str(root / out),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def analyzed(tree: Path) -> Path:
    extra = [
        "--bootstrap",
        "200",
        "--step_labels",
        f"synth:{SEED}",
        "--replicas",
        f"dPRM-a={tree / 'dPRM-b'}",
    ]
    assert main(["analyze", *_flags(tree, "an"), *extra]) == 0
    assert main(["evaluate", *_flags(tree, "ev")]) == 0
    return tree


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _stat(rows: list[dict[str, str]], **match: str) -> float:
    hits = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, (match, len(hits))
    return float(hits[0]["value"] or "nan")


def test_outputs_and_figures(analyzed: Path) -> None:
    out = analyzed / "an"
    for table in ANALYSIS_TABLES:
        assert (out / f"{table}.csv").stat().st_size > 100, table
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["tables"]) == list(ANALYSIS_TABLES)  # the names the workflow's rules declare
    assert summary["categories"]["law"] == {
        "questions": QUESTIONS, "cots": QUESTIONS * COTS, "labelled_cots": QUESTIONS * COTS,
        "per_step_models": ["dPRM-a"],
    }  # fmt: skip
    names = ANALYSIS_FIGURES
    for name in [*names, "length_dPRM-a", "length_gORM-o"]:
        pdf, png = (out / "plots" / f"{name}.{ext}" for ext in ("pdf", "png"))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, name
        # ASCII labels: the text is in the standard (not embedded) Helvetica
        assert pdf.read_bytes()[:5] == b"%PDF-" and b"/Helvetica" in pdf.read_bytes(), name
        assert pdf.stat().st_size > 1000, name
    assert summary["figures"] == [str(out / "plots" / f"{n}.{e}") for n in names for e in ("pdf", "png")] + [
        str(out / "plots" / f"length_{m}.{e}") for m in ("dPRM-a", "gORM-o") for e in ("pdf", "png")
    ]


def test_means_match_the_seed_tables(analyzed: Path) -> None:
    acc = _rows(analyzed / "an" / "accuracy.csv")
    for table in ("best_of_n", "weighted_vote"):
        for row in _rows(analyzed / "ev" / f"{table}.csv"):
            method = row["Method"]
            if method == "MV":
                key = {"selection": "majority_vote", "aggregation": ""}
            elif method == "Pass@N":
                key = {"selection": "pass@N", "aggregation": ""}
            else:
                key = {"selection": table, "aggregation": {"dPRM-a": "min", "gORM-o": "mean"}[method]}
            common = {"N": row["N"], "method": method, **key, "run": ""}
            assert _stat(acc, group="all", statistic="mean", **common) == float(row["Overall_mean"])
            assert _stat(acc, group="all", statistic="seed_pooled_std", **common) == float(row["Overall_std"])
            for cat in CATS:
                assert _stat(acc, group=cat, statistic="mean", **common) == pytest.approx(
                    float(row[f"{cat}_mean"])
                )
                assert _stat(acc, group=cat, statistic="run_std", **common) == pytest.approx(
                    float(row[f"{cat}_std"])
                )


def test_run_std_is_the_spread_of_the_macro_average(analyzed: Path) -> None:
    acc = _rows(analyzed / "an" / "accuracy.csv")
    key = {"N": "2", "selection": "best_of_n", "method": "dPRM-a", "aggregation": "min"}
    runs = [
        float(r["value"])
        for r in acc
        if r["group"] == "all" and r["statistic"] == "accuracy" and all(r[k] == v for k, v in key.items())
    ]
    assert len(runs) == 12
    assert _stat(acc, group="all", statistic="run_std", run="", **key) == pytest.approx(np.std(runs))
    low, high = (_stat(acc, group="all", statistic=s, run="", **key) for s in ("ci95_low", "ci95_high"))
    assert low <= np.mean(runs) <= high


def test_every_aggregation_and_unbiased_pass_at_k(analyzed: Path) -> None:
    acc = _rows(analyzed / "an" / "accuracy.csv")
    for agg in ("last", "min", "max", "mean", "prod"):
        assert not math.isnan(
            _stat(
                acc,
                N="4",
                selection="weighted_vote",
                method="gORM-o",
                aggregation=agg,
                group="math_adjacent",
                statistic="mean",
            )
        )
    # an oracle verifier (score 1 iff correct; the unparsed sample counts 0.5) picks a correct CoT whenever there is one
    for n in NS:
        oracle = _stat(
            acc, N=n, selection="pass@N", method="Pass@N", aggregation="", group="all", statistic="mean"
        )
        best = _stat(
            acc, N=n, selection="best_of_n", method="gORM-o", aggregation="max", group="all", statistic="mean"
        )
        assert best == oracle
    passk = _stat(
        acc, N="8", selection="pass@k", method="Pass@k", aggregation="", group="all", statistic="mean"
    )
    assert passk == _stat(
        acc, N="8", selection="pass@N", method="Pass@N", aggregation="", group="all", statistic="mean"
    )
    assert {r["group"] for r in acc} == {"all", "math_adjacent", "non_math_adjacent", *CATS}


def test_verifier_metrics(analyzed: Path) -> None:
    ver = _rows(analyzed / "an" / "verifier.csv")
    for group in ("all", "law", "math_adjacent"):
        assert _stat(ver, method="gORM-o", aggregation="max", replica="1", group=group, metric="auroc") == 1.0
    ece = _stat(ver, method="gORM-o", aggregation="max", replica="1", group="all", metric="ece_pooled")
    cot_accuracy = _stat(
        ver, method="gORM-o", aggregation="max", replica="1", group="all", metric="cot_accuracy"
    )
    # max(1 or 0, 0.5): 1.0 on correct CoTs (calibrated), 0.5 on wrong ones (off by 0.5)
    assert ece == pytest.approx(0.5 * (1 - cot_accuracy / 100))
    rel = [
        r
        for r in _rows(analyzed / "an" / "reliability.csv")
        if r["method"] == "gORM-o" and r["aggregation"] == "max" and r["group"] == "all"
    ]
    assert len(rel) == 10 and sum(int(r["count"]) for r in rel) == len(CATS) * QUESTIONS * COTS


def test_process_metrics_of_a_perfect_prm(analyzed: Path) -> None:
    rows = _rows(analyzed / "an" / "process.csv")
    assert {r["method"] for r in rows} == {"dPRM-a"}  # the g* lists are not per step
    all_ = next(r for r in rows if r["group"] == "all")
    assert float(all_["acc_erroneous"]) == float(all_["acc_correct"]) == float(all_["f1"]) == 1.0
    assert int(all_["erroneous"]) + int(all_["correct"]) == len(CATS) * QUESTIONS * COTS


def test_replicas(analyzed: Path) -> None:
    rows = _rows(analyzed / "an" / "replicas.csv")
    key = {"metric": "weighted_vote", "N": "8", "method": "dPRM-a", "group": "all"}
    reps = [float(r["value"]) for r in rows if r["replica"] and all(r[k] == v for k, v in key.items())]
    assert len(reps) == 2
    assert _stat(rows, statistic="replica_mean", **key) == pytest.approx(np.mean(reps))
    assert _stat(rows, statistic="replica_std", **key) == pytest.approx(np.std(reps, ddof=1))
    single = {"metric": "auroc", "N": "", "method": "gORM-o", "group": "all"}
    assert _stat(rows, statistic="replicas", **single) == 1
    assert math.isnan(_stat(rows, statistic="replica_std", **single))


def test_comparisons_are_paired_and_named(analyzed: Path) -> None:
    rows = _rows(analyzed / "an" / "comparisons.csv")
    pairs = {(r["method_a"], r["method_b"]) for r in rows}
    assert pairs == {("dPRM-a", "MV"), ("gORM-o", "MV"), ("gORM-o", "dPRM-a")}
    for r in rows:
        assert float(r["ci95_low"]) <= float(r["diff"]) <= float(r["ci95_high"])
        assert 0 < float(r["p_value"]) <= 1


def test_length_buckets() -> None:
    steps = np.array([2, 2, 3, 3, 3, 5, 8, 9, 12, 12])
    cuts = bucket_cuts(steps, 3)
    assert cuts.tolist() == [3, 8]
    assert bucket_of(steps, cuts).tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert bucket_cuts(np.array([4, 4, 4]), 5).tolist() == []


def test_groups() -> None:
    g = groups(["law", "math", "physics"])
    assert g == {"all": ["law", "math", "physics"], "math_adjacent": ["math", "physics"], "non_math_adjacent": ["law"],
                 "law": ["law"], "math": ["math"], "physics": ["physics"]}  # fmt: skip
    assert groups(["test"]) == {"all": ["test"], "test": ["test"]}


def test_user_errors(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", *_flags(tree, "bad"), "--replicas", "nope=x"]) == 2
    assert "not one of --model_names" in capsys.readouterr().err
    assert main(["analyze", *_flags(tree, "bad"), "--step_labels", f"synth:{SEED + 1}"]) == 2
    assert "differs from the synthetic test set of seed" in capsys.readouterr().err


def test_step_label_sources(tmp_path: Path) -> None:
    records = make_test_records(SEED, "law", 3, 4, step_labels=True)
    expected = [
        next((i for i, x in enumerate(lab) if x == -1), NO_ERROR) for r in records for lab in r["step_labels"]
    ]
    public = [{k: v for k, v in r.items() if k != "step_labels"} for r in records]
    # the records' own field; the regenerated synthetic labels; none at all
    assert step_labels(records, "law", "test", None).tolist() == expected
    assert step_labels(public, "law", "test", f"synth:{SEED}").tolist() == expected
    assert (step_labels(public, "law", "test", None) == UNLABELLED).all()
    # a train-schema source {q_id, cot_id, labels} covering some CoTs
    src = tmp_path / "labels"
    src.mkdir()
    rows = [{"q_id": r["q_id"], "cot_id": 1, "labels": r["step_labels"][1]} for r in records]
    (src / "law.json").write_text(json.dumps(rows))
    got = step_labels(public, "law", "test", str(src)).reshape(3, 4)
    assert got[:, 1].tolist() == np.array(expected).reshape(3, 4)[:, 1].tolist()
    assert (got[:, [0, 2, 3]] == UNLABELLED).all()
    rows[2]["labels"] = rows[2]["labels"] + [1]
    (src / "law.json").write_text(json.dumps(rows))
    with pytest.raises(
        RecordError, match=r"law.json: record 2 .*field 'labels'.*cot_id 1: \d+ labels for \d+ steps"
    ):
        step_labels(public, "law", "test", str(src))
    bad = [dict(r) for r in records]
    bad[0]["step_labels"] = bad[0]["step_labels"][:2]
    with pytest.raises(RecordError, match="field 'step_labels'"):
        step_labels(bad, "law", "test", None)
    with pytest.raises(UserError, match="expected synth or synth:SEED"):
        step_labels(public, "law", "test", "synth:x")
