"""Verdict parsing, gold labels and reward arithmetic of the generative reward models."""

from __future__ import annotations

import math

import pytest

from rmflow.generative.verdict import (
    cut_critique,
    has_chinese,
    is_positive,
    orm_gold,
    orm_verdict,
    prm_gold,
    sample_reward,
    step_judgements,
    stop_strings,
    valid_step_judgements,
    verdict_token_reward,
)

YES, NO, OTHER = 7, 9, 3
ORM_YES = "Verification: Is the answer correct (Yes/No)? Yes"
ORM_NO = "Verification: Is the answer correct (Yes/No)? No"


def test_stop_strings_are_the_spec_verdicts():
    assert stop_strings("gORM") == [ORM_YES, ORM_NO]
    assert stop_strings("gPRM") == ["Is the solution correct? Yes", "Is the solution correct? No"]


def test_orm_cut_after_first_verdict_case_insensitive():
    text = "think</think>\nverification: is the answer correct (yes/no)?  NO trailing ... " + ORM_YES
    cut = cut_critique("gORM", text)
    assert cut == "think</think>\nverification: is the answer correct (yes/no)?  NO"
    assert orm_verdict(cut) == -1
    assert orm_verdict("Verification: Is the answer correct (Yes/No)?\nYes") == 1
    assert orm_verdict("no verdict here") is None
    assert cut_critique("gORM", "no verdict here") == "no verdict here"


def test_prm_cut_after_last_step_judgement():
    text = (
        "a</think>Step 1: The step is \\boxed{correct}\nStep 2: The step is \\boxed{incorrect}\n"
        "Is the solution correct? No and more"
    )
    cut = cut_critique("gPRM", text)
    assert cut.endswith("Step 2: The step is \\boxed{incorrect}")
    assert step_judgements(cut) == [1, -1]
    assert cut_critique("gPRM", "nothing") == "nothing"


def test_prm_judgements_read_in_any_case_but_cut_at_lower_case():
    """As the published data was made: judgements parse case-insensitively, the cut is case-sensitive."""
    assert step_judgements("The step is \\boxed{Correct}\nthe STEP is \\boxed{INCORRECT}") == [1, -1]
    text = "a</think>The step is \\boxed{correct}\nThe step is \\boxed{Incorrect} and more"
    assert cut_critique("gPRM", text) == "a</think>The step is \\boxed{correct}"


@pytest.mark.parametrize(
    ("judgements", "k", "ok"),
    [
        ([1, 1, 1], 3, True),  # all correct, exactly K
        ([1, 1], 3, False),  # all correct but fewer than K
        ([1, 1, 1, 1], 3, False),  # more than K
        ([1, -1], 3, True),  # run of +1 ending in one -1
        ([-1], 1, True),
        ([1, 1, -1], 3, True),
        ([1, -1, 1], 3, False),  # continues after the error
        ([-1, -1], 3, False),  # two errors
        ([1, 1, 1, -1], 3, False),  # -1 beyond K
        ([], 3, False),
    ],
)
def test_valid_step_judgements(judgements, k, ok):
    assert valid_step_judgements(judgements, k) is ok


def test_orm_gold_from_answers_or_step_labels():
    assert orm_gold({"parsed_answer": "A", "answer": "A", "labels": [-1]}) == 1
    assert orm_gold({"parsed_answer": "B", "answer": "A", "labels": [1]}) == -1
    assert orm_gold({"parsed_answer": None, "answer": "A", "labels": [1, -1]}) == -1
    assert orm_gold({"parsed_answer": "A", "answer": None, "labels": [1, 1]}) == 1


def test_prm_gold_is_monotone_and_cut():
    assert prm_gold([1, 1, 1]) == [1, 1, 1]
    assert prm_gold([1, -1, 1, -1]) == [1, -1]
    assert prm_gold([-1, 1]) == [-1]


def test_positive_class():
    assert is_positive("gORM", 1) and not is_positive("gORM", -1)
    assert is_positive("gPRM", [1, 1]) and not is_positive("gPRM", [1, -1])


def test_chinese_range():
    assert has_chinese("ok \u4e00") and has_chinese("\u9fff")
    assert not has_chinese("ok \u3042 \ua000")


def test_reward_from_both_logprobs():
    lp = {YES: math.log(0.6), NO: math.log(0.2), OTHER: math.log(0.1)}
    assert verdict_token_reward(lp, YES, NO) == pytest.approx(0.75)
    # numerically stable for very negative logprobs
    assert verdict_token_reward({YES: -1000.0, NO: -1001.0}, YES, NO) == pytest.approx(1 / (1 + math.e**-1))


def test_reward_one_sided_and_missing():
    assert verdict_token_reward({YES: -0.1, OTHER: -3.0}, YES, NO) == 1.0
    assert verdict_token_reward({NO: -0.1, OTHER: -3.0}, YES, NO) == 0.0
    assert math.isnan(verdict_token_reward({OTHER: -0.1}, YES, NO))
    assert math.isnan(verdict_token_reward(None, YES, NO))
    assert math.isnan(verdict_token_reward({}, YES, NO))


def test_sample_reward_needs_the_verdict_string():
    lp = {YES: -0.1, NO: -2.0}
    assert math.isnan(sample_reward("no verdict", lp, "gORM", YES, NO))
    assert sample_reward("... " + ORM_YES, lp, "gORM", YES, NO) == pytest.approx(1 / (1 + math.exp(-1.9)))
    # the gPRM verdict string does not count for gORM and vice versa
    assert math.isnan(sample_reward("Is the solution correct? Yes", lp, "gORM", YES, NO))
    assert sample_reward("Is the solution correct? No", {NO: -0.1}, "gPRM", YES, NO) == 0.0
