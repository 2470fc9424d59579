"""Interface strings (docs/formats.md#model-inputs): they match the published checkpoints byte for byte."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmflow.categories import display_name
from rmflow.chat_template import THINK_OPEN

VERIFY_PREFIX = "Let's verify step by step:"
#: what every kept critique starts with: the chat template's ``<think>`` opener and the generation prefix
CRITIQUE_HEAD = f"{THINK_OPEN}\n{VERIFY_PREFIX}"
ORM_VERDICT = "Verification: Is the answer correct (Yes/No)?"
PRM_VERDICT = "Is the solution correct?"
#: a gPRM step judgement is ``STEP_JUDGEMENT_OPEN + word + STEP_JUDGEMENT_CLOSE``, word by label
STEP_JUDGEMENT_OPEN, STEP_JUDGEMENT_CLOSE = "The step is \\boxed{", "}"
STEP_WORDS = {1: "correct", -1: "incorrect"}
STEP_TAG = " \n\n\n\n"
POSITIVE_TOKEN, NEGATIVE_TOKEN = "+", "-"

_ORM = (
    "You are a {cat} teacher. Grade the solution, verifying correctness step by step.\n"
    "At the end of Solution verification, when you give your final grade, write it in the form "
    '"Verification: Is the answer correct (Yes/No)? X", where X is either Yes or No.\n\n'
    "[{Cat} Problem]\n{q}\n\n[Solution]\n{solution}\n"
)
_PRM = (
    "You are given a {cat} problem and a proposed step-by-step solution:\n\n"
    "[{Cat} Problem]\n{q}\n\n[Solution]\n{steps}\n\n"
    "Review and critique each step in the proposed solution to determine whether each step is correct. "
    "If the solution is incomplete, only verify the provided steps."
)
_PRM_TEACHER = (
    "You are given a {cat} problem and a proposed multiple-step solution (with a step on each line):\n\n"
    "[{Cat} Problem]\n{q}\n\n[Solution]\n{steps}\n\n"
    "Review and critique the proposed solution steps and determine whether each step is correct. "
    "If the solution is incomplete, only critique the steps that are provided. "
    "Your output must be in the following format:\n\n"
    "Step 1: The step is \\boxed{{correct/incorrect}}\n"
    "Step 2: The step is \\boxed{{correct/incorrect}}\n...\n"
    "Step n: The step is \\boxed{{correct/incorrect}}\n\n"
    "Once you find an incorrect step, you should stop since you do not need to analyze the remaining steps. "
    "If the solution is incomplete, only verify the provided steps."
)


def _names(category: str) -> tuple[str, str]:
    cat = display_name(category)
    return cat, cat[:1].upper() + cat[1:]


def render_steps(steps: Sequence[str]) -> str:
    """``Step {i}: {step}`` lines (1-based), joined by newlines, nothing stripped."""
    return "\n".join(f"Step {i}: {step}" for i, step in enumerate(steps, 1))


def orm_prompt(category: str, question: str, steps: Sequence[str]) -> str:
    """gORM prompt (training, inference and teacher generation)."""
    cat, Cat = _names(category)
    return _ORM.format(cat=cat, Cat=Cat, q=question.strip(), solution="\n\n".join(steps).strip())


def prm_prompt(category: str, question: str, steps: Sequence[str]) -> str:
    """gPRM prompt (training and inference)."""
    cat, Cat = _names(category)
    return _PRM.format(cat=cat, Cat=Cat, q=question, steps=render_steps(steps))


def prm_teacher_prompt(category: str, question: str, steps: Sequence[str]) -> str:
    """gPRM teacher prompt (data generation only)."""
    cat, Cat = _names(category)
    return _PRM_TEACHER.format(cat=cat, Cat=Cat, q=question, steps=render_steps(steps))


def task_prompt(
    task_type: str, category: str, question: str, steps: Sequence[str], teacher: bool = False
) -> str:
    """The user turn for ``gORM`` / ``gPRM`` (``teacher`` selects the gPRM data-generation prompt)."""
    if task_type == "gORM":
        return orm_prompt(category, question, steps)
    if task_type == "gPRM":
        return (prm_teacher_prompt if teacher else prm_prompt)(category, question, steps)
    raise ValueError(f"no generative prompt for task type {task_type!r}")


def generation_prompt(tokenizer: Any, user_prompt: str, thinking_off: bool = False) -> str:
    """Chat-templated single user turn + generation prompt + ``VERIFY_PREFIX``, leading BOS removed.

    ``thinking_off`` passes ``enable_thinking=False`` to the template
    (:func:`rmflow.chat_template.turns_thinking_off` decides when).
    """
    kwargs = {"enable_thinking": False} if thinking_off else {}
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": user_prompt}], tokenize=False, add_generation_prompt=True, **kwargs
    )
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos):
        text = text[len(bos) :]
    return text + VERIFY_PREFIX


def discriminative_parts(
    question: str, steps: Sequence[str], training: bool = False
) -> tuple[str, list[str]]:
    """Question part and step parts of the discriminative text; each step part ends with the step tag.

    As the published checkpoints were trained and scored: for scoring, question and steps lose any step
    tag they hold and their surrounding whitespace; for ``training`` they are used as they are.
    """
    if training:
        return question + " \n\n", [s + STEP_TAG for s in steps]
    head = question.replace(STEP_TAG, "").strip() + " \n\n"
    return head, [s.replace(STEP_TAG, "").strip() + STEP_TAG for s in steps]


def discriminative_text(question: str, steps: Sequence[str]) -> str:
    """The full discriminative input text."""
    head, parts = discriminative_parts(question, steps)
    return head + "".join(parts)


def step_judgement(i: int, label: int) -> str:
    """The gPRM judgement line of step ``i`` (1-based): ``Step 2: The step is \\boxed{correct}``."""
    return f"Step {i}: {STEP_JUDGEMENT_OPEN}{STEP_WORDS[label]}{STEP_JUDGEMENT_CLOSE}"
