"""``rmflow evaluate`` sizes: the memory estimate against the measured peak, the refusal of a setting
that does not fit (before anything large is allocated), and the warning for Ns beyond a question's CoTs."""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rmflow.cli import main
from rmflow.evaluation import legacy_shuffle, memory, vote
from rmflow.evaluation.inputs import CategoryData
from rmflow.evaluation.legacy_shuffle import expected_draws


def category(questions: int, cots: np.ndarray, models: int, rng: np.random.Generator) -> CategoryData:
    total = int(cots.sum())
    data = CategoryData(
        "law",
        list(range(questions)),
        cots.astype(np.int64),
        rng.integers(0, 11, total).astype(np.int8),
        rng.integers(0, 10, questions).astype(np.int8),
    )
    data.scores = {f"m{i}": rng.random(total) for i in range(models)}
    return data


@pytest.mark.parametrize(
    "questions, runs, cots, Ns, models",
    [
        (40, 150, 16, (1, 2, 4, 8, 16), 4),  # the default config's shape
        (40, 150, 32, (1, 2, 4, 8, 16), 4),  # more CoTs than the largest N
        (10, 80, 128, (1, 2, 4, 8, 16, 32, 64, 128), 2),
        (40, 200, 16, (1, 2, 4, 8, 16, 32), 1),  # an N beyond every question's CoTs
        (30, 200, 8, (16,), 0),
        (20, 100, -128, (1, 2, 4, 8, 16), 1),  # the paper's shape (every question 128 CoTs): drawing
        # the subsamples weighs most
    ],
)
def test_estimate_bounds_the_measured_peak(questions, runs, cots, Ns, models):
    rng = np.random.default_rng(0)
    if cots < 0:  # all questions -cots CoTs
        cots = -cots
        n_cots = np.full(questions, cots)
    else:
        n_cots = rng.integers(cots // 2, cots + 1, questions)
        n_cots[0] = cots
    data = category(questions, n_cots, models, rng)
    tracemalloc.start()
    try:
        vote.accuracies(data, Ns, vote.permutations(data, Ns, runs, 42))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    same_size = int(np.unique(n_cots, return_counts=True)[1].max())
    estimate = memory.evaluation_bytes(questions, runs, Ns, models, cots, same_size)
    assert peak <= estimate <= 2 * peak, (peak, estimate)


def test_shuffle_draws_stay_below_the_estimates_bound():
    assert all(expected_draws(n) < 2 * n + 64 for n in range(2, 3000))
    assert memory.STATE_CHUNK == legacy_shuffle._CHUNK and memory.STATE_WORDS == legacy_shuffle.WORDS


def test_vote_bins_match_the_evaluator():
    assert memory.VOTE_BINS == vote.SLOTS


def test_limit_is_a_share_of_the_available_memory():
    available = memory.available_memory()
    assert available is not None and available > 0  # Linux: /proc/meminfo
    assert memory.memory_limit() <= available


def write_test_set(root: Path, cots_per_question: list[int]) -> str:
    records = [
        {
            "q_id": q,
            "question": f"q{q}",
            "cot_ids": list(range(n)),
            "cots": [["step"]] * n,
            "parsed_answers": ["A"] * n,
            "answer": "A",
        }
        for q, n in enumerate(cots_per_question)
    ]
    (root / "test").mkdir(parents=True)
    (root / "test" / "law.json").write_text(json.dumps(records))
    return str(root / "test")


def test_num_runs_beyond_memory_is_refused_before_allocating(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "memory_limit", lambda: 2**30)
    data = write_test_set(tmp_path, [4, 4])
    out = tmp_path / "out"
    start = time.perf_counter()
    args = ["evaluate", "--data_path", data, "--output_dir", str(out), "--category", "law"]
    code = main([*args, "--num_runs", str(10**9), "--Ns", "1", "2", "4"])
    assert time.perf_counter() - start < 10  # refused up front, not after drawing 10^9 permutations
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 2 and len(err) == 1, err  # one line (besides the progress bar)
    need = memory.human(memory.evaluation_bytes(2, 10**9, (1, 2, 4), 0, 4))
    assert err[0].startswith("rmflow evaluate: error: --num_runs 1000000000 x --Ns 1 2 4 over ")
    assert f"category law (2 questions, 0 reward models) needs about {need} of memory" in err[0]
    assert "more than the limit of 1.0 GiB" in err[0]
    assert not out.exists()
    assert main([*args, "--num_runs", "3", "--Ns", "1", "2", "4"]) == 0  # what fits runs


def test_Ns_beyond_the_cots_warn_with_counts(tmp_path, caplog):
    data = write_test_set(tmp_path, [2, 4, 8])
    args = ["evaluate", "--data_path", data, "--output_dir", str(tmp_path / "out"), "--category", "law"]
    with caplog.at_level(logging.WARNING, logger="rmflow.evaluation.evaluate"):
        assert main([*args, "--num_runs", "2", "--Ns", "1", "2", "4", "8"]) == 0
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("--Ns 4 8 exceed the CoT count of some questions (")
    assert "N=4: 1 of 3 questions, in 1 of 1 categories; N=8: 2 of 3 questions" in warning
    assert "the fewest CoTs of a question: 2" in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rmflow.evaluation.evaluate"):
        assert main([*args, "--num_runs", "2", "--Ns", "1", "2"]) == 0
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    "questions, cots, runs, Ns, bootstrap",
    [(20, 16, 300, (1, 2, 4, 8, 16), 200), (10, 32, 100, (1, 2, 4, 8, 16, 32), 2000)],
)
def test_analysis_estimate_bounds_the_measured_peak(tmp_path, questions, cots, runs, Ns, bootstrap):
    """``rmflow analyze``'s large parts on one category (its evaluator pass over every score set, the
    bootstrap, the accuracy table's rows and their CSV text) stay below :func:`memory.analysis_bytes`."""
    from rmflow.analysis.inputs import load_analysis_category, score_sets
    from rmflow.analysis.selection import groups, select, series_list
    from rmflow.analysis.settings import analysis_settings
    from rmflow.analysis.tables import accuracy_rows
    from rmflow.analysis.uncertainty import CategoryResamples
    from rmflow.cli import build_parser
    from rmflow.io import read_records
    from rmflow.synth import synthesize

    synthesize(tmp_path, seed=1, category="law", train_questions=0, test_questions=questions, test_cots=cots,
               kinds=["test"])  # fmt: skip
    rng = np.random.default_rng(0)
    dirs = []
    for m in ("dORM-a", "dPRM-b"):
        (tmp_path / m).mkdir()
        rewards = [{"q_id": r["q_id"], "cot_ids": r["cot_ids"], "rewards": [rng.random(len(c)).tolist()
                    for c in r["cots"]]} for r in read_records(tmp_path / "test" / "law.jsonl")]  # fmt: skip
        (tmp_path / m / "law_reward.json").write_text(json.dumps(rewards))
        dirs.append(str(tmp_path / m))
    args = build_parser("analyze").parse_args(
        ["analyze", "--data_path", str(tmp_path / "test"), "--reward_dirs", *dirs, "--output_dir", "o",
         "--category", "law", "--num_runs", str(runs), "--Ns", *map(str, Ns), "--bootstrap", str(bootstrap)]
    )  # fmt: skip
    s = analysis_settings(args)
    ev = s.evaluation
    sets = score_sets(ev.models, s.replicas)
    own = [
        x for x in sets if x.replica == 0 and x.strategy == {m.name: m.strategy for m in ev.models}[x.model]
    ]
    series = series_list(ev.Ns, sets)
    tracemalloc.start()
    try:
        cat = load_analysis_category(ev.data_path, "law", ev.models, s.replicas, sets, None, 0.5)
        sel = select(cat, series, ev.Ns, runs, ev.seed, {x.key for x in own})
        resamples = CategoryResamples.draw(sel.p, "law", ev.seed, bootstrap, bootstrap)
        rows = accuracy_rows("t", series, {"law": sel}, {"law": resamples}, groups(["law"]))
        text = "\n".join(",".join(map(str, row)) for row in rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text
    primary = sum(x.replica == 0 for x in sets)
    estimate = memory.analysis_bytes([questions], runs, Ns, len(sets), len(own), primary, bootstrap, cots)
    assert peak <= estimate <= 3 * peak, (peak, estimate)
