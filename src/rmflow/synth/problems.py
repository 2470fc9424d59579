"""Question instances: values, the correct solution path, error paths and the ten options A-J.

Every option value is the final result of one way of solving the question: the correct path, one
*systematic* path (the question's common misconception, shared by many CoTs so that majority vote can
be fooled) and eight *random* paths (a one-off error at some step: at each step the first two are its
confusions with the two other operations where they yield new options, the others digit slips). After
its first wrong step a path keeps computing correctly from the wrong value, so the error propagates to
the final answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rmflow.synth.templates import TEMPLATES, Template

LETTERS = "ABCDEFGHIJ"
N_RANDOM_PATHS = len(LETTERS) - 2
#: an operator confusion (right arithmetic, wrong operation) swaps an operation for one of the others;
#: a systematic misconception is the first of them or a slip
OTHER_OPS = {"*": ("+", "-"), "+": ("-", "*"), "-": ("+", "*")}
_TRIES = 200
#: share of errors that are operator confusions (when the step has one): a confusion is visible in the
#: step itself (its words name one operation, its arithmetic does another), a slip only to a reader who
#: redoes the arithmetic, which the tiny verifiers of the default run cannot
P_CONFUSION = 0.95


@dataclass(frozen=True)
class Computation:
    """One displayed computation ``a op b = c`` (``c`` may be wrong)."""

    a: int
    op: str
    b: int
    c: int


@dataclass(frozen=True)
class SolutionPath:
    """The computations of one way of solving; ``first_error`` is the 0-based first wrong step or None."""

    computations: tuple[Computation, ...]
    first_error: int | None
    kind: str  # "correct", "systematic-op", "systematic-slip", "random-op" or "random-slip"

    @property
    def final(self) -> int:
        return self.computations[-1].c


@dataclass(frozen=True)
class Problem:
    """A question instance with its latent difficulty (per-step error probabilities)."""

    template: Template
    values: dict[str, int]
    correct: SolutionPath
    systematic: SolutionPath
    random_paths: tuple[tuple[SolutionPath, ...], ...]  # indexed by the step where the slip happens
    options: tuple[int, ...]  # option values in letter order A-J
    skill: float
    p_random: float  # probability of a random slip at each step
    p_systematic: float  # probability of the misconception at its step

    @property
    def answer(self) -> str:
        return LETTERS[self.options.index(self.correct.final)]

    def format_value(self, value: int) -> str:
        return self.template.unit.format(value)

    @property
    def question(self) -> str:
        stem = self.template.stem.format(**self.values)
        opts = "\n".join(f"{L}. {self.format_value(v)}" for L, v in zip(LETTERS, self.options, strict=True))
        return f"{stem}\nOptions:\n{opts}"


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def solve(
    template: Template,
    values: dict[str, int],
    error_at: int | None = None,
    op: str | None = None,
    delta: int = 0,
) -> SolutionPath | None:
    """Compute a path; at ``error_at`` use operator ``op`` and/or add ``delta`` to the result.

    Returns None when some displayed value is not a positive integer (the path is not usable).
    """
    env = dict(values)
    comps = []
    for i, step in enumerate(template.steps):
        a, b = env[step.a], env[step.b]
        shown_op = op if (i == error_at and op) else step.op
        c = _apply(a, shown_op, b) + (delta if i == error_at else 0)
        if c <= 0:
            return None
        comps.append(Computation(a, shown_op, b, c))
        env[step.key] = c
    return SolutionPath(tuple(comps), error_at, "correct" if error_at is None else "random")


def slip(rng: random.Random, value: int) -> int:
    """A visible arithmetic slip: mostly a wrong last digit, sometimes a wrong tens or hundreds digit."""
    r = rng.random()
    size = rng.randint(1, 9) if r < 0.7 else 10 * rng.randint(1, 4) if r < 0.93 or value < 300 else 100
    return size if rng.random() < 0.5 or value - size <= 0 else -size


def _draw_values(template: Template, rng: random.Random) -> tuple[dict[str, int], SolutionPath]:
    for _ in range(_TRIES):
        values = {v.name: rng.randrange(v.lo, v.hi + 1, v.step) for v in template.variables}
        path = solve(template, values)
        if path is not None and path.final >= 10:
            return values, path
    raise RuntimeError(f"template {template.category}/{template.name}: no valid values in {_TRIES} tries")


def _systematic(
    template: Template, values: dict[str, int], rng: random.Random, used: set[int]
) -> SolutionPath | None:
    k = rng.randrange(len(template.steps))
    kind = "op" if rng.random() < P_CONFUSION else "slip"
    for _ in range(_TRIES // 10):
        if kind == "op":
            path = solve(template, values, k, op=OTHER_OPS[template.steps[k].op][0])
        else:
            c = solve(template, values).computations[k].c  # type: ignore[union-attr]
            path = solve(template, values, k, delta=slip(rng, c))
        if path is not None and path.final not in used:
            return SolutionPath(path.computations, k, f"systematic-{kind}")
        kind = "slip"  # the confusion collides or goes negative: fall back to a slip at the same step
    return None


def _misconception_strength(u: float, rng: random.Random) -> float:
    """Half the questions barely have a misconception, a third a strong one, the rest a dominant one."""
    if u < 0.5:
        return 0.08 * rng.random()
    if u < 0.85:
        return 0.3 + 0.45 * rng.random()
    return 0.85 + 0.12 * rng.random()


def make_problem(
    category: str,
    rng: random.Random,
    template: Template | None = None,
    strata: tuple[float, float] | None = None,
) -> Problem:
    """Draw a template of ``category`` (unless given), its values, error paths, options and difficulty.

    ``strata`` (two numbers in [0, 1)) fix the difficulty quantiles (misconception class, skill) instead
    of drawing them, so that a split's questions can cover the difficulty range evenly.
    """
    templates = TEMPLATES[category]
    chosen = template
    for _ in range(_TRIES):
        template = chosen or templates[rng.randrange(len(templates))]
        values, correct = _draw_values(template, rng)
        used = {correct.final}
        systematic = _systematic(template, values, rng, used)
        if systematic is None:
            continue
        used.add(systematic.final)
        n_steps = len(template.steps)
        per_step: list[list[SolutionPath]] = [[] for _ in range(n_steps)]
        for i in range(N_RANDOM_PATHS):
            k = i % n_steps
            others, confusion = OTHER_OPS[template.steps[k].op], i // n_steps
            for attempt in range(_TRIES // 10):
                if attempt == 0 and confusion < len(others):  # the step's operator confusions first
                    path, kind = solve(template, values, k, op=others[confusion]), "random-op"
                else:
                    path = solve(template, values, k, delta=slip(rng, correct.computations[k].c))
                    kind = "random-slip"
                if path is not None and path.final not in used:
                    used.add(path.final)
                    per_step[k].append(SolutionPath(path.computations, k, kind))
                    break
        if sum(map(len, per_step)) < N_RANDOM_PATHS:
            continue
        options = [correct.final, systematic.final] + [p.final for ps in per_step for p in ps]
        rng.shuffle(options)
        trap, skill = strata if strata is not None else (rng.random(), rng.random())
        return Problem(
            template=template,
            values=values,
            correct=correct,
            systematic=systematic,
            random_paths=tuple(tuple(ps) for ps in per_step),
            options=tuple(options),
            skill=skill,
            p_random=0.02 + 0.3 * (1.0 - skill) ** 1.5,  # skill: a quantile in [0, 1)
            p_systematic=_misconception_strength(trap, rng),
        )
    raise RuntimeError(f"category {category}: could not build a problem in {_TRIES} tries")
