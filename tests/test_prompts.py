"""The interface strings of docs/formats.md#model-inputs, checked against literal expected text."""

import pytest

from rmflow.categories import display_name
from rmflow.prompts import (
    discriminative_parts,
    discriminative_text,
    generation_prompt,
    orm_prompt,
    prm_prompt,
    prm_teacher_prompt,
    render_steps,
)


def test_display_names():
    assert display_name("computer_science") == "computer science"
    for alias in ("prm800k", "gsm8k", "math", "olympiadbench", "omnimath"):
        assert display_name(alias) == "math"
    assert display_name("law") == "law"
    assert display_name("other") == ""
    assert display_name("unknown_thing") == ""


def test_orm_prompt_exact():
    got = orm_prompt("computer_science", "  What is 2+2?\n", ["Add them.", "The answer is (B). "])
    want = (
        "You are a computer science teacher. Grade the solution, verifying correctness step by step.\n"
        "At the end of Solution verification, when you give your final grade, write it in the form "
        '"Verification: Is the answer correct (Yes/No)? X", where X is either Yes or No.\n\n'
        "[Computer science Problem]\nWhat is 2+2?\n\n[Solution]\nAdd them.\n\nThe answer is (B).\n"
    )
    assert got == want


def test_orm_prompt_other_category_has_empty_name():
    assert orm_prompt("other", "q", ["s"]).startswith("You are a  teacher.")
    assert "\n\n[ Problem]\nq\n" in orm_prompt("other", "q", ["s"])


def test_prm_prompt_exact_nothing_stripped():
    got = prm_prompt("law", " Q ", [" a", "b "])
    want = (
        "You are given a law problem and a proposed step-by-step solution:\n\n"
        "[Law Problem]\n Q \n\n[Solution]\nStep 1:  a\nStep 2: b \n\n"
        "Review and critique each step in the proposed solution to determine whether each step is correct. "
        "If the solution is incomplete, only verify the provided steps."
    )
    assert got == want


def test_prm_teacher_prompt_exact():
    got = prm_teacher_prompt("math", "Q", ["x"])
    want = (
        "You are given a math problem and a proposed multiple-step solution (with a step on each line):\n\n"
        "[Math Problem]\nQ\n\n[Solution]\nStep 1: x\n\n"
        "Review and critique the proposed solution steps and determine whether each step is correct. "
        "If the solution is incomplete, only critique the steps that are provided. Your output must be in the "
        "following format:\n\nStep 1: The step is \\boxed{correct/incorrect}\nStep 2: The step is "
        "\\boxed{correct/incorrect}\n...\nStep n: The step is \\boxed{correct/incorrect}\n\nOnce you find an "
        "incorrect step, you should stop since you do not need to analyze the remaining steps. If the solution "
        "is incomplete, only verify the provided steps."
    )
    assert got == want
    assert "\\boxed" in got and "\b" not in got


def test_render_steps():
    assert render_steps(["a", "b"]) == "Step 1: a\nStep 2: b"


def test_discriminative_text():
    text = discriminative_text(" Q \n\n\n\n", ["one \n\n\n\n", " two "])
    assert text == "Q \n\none \n\n\n\ntwo \n\n\n\n"
    head, parts = discriminative_parts("Q", ["a"])
    assert head == "Q \n\n" and parts == ["a \n\n\n\n"]


class _Tok:
    bos_token = "<s>"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt, **kwargs):
        assert not tokenize and add_generation_prompt
        self.kwargs = kwargs
        return f"<s>[U]{messages[0]['content']}[A]"


def test_generation_prompt_strips_bos_and_appends_prefix():
    tok = _Tok()
    assert generation_prompt(tok, "hi") == "[U]hi[A]Let's verify step by step:"
    assert tok.kwargs == {}
    generation_prompt(tok, "hi", thinking_off=True)
    assert tok.kwargs == {"enable_thinking": False}


@pytest.mark.parametrize(
    "model_id, off",
    [
        ("Qwen/Qwen3-8B", True),
        ("/models/qwen3-8b-merged", True),
        ("dongboklee/gORM-qwen", False),  # the published -qwen adapters keep the template's default
        ("dongboklee/gPRM-qwen", False),
        ("results/checkpoints/gORM-qwen", False),
        ("dongboklee/gORM-14B", False),
        ("", False),
    ],
)
def test_scoring_turns_thinking_off_only_for_a_qwen3_model_id(model_id, off):
    """As the published rewards were made: the switch follows the --model_id, not the template."""
    from rmflow.chat_template import turns_thinking_off
    from rmflow.generative.reward import build_prompts

    assert turns_thinking_off(model_id) is off
    tok = _Tok()
    record = {"question": "Q", "cots": [["a"]]}
    (prompt,) = build_prompts("gORM", "math", [record], tok, model_id)
    assert tok.kwargs == ({"enable_thinking": False} if off else {})
    assert prompt.endswith("[A]Let's verify step by step:")
