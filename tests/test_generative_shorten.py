"""``rmflow shorten``: critiques cut back to their verdict."""

from __future__ import annotations

import json

from rmflow.data import load_records
from rmflow.generative.shorten import shorten, shorten_critique

HEAD = "<think>\nLet's verify step by step:"
ORM = "Verification: Is the answer correct (Yes/No)?"


def test_orm_keeps_reasoning_and_rewrites_verdict_from_label():
    critique = HEAD + " long reasoning</think>\n\nSummary of the checks.\n" + f"{ORM} Yes"
    new, what = shorten_critique("gORM", critique, 1)
    assert (new, what) == (HEAD + f" long reasoning</think>\n\n{ORM} Yes", "shortened")
    # the verdict comes from the label, not from the text
    assert shorten_critique("gORM", critique, -1)[0].endswith(f"</think>\n\n{ORM} No")


def test_orm_already_short_is_unchanged():
    critique = HEAD + f" r</think>\n\n{ORM} No"
    assert shorten_critique("gORM", critique, -1) == (critique, "unchanged")


def test_only_critiques_with_exactly_one_think_close_change():
    none = HEAD + f" r\n\n{ORM} Yes"
    two = HEAD + f" r</think> again</think>\n\nextra\n{ORM} Yes"
    assert shorten_critique("gORM", none, 1) == (none, "not one </think>")
    assert shorten_critique("gORM", two, 1) == (two, "not one </think>")
    assert shorten_critique("gPRM", two, [1]) == (two, "not one </think>")


def test_prm_keeps_up_to_first_final_verdict_after_think():
    critique = (
        HEAD + " Is the solution correct? Yes (inside thinking)</think>\n"
        "Step 1: The step is \\boxed{incorrect}\nIs the solution correct?  No\nMore text. Is the solution correct? Yes"
    )
    new, what = shorten_critique("gPRM", critique, [-1])
    assert what == "shortened"
    assert new.endswith("Step 1: The step is \\boxed{incorrect}\nIs the solution correct?  No")


def test_prm_final_verdict_in_any_case():
    critique = (
        HEAD + "</think>\nStep 1: The step is \\boxed{correct}\nis the solution CORRECT?\nyes. Then more"
    )
    new, what = shorten_critique("gPRM", critique, [1])
    assert what == "shortened" and new.endswith("is the solution CORRECT?\nyes")


def test_prm_without_final_verdict_after_think_is_unchanged():
    critique = HEAD + " Is the solution correct? Yes</think>\nStep 1: The step is \\boxed{correct}"
    assert shorten_critique("gPRM", critique, [1]) == (critique, "no verdict after </think>")


def test_stage_keeps_other_fields(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    base = {"q_id": 3, "question": "Q", "cot_id": 1, "cot": ["a"], "labels": 1}
    records = [
        {**base, "critique": HEAD + f" r</think>\n\nwordy\n{ORM} Yes"},
        {**base, "cot_id": 2, "critique": HEAD + f" r\n{ORM} Yes"},
    ]
    (src / "math.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    stats = shorten("gORM", str(src), tmp_path / "out", "math")
    out = load_records(tmp_path / "out", "math", "train_gORM")
    assert out[0] == {**base, "critique": HEAD + f" r</think>\n\n{ORM} Yes"}
    assert out[1] == records[1]
    assert stats["math"]["shortened"] == 1 and stats["math"]["not one </think>"] == 1
    assert (tmp_path / "out" / "shorten_stats.json").exists()
