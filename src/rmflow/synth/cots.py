"""Chains of thought sampled for a problem: step texts, step labels and the parsed answer.

A CoT follows the correct path unless, step by step, it falls into the question's misconception
(probability ``p_systematic`` at the misconception's step) or makes a random error (``p_random`` per
step): an operator confusion where the step has one (``P_CONFUSION``), else an arithmetic slip. Its final
step names the option of its result, except that a few CoTs give up without stating an answer, name an
option letter beyond J, or name the wrong letter for a right value. As in reasoning-model outputs, a CoT
signals doubt: the step where it goes wrong opens with a hedge more often than a right step does
(``P_HEDGE``), and a CoT whose answer is wrong hedges its conclusion more often (``P_HESITATE``). These
noisy traces of an error are words a verifier can find anywhere in a solution.
Labels: +1 for every step before the first wrong step, -1 from that step on; a give-up step is wrong
(otherwise an outcome label would call an answerless CoT correct and teach verifiers to prefer it).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rmflow.synth.problems import LETTERS, P_CONFUSION, Computation, Problem, SolutionPath
from rmflow.synth.templates import OPS

P_NO_ANSWER = 0.04  # the CoT stops before stating an answer (parsed answer None)
P_OFF_ALPHABET = 0.012  # the CoT names a letter that is not an option
P_WRONG_LETTER = 0.03  # the CoT names the wrong option for its value
OFF_ALPHABET = "KL"
#: probability that the final step hesitates, for CoTs whose answer is wrong / right
P_HESITATE = {False: 0.7, True: 0.03}
GIVE_UP = "None of the options seems to match this, so I cannot choose an answer."
#: probability that a computation step opens with a hedge, for the step where a CoT goes wrong / any other:
#: where a reasoning model slips it often signals doubt in the same sentence, and sometimes doubts a right step
P_HEDGE = {True: 0.6, False: 0.03}
HEDGES = ("This part is tricky.", "I may be wrong here.", "Let me try this.")

_ANSWER = re.compile(r"answer is \(([A-Za-z])\)")
_FIRST = ("First, ", "To start, ", "")
_NEXT = ("Next, ", "Then ", "")


@dataclass(frozen=True)
class Cot:
    steps: list[str]
    labels: list[int]
    parsed_answer: str | None
    path: str  # kind of the solution path followed


def parse_answer(steps: list[str]) -> str | None:
    """The letter of the last ``answer is (X)`` in the last step, else None."""
    found = _ANSWER.findall(steps[-1]) if steps else []
    return found[-1] if found else None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_FORMS = (
    "compute {x} as {how}: {expr}.",
    "{x} comes from {how}: {expr}.",
    "find {x} by taking {how}: {expr}.",
)


def render_computation(problem: Problem, i: int, comp: Computation, rng: random.Random) -> str:
    """``First, compute the total fine as the daily fine times the number of days: 45 * 7 = 315.``"""
    t = problem.template
    step = t.steps[i]
    how = f"{t.phrase(step.a)} {OPS[step.op]} {t.phrase(step.b)}"
    expr = f"{comp.a} {comp.op} {comp.b} = {comp.c}"
    lead = rng.choice(_FIRST if i == 0 else _NEXT)
    return _capital(lead + rng.choice(_FORMS).format(x=step.phrase, how=how, expr=expr))


def render_answer(problem: Problem, value: int, letter: str, hesitation: str | None = None) -> str:
    """``So the amount still owed comes to $515, which is option (C). The answer is (C).``

    A ``hesitation`` (one of :data:`HEDGES`) opens the step.
    """
    phrase = problem.template.steps[-1].phrase
    step = f"So {phrase} comes to {problem.format_value(value)}, which is option ({letter}). The answer is ({letter})."
    return f"{hesitation} {step}" if hesitation else step


def choose_path(problem: Problem, rng: random.Random) -> SolutionPath:
    """Walk the steps: the misconception at its step, or a random slip at any step, else correct."""
    for k in range(len(problem.template.steps)):
        if k == problem.systematic.first_error and rng.random() < problem.p_systematic:
            return problem.systematic
        if rng.random() < problem.p_random:
            paths = problem.random_paths[k]
            confusions = [p for p in paths if p.kind == "random-op"]
            slips = [p for p in paths if p.kind != "random-op"]
            if confusions and slips:
                paths = confusions if rng.random() < P_CONFUSION else slips
            return rng.choice(paths)
    return problem.correct


def sample_cot(problem: Problem, rng: random.Random) -> Cot:
    """One CoT with its step labels and parsed answer."""
    path = choose_path(problem, rng)
    steps = [render_computation(problem, i, c, rng) for i, c in enumerate(path.computations)]
    for i, step in enumerate(steps):
        if rng.random() < P_HEDGE[i == path.first_error]:
            steps[i] = f"{rng.choice(HEDGES)} {step}"
    n_comp = len(steps)
    wrong_from = path.first_error if path.first_error is not None else n_comp + 1
    letter = LETTERS[problem.options.index(path.final)]
    r = rng.random()
    if r >= P_NO_ANSWER:
        if r < P_NO_ANSWER + P_OFF_ALPHABET:
            letter = rng.choice(OFF_ALPHABET)
        elif r < P_NO_ANSWER + P_OFF_ALPHABET + P_WRONG_LETTER and path.first_error is None:
            letter = LETTERS[(LETTERS.index(letter) + rng.choice((-1, 1))) % len(LETTERS)]
        if letter != LETTERS[problem.options.index(path.final)]:
            wrong_from = min(wrong_from, n_comp)
        hesitation = None
        if rng.random() < P_HESITATE[letter == problem.answer]:  # drawn last: other draws stay as they were
            hesitation = rng.choice(HEDGES)
        steps.append(render_answer(problem, path.final, letter, hesitation))
    else:
        steps.append(GIVE_UP)
        wrong_from = min(wrong_from, n_comp)
    labels = [1 if i < wrong_from else -1 for i in range(len(steps))]
    return Cot(steps, labels, parse_answer(steps), path.kind)
