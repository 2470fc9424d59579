"""``rmflow evaluate``: hand-checked examples of every rule, the output format, errors."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from rmflow.cli import main
from rmflow.data import validate_records
from rmflow.errors import RecordError, UserError
from rmflow.evaluation import reference
from rmflow.evaluation.answers import NA, NO_MATCH, answer_code, answer_codes, gold_code, normalize
from rmflow.evaluation.report import header, table_rows
from rmflow.evaluation.scores import aggregate, default_strategy, flatten, score_lists
from rmflow.evaluation.subsample import permutation_prefixes, run_seed, run_seeds


# --------------------------------------------------------------------------- helpers
def write_set(root: Path, test: dict, rewards: dict | None = None) -> tuple[str, list[str]]:
    """Write ``root/test/{cat}.json`` and ``root/{model}/{cat}_reward.json``; return the directories."""
    (root / "test").mkdir(parents=True, exist_ok=True)
    for cat, records in test.items():
        (root / "test" / f"{cat}.json").write_text(json.dumps(records))
    dirs = []
    for model, per_cat in (rewards or {}).items():
        (root / model).mkdir(exist_ok=True)
        for cat, records in per_cat.items():
            (root / model / f"{cat}_reward.json").write_text(json.dumps(records))
        dirs.append(str(root / model))
    return str(root / "test"), dirs


def question(q_id, answers, gold="A", cot_ids=None) -> dict:
    cot_ids = list(range(len(answers))) if cot_ids is None else cot_ids
    return {
        "q_id": q_id,
        "question": f"q{q_id}",
        "cot_ids": cot_ids,
        "cots": [["step"] for _ in answers],
        "parsed_answers": answers,
        "answer": gold,
    }


def rewards_for(q_id, scores, cot_ids=None) -> dict:
    cot_ids = list(range(len(scores))) if cot_ids is None else cot_ids
    return {"q_id": q_id, "cot_ids": cot_ids, "rewards": [[s] for s in scores]}


def evaluate_cli(tmp_path, test, rewards=None, Ns=(1, 2, 4, 8, 16), extra=(), num_runs=3):
    """Run ``rmflow evaluate``; return {table: {(N, method): row dict}} and the exit code."""
    data, dirs = write_set(tmp_path / "in", test, rewards)
    out = tmp_path / "out"
    args = ["evaluate", "--data_path", data, "--output_dir", str(out), "--num_runs", str(num_runs)]
    args += ["--category", ",".join(test), "--Ns", *map(str, Ns), *extra]
    if dirs:
        args += ["--reward_dirs", *dirs, "--model_names", *(Path(d).name for d in dirs)]
    code = main(args)
    if code:
        return None, code
    tables = {}
    for name in ("best_of_n", "weighted_vote"):
        with open(out / f"{name}.csv", newline="") as fh:
            tables[name] = {(int(r["N"]), r["Method"]): r for r in csv.DictReader(fh)}
    return tables, code


# --------------------------------------------------------------------------- subsampling
def test_legacy_choice_is_a_permutation_prefix():
    for seed in range(300):
        n = 2 + seed % 150
        size = 1 + seed % (n - 1)
        chosen = np.random.RandomState(seed).choice(n, size, replace=False)
        assert np.array_equal(chosen, np.random.RandomState(seed).permutation(n)[:size])


def test_permutation_prefixes_match_fresh_generators_per_run():
    seed, q_id, n = 42, "law-7", 37
    prefixes = permutation_prefixes([q_id], np.array([n]), 5, seed, 16)[0]
    for run in range(5):
        digest = int(hashlib.md5(f"{seed}_{run}_{q_id}".encode()).hexdigest()[:8], 16)
        assert run_seed(seed, run, q_id) == digest == run_seeds([q_id], 5, seed)[0, run]
        for size in (1, 2, 4, 8, 16):
            expected = np.random.RandomState(digest).choice(n, size, replace=False)
            assert np.array_equal(prefixes[run, :size], expected)
    assert run_seed(42, 0, 5) == run_seed(42, 0, "5")  # the seed sees str(q_id)


# --------------------------------------------------------------------------- scores and answers
def test_strategies_with_null_nan_and_empty_lists():
    lists = [[0.2, None, math.nan, 0.9], [], [math.nan], [0.3]]
    expected = {
        "last": [0.9, 0.5, 0.5, 0.3],
        "min": [0.2, 0.5, 0.5, 0.3],
        "max": [0.9, 0.5, 0.5, 0.3],
        "mean": [(0.2 + 0.5 + 0.5 + 0.9) / 4, 0.5, 0.5, 0.3],
        "prod": [0.2 * 0.5 * 0.5 * 0.9, 0.5, 0.5, 0.3],
    }
    for strategy, values in expected.items():
        np.testing.assert_allclose(score_lists(lists, strategy), values, rtol=0, atol=1e-15)
        assert [reference.score(lst, strategy) for lst in lists] == pytest.approx(values, abs=1e-15)
    assert score_lists([[], []], "min").tolist() == [0.5, 0.5]
    with pytest.raises(UserError, match="unknown strategy 'median'"):
        score_lists(lists, "median")


def test_mean_is_bitwise_numpy_mean_per_list():
    rng = np.random.default_rng(3)
    lists = [rng.random(int(k)).tolist() for k in rng.integers(0, 40, size=400)]
    fast = score_lists(lists, "mean")
    slow = [reference.score(lst, "mean") for lst in lists]
    assert fast.tolist() == slow


def test_default_strategies_follow_the_paper():
    assert [default_strategy(n) for n in ("dORM-14B", "dPRM", "gORM-8B", "gPRM-qwen")] == [
        "last",
        "min",
        "mean",
        "mean",
    ]
    with pytest.raises(UserError, match="no default strategy for model 'mine'"):
        default_strategy("mine")


def test_answer_normalisation():
    assert [normalize(a) for a in ["A", " b ", "j\n", "K", "AB", "", None, 3, "N/A"]] == [
        "A",
        "b",
        "j",
        "N/A",
        "N/A",
        "N/A",
        "N/A",
        "N/A",
        "N/A",
    ]
    assert answer_code("c") == answer_code(" C ") == 2
    assert answer_codes(["a", None, "a", "k"]).tolist() == [0, NA, 0, NA]
    assert gold_code(" b") == 1 and gold_code("n/a") == NA and gold_code("K") == NO_MATCH


# --------------------------------------------------------------------------- voting rules
def test_ties_go_to_the_answer_seen_first_in_subsample_order(tmp_path):
    # two CoTs, N >= 2 takes both in order: B seen first wins the 1-1 tie (MV and weighted vote)
    test = {"law": [question(1, ["B", "A"], gold="B"), question(2, ["B", "A"], gold="A")]}
    rewards = {"dORM": {"law": [rewards_for(1, [0.5, 0.5]), rewards_for(2, [0.5, 0.5])]}}
    tables, _ = evaluate_cli(tmp_path, test, rewards, Ns=(2,))
    for table in tables.values():
        assert float(table[2, "MV"]["law_mean"]) == 50.0  # q1 right, q2 wrong
        assert float(table[2, "dORM"]["law_mean"]) == 50.0  # equal scores: first CoT / first answer
        assert float(table[2, "Pass@N"]["law_mean"]) == 100.0


def test_tie_order_follows_each_runs_permutation(tmp_path):
    # three CoTs A, B, C; N=2 picks two in a run-specific order; the tie goes to the first picked
    q = question("q", ["A", "B", "C"], gold="A")
    tables, _ = evaluate_cli(tmp_path, {"law": [q]}, Ns=(2,), num_runs=6)
    expected = []
    for run in range(6):
        picked = np.random.RandomState(run_seed(42, run, "q")).choice(3, 2, replace=False)
        expected.append(100.0 if picked[0] == 0 else 0.0)
    assert float(tables["best_of_n"][2, "MV"]["law_mean"]) == pytest.approx(np.mean(expected))
    assert float(tables["best_of_n"][2, "MV"]["law_std"]) == pytest.approx(np.std(expected))


def test_unparsed_answers_vote_as_na(tmp_path):
    # None and 'K' both become N/A (2 votes) and beat A (1 vote); Pass@N still sees A
    test = {"law": [question(1, [None, "K", "A"], gold="A")]}
    tables, _ = evaluate_cli(tmp_path, test, Ns=(4,))
    assert float(tables["best_of_n"][4, "MV"]["law_mean"]) == 0.0
    assert float(tables["best_of_n"][4, "Pass@N"]["law_mean"]) == 100.0
    # a gold answer written N/A is matched by unparsed predictions, case-insensitively
    tables, _ = evaluate_cli(tmp_path, {"law": [question(1, [None, "x", "A"], gold="n/a")]}, Ns=(4,))
    assert float(tables["best_of_n"][4, "MV"]["law_mean"]) == 100.0


def test_best_of_n_and_weighted_vote(tmp_path):
    test = {
        "law": [
            question(1, ["a", "B", "b"], gold="B"),  # WV: b 0.4+0.4 < a 0.9; BoN: a
            question(2, ["A", "b", "B"], gold="b"),  # WV: b 0.5+0.5 > A 0.9; BoN: A
            question(3, ["C", "D"], gold="D"),  # equal best scores: first CoT (C)
        ]
    }
    rewards = {
        "gORM": {
            "law": [
                rewards_for(1, [0.9, 0.4, 0.4]),
                rewards_for(2, [0.9, 0.5, 0.5]),
                rewards_for(3, [0.7, 0.7]),
            ]
        }
    }
    tables, _ = evaluate_cli(tmp_path, test, rewards, Ns=(4,))
    assert float(tables["best_of_n"][4, "gORM"]["law_mean"]) == 0.0
    assert float(tables["weighted_vote"][4, "gORM"]["law_mean"]) == pytest.approx(100 / 3)
    assert float(tables["best_of_n"][4, "MV"]["law_mean"]) == pytest.approx(200 / 3)


def test_weighted_vote_with_non_positive_scores(tmp_path):
    # all scores 0: every seen answer totals 0 -> tie -> first seen (B), never an unseen letter
    test = {"law": [question(1, ["B", "A"], gold="B")]}
    rewards = {"m": {"law": [{"q_id": 1, "cot_ids": [0, 1], "rewards": [[0.0], [0.0]]}]}}
    tables, _ = evaluate_cli(tmp_path, test, rewards, Ns=(2,), extra=["--strategies", "last"])
    assert float(tables["weighted_vote"][2, "m"]["law_mean"]) == 100.0
    rewards = {"m": {"law": [{"q_id": 1, "cot_ids": [0, 1], "rewards": [[-2.0], [-1.0]]}]}}
    tables, _ = evaluate_cli(tmp_path, test, rewards, Ns=(2,), extra=["--strategies", "last"])
    assert float(tables["weighted_vote"][2, "m"]["law_mean"]) == 0.0  # A (-1) beats B (-2)


def test_overall_is_a_macro_average_with_population_std(tmp_path):
    # law: 1 question, right (100); math: 3 questions, 1 right (33.3): Overall 66.7, not 50
    test = {
        "law": [question(1, ["A"])],
        "math": [question(1, ["A"]), question(2, ["B"]), question(3, ["C"])],
    }
    tables, _ = evaluate_cli(tmp_path, test, Ns=(1,))
    row = tables["best_of_n"][1, "MV"]
    assert float(row["Overall_mean"]) == pytest.approx((100 + 100 / 3) / 2)
    assert float(row["Overall_std"]) == pytest.approx(np.std([100, 100 / 3]))  # ddof 0
    assert float(row["law_std"]) == 0.0


def test_report_statistics():
    per_category = {
        "law": {("best_of_n", 1, "MV"): np.array([100.0, 50.0]), ("best_of_n", 1, "Pass@N"): np.ones(2)},
        "math": {("best_of_n", 1, "MV"): np.array([0.0, 0.0]), ("best_of_n", 1, "Pass@N"): np.ones(2)},
    }
    row, pass_row = table_rows("best_of_n", per_category, ["law", "math"], [1], [])
    assert pass_row[:3] == ["1", "Pass@N", "1.0"]
    assert row[:2] == ["1", "MV"]
    means, stds = row[2:5], row[5:8]
    assert means == ["37.5", "75.0", "0.0"]
    assert stds == [repr(float(np.std([100, 50, 0, 0]))), "25.0", "0.0"]  # ddof 0: 25, not 35.4


def test_csv_layout_and_zero_models(tmp_path):
    test = {"law": [question(1, ["A", "B", "A"])], "other": [question("x", ["C", None])]}
    tables, code = evaluate_cli(tmp_path, test, Ns=(1, 2))
    assert code == 0
    lines = (tmp_path / "out" / "best_of_n.csv").read_text().splitlines()
    assert lines[0] == ",".join(header(["law", "other"]))
    assert lines[0] == "N,Method,Overall_mean,law_mean,other_mean,Overall_std,law_std,other_std"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["1", "MV"],
        ["1", "Pass@N"],
        ["2", "MV"],
        ["2", "Pass@N"],
    ]
    assert (tmp_path / "out" / "weighted_vote.csv").read_text() == "\n".join(lines) + "\n"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["categories"]["other"] == {"questions": 1, "cots": 2}


def test_rows_follow_model_order_and_rewards_join_on_cot_id(tmp_path):
    # the reward file lists the CoTs in another order: the join must follow cot_ids
    test = {"law": [question(7, ["A", "B", "C"], gold="C", cot_ids=[10, 20, 30])]}
    rewards = {
        "zeta": {"law": [rewards_for(7, [0.9, 0.1, 0.2], cot_ids=[30, 10, 20])]},
        "alpha": {"law": [rewards_for(7, [0.9, 0.1, 0.2], cot_ids=[10, 20, 30])]},
    }
    tables, _ = evaluate_cli(tmp_path, test, rewards, Ns=(8,), extra=["--strategies", "max", "max"])
    assert [m for n, m in tables["best_of_n"]] == ["MV", "zeta", "alpha", "Pass@N"]
    assert float(tables["best_of_n"][8, "zeta"]["law_mean"]) == 100.0  # cot 30 (C) has 0.9
    assert float(tables["best_of_n"][8, "alpha"]["law_mean"]) == 0.0  # cot 10 (A) has 0.9


# --------------------------------------------------------------------------- errors
JOIN_ERRORS = [
    (  # reward for a q_id the test set lacks
        [rewards_for(1, [0.5, 0.5]), rewards_for(99, [0.5])],
        r"reward model m .*category law: reward for q_id 99 \(cot_id 0\) but the test set has no such question",
    ),
    (  # reward naming a CoT the question lacks
        [rewards_for(1, [0.5, 0.5], cot_ids=[0, 5])],
        r"reward model m .*category law: reward for q_id 1, cot_id 5 but the test set has no such CoT",
    ),
    (  # a test CoT without reward
        [rewards_for(1, [0.5])],
        r"reward model m .*category law: no reward for test CoT q_id 1, cot_id 1",
    ),
    (  # a test question without any reward record
        [],
        r"reward model m .*category law: no reward for test CoT q_id 1, cot_id 0",
    ),
]


@pytest.mark.parametrize(("reward_records", "message"), JOIN_ERRORS)
def test_join_errors_name_model_category_q_id_and_cot_id(tmp_path, capsys, reward_records, message):
    test = {"law": [question(1, ["A", "B"])]}
    _, code = evaluate_cli(tmp_path, test, {"m": {"law": reward_records}}, extra=["--strategies", "last"])
    assert code == 2
    assert capsys.readouterr().err.count("rmflow evaluate: error:") == 1
    data, dirs = write_set(tmp_path / "ref", test, {"m": {"law": reward_records}})
    args = ["--data_path", data, "--reward_dirs", *dirs, "--strategies", "last", "--category", "law"]
    assert reference.main([*args, "--output_dir", str(tmp_path / "ref_out")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err


def test_bad_inputs_are_user_errors(tmp_path, capsys):
    test = {"law": [question(1, ["A"])]}
    rewards = {"m": {"law": [rewards_for(1, [0.5])]}}
    cases = [
        (["--model_names", "a", "b"], "--model_names has 2 names for 1 --reward_dirs"),
        (["--strategies", "last", "min"], "--strategies has 2 entries for 1 --reward_dirs"),
        (["--strategies", "min", "--Ns", "0"], "--Ns must be distinct positive integers"),
        (["--strategies", "min", "--Ns", "2", "2"], "--Ns must be distinct positive integers"),
        (["--strategies", "min", "--num_runs", "0"], "--num_runs must be at least 1"),
        (["--strategies", "min", "--model_names", "MV"], "'MV' is empty, repeated or reserved"),
        ([], "no default strategy for model 'm'"),
    ]
    for extra, message in cases:
        data, dirs = write_set(tmp_path / "in", test, rewards)
        args = ["evaluate", "--data_path", data, "--output_dir", str(tmp_path / "o"), "--category", "law"]
        args += ["--reward_dirs", *dirs, *extra]
        assert main(args) == 2
        assert message in capsys.readouterr().err
    # no test CoTs, no questions, a malformed reward value (via the precise record validator)
    for bad, message in [
        ([question(1, [])], "q_id 1 has no CoTs"),
        ([], "category law has no questions"),
    ]:
        data, _ = write_set(tmp_path / "bad", {"law": bad})
        assert (
            main(["evaluate", "--data_path", data, "--output_dir", str(tmp_path / "o"), "--category", "law"])
            == 2
        )
        assert message in capsys.readouterr().err
    bad_rewards = {"m": {"law": [{"q_id": 1, "cot_ids": [0], "rewards": [["0.5"]]}]}}
    data, dirs = write_set(tmp_path / "bad2", test, bad_rewards)
    args = ["evaluate", "--data_path", data, "--output_dir", str(tmp_path / "o"), "--category", "law"]
    assert main([*args, "--reward_dirs", *dirs, "--strategies", "mean"]) == 2
    assert "law_reward.json: record 0 (q_id 1), field 'rewards'" in capsys.readouterr().err


def test_bulk_reward_reading_falls_back_to_the_record_validator(tmp_path):
    from rmflow import fast_records
    from rmflow.evaluation.inputs import REWARDS, RewardModel, load_rewards

    def reward_dir(name, records):
        (tmp_path / name).mkdir()
        (tmp_path / name / "law_reward.json").write_text(json.dumps(records))
        return RewardModel(name, str(tmp_path / name), "mean")

    good = [{"q_id": "a", "cot_ids": [3, 1], "rewards": [[0.1, None], [math.nan, 1]]}]
    model = reward_dir("good", good)
    assert fast_records.read(tmp_path / "good" / "law_reward.json", REWARDS) is not None
    _, flat, lengths = load_rewards(model, "law")
    ref_flat, ref_lengths = flatten([[0.1, None], [math.nan, 1]])
    assert np.array_equal(flat, ref_flat, equal_nan=True)
    assert lengths.tolist() == ref_lengths.tolist() == [2, 2]
    assert aggregate(flat, lengths, "mean").tolist() == [0.3, 0.75]
    bad = [
        [{"q_id": True, "cot_ids": [0], "rewards": [[0.1]]}],
        [{"q_id": "", "cot_ids": [0], "rewards": [[0.1]]}],
        [{"q_id": 1, "cot_ids": [0, 0], "rewards": [[0.1], [0.2]]}],
        [{"q_id": 1, "cot_ids": [0], "rewards": [[True]]}],
        [{"q_id": 1, "cot_ids": [0], "rewards": [[math.inf]]}],
        [{"q_id": 1, "cot_ids": [0], "rewards": [0.1]}],
        [{"q_id": 1, "cot_ids": [0], "rewards": []}],
        [{"q_id": 1, "cot_ids": [0.0], "rewards": [[0.1]]}],
        [{"q_id": 1, "cot_ids": [0], "rewards": [[0.1]]}, {"q_id": 1, "cot_ids": [0], "rewards": [[0.1]]}],
        [{"q_id": 1, "rewards": [[0.1]]}],
    ]
    for i, records in enumerate(bad):
        model = reward_dir(f"bad{i}", records)
        with pytest.raises(RecordError):
            validate_records("reward", records, "x.json")
        with pytest.raises(RecordError):
            load_rewards(model, "law")
