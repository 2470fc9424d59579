"""What rmflow evaluate absorbs without failing is counted: answers that are not a letter A-J and NaN
rewards, one warning line each (and one line per reward model) and in summary.json."""

from __future__ import annotations

import json
import logging

import numpy as np
from test_evaluate import evaluate_cli, question, rewards_for

from rmflow.evaluation.scores import flatten, missing_counts

NAN = float("nan")


def test_missing_counts():
    flat, lengths = flatten([[0.2, None], [], [NAN, NAN], [0.9], [NAN]])
    assert missing_counts(flat, lengths) == {"entries": 6, "nan": 4, "lists": 5, "unscored": 3}
    assert missing_counts(np.array([]), np.array([], dtype=np.int64))["unscored"] == 0


def test_evaluate_warns_and_summarises(tmp_path, caplog):
    test = {
        "law": [question(1, ["A", None, "(A)", "b"]), question(2, ["K", "C"], gold="Z")],
        "math": [question(3, ["A", None])],
    }
    rewards = {
        "gORM": {
            "law": [{"q_id": 1, "cot_ids": [0, 1, 2, 3], "rewards": [[NAN, 0.5], [], [0.1], [NAN]]},
                    rewards_for(2, [0.3, None])],
            "math": [rewards_for(3, [0.7, 0.2])],
        },
        "dORM": {"law": [rewards_for(1, [0.1] * 4), rewards_for(2, [0.2] * 2)], "math": [rewards_for(3, [1, 0])]},
    }  # fmt: skip
    with caplog.at_level(logging.INFO, logger="rmflow.evaluation.evaluate"):
        _, code = evaluate_cli(tmp_path, test, rewards, Ns=(1, 2))
    assert code == 0
    lines = {r.getMessage(): r.levelno for r in caplog.records}
    (answers,) = [m for m in lines if "not a single letter A-J" in m]
    assert answers.startswith("4 of 8 parsed answers are not a single letter A-J (2 null, 2 other, e.g. ")
    assert "'(A)'" in answers and "'K'" in answers and "most in law 3, math 1" in answers
    assert answers.endswith("; 1 of 3 gold answers are not a letter A-J and match nothing")
    assert lines[answers] == logging.WARNING
    gorm = "gORM: 37.50% of reward entries are NaN or null (3 of 8), each counted as 0.5; 3 of 8 CoTs"
    (line,) = [m for m in lines if m.startswith("gORM:")]
    assert line.startswith(gorm) and lines[line] == logging.WARNING
    (line,) = [m for m in lines if m.startswith("dORM:")]
    assert line == "dORM: 0.00% of reward entries are NaN or null (0 of 8), each counted as 0.5"
    assert lines[line] == logging.INFO

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["categories"]["law"] == {"questions": 2, "cots": 6}
    answers = summary["answers_not_a_letter"]
    assert (answers["null"], answers["other"], answers["gold"]) == (2, 2, 1)
    assert answers["categories"]["math"] == {"null": 1, "other": 0, "examples": [], "gold": 0}
    nan = summary["reward_nan"]["gORM"]
    assert (nan["nan"], nan["entries"], nan["unscored"], nan["lists"]) == (3, 8, 3, 8)
    assert nan["nan_share"] == 3 / 8
    assert nan["categories"]["math"] == {"entries": 2, "nan": 0, "lists": 2, "unscored": 0}
    assert summary["reward_nan"]["dORM"]["nan_share"] == 0.0


def test_clean_inputs_warn_nothing(tmp_path, caplog):
    test = {"law": [question(1, ["A", "B"])]}
    with caplog.at_level(logging.INFO, logger="rmflow.evaluation.evaluate"):
        _, code = evaluate_cli(tmp_path, test, {"dPRM": {"law": [rewards_for(1, [0.4, 0.6])]}}, Ns=(1, 2))
    assert code == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
