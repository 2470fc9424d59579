"""Names shared by the stages, the workflow's rules and the tests: task types, methods, tables, figures,
file names, the hub-id pattern.

Light on purpose (standard library only): the workflow imports it at parse time.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- reward models
#: the four reward-model task types: discriminative (d) or generative (g), outcome (ORM) or process (PRM)
TASK_TYPES = ("dORM", "dPRM", "gORM", "gPRM")
DISCRIMINATIVE = ("dORM", "dPRM")
GENERATIVE = ("gORM", "gPRM")

# --------------------------------------------------------------------------- evaluation
#: the evaluation tables ``{table}.csv``: one per way a reward model selects an answer
TABLES = ("best_of_n", "weighted_vote")
BEST_OF_N, WEIGHTED_VOTE = TABLES
#: the rows of every table besides the reward models': majority voting and the oracle
MV = "MV"
PASS = "Pass@N"

# --------------------------------------------------------------------------- analysis
#: the analysis' selections besides the tables' (majority vote, Pass@N, unbiased pass@k) ...
MAJORITY, ORACLE, UNBIASED = "majority_vote", "pass@N", "pass@k"
#: ... and the method name of unbiased pass@k
PASS_K = "Pass@k"
#: the analysis' tables ``{name}.csv``
ANALYSIS_TABLES = (
    "accuracy", "comparisons", "verifier", "reliability", "process", "length", "replicas", "headline"
)  # fmt: skip
#: the analysis' Markdown renderings of tables (``headline.md``: the headline table as the README shows it)
ANALYSIS_TEXTS = ("headline.md",)
#: the analysis' figures ``{name}.pdf`` / ``.png``, besides one ``length_{model}`` per reward model
ANALYSIS_FIGURES = (
    "uncertainty",
    "groups",
    "aggregations",
    "comparisons",
    "auroc",
    "reliability",
    "process",
    "replicas",
)

# --------------------------------------------------------------------------- files and sources
#: the training sets a config names under ``datasets`` (exported from a hub id or a directory)
TRAIN_KINDS = ("train", "train_gORM", "train_gPRM")
#: what ``rmflow synth`` writes, one directory each: the training sets, teacher-style gPRM generations
#: (the input of ``rmflow preprocess``) and the test set
SYNTH_KINDS = (*TRAIN_KINDS, "generated_gPRM", "test")
#: the summary ``rmflow synth`` writes beside them (settings and counts)
SYNTH_SUMMARY = "synth.json"
#: a Hugging Face hub id, ``owner/name``
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def looks_like_hub_id(source: str) -> bool:
    """True if ``source`` has the shape of a hub id (whether or not a local path of that name exists)."""
    return HUB_ID.fullmatch(source) is not None


def reward_file(category: str) -> str:
    """The file name of one category's rewards in a reward set directory."""
    return f"{category}_reward.json"
