"""Names of the published datasets and reward sets on the Hugging Face hub, and their old short names.

The paper's assets live in the namespace ``dongboklee``:

* test sets ``{DATASET}_{GENERATOR}_test`` (:data:`TEST_SETS`): MMLU-Pro and GPQA-diamond with the CoTs
  of five generators, MedQA and LEXam with those of two;
* training sets ``MMLU-Pro_Llama-3.1-8B-Instruct_train``, ``..._gORM_train`` and ``..._gPRM_train``;
* reward sets ``{dORM,dPRM,gORM,gPRM}-{14B,8B,qwen}-{TEST}``, TEST a test set's full name.

The same sets were first published under short names (``dongboklee/test``, ``dongboklee/test_smollm``,
``dongboklee/train``, ``dongboklee/dORM-14B-test``, ...). Those stay accepted wherever a hub id is, and
are read as the current names (:func:`current_hub_id`). Light: standard library only.
"""

from __future__ import annotations

import re

from rmflow.names import TASK_TYPES

NAMESPACE = "dongboklee"
GENERATORS = (
    "Llama-3.1-8B-Instruct",
    "SmolLM3-3B",
    "Qwen2.5-7B-Instruct",
    "gemma-2-9b-it",
    "Llama-3.1-70B-Instruct",
)
#: the published test sets: dataset -> generators whose CoTs it holds
TEST_GENERATORS: dict[str, tuple[str, ...]] = {
    "MMLU-Pro": GENERATORS,
    "GPQA-diamond": GENERATORS,
    "MedQA": ("SmolLM3-3B", "gemma-2-9b-it"),
    "LEXam": ("SmolLM3-3B", "gemma-2-9b-it"),
}
TEST_SETS: tuple[str, ...] = tuple(f"{d}_{g}_test" for d, gens in TEST_GENERATORS.items() for g in gens)
#: the published training sets, by dataset kind
TRAIN_SETS: dict[str, str] = {
    "train": "MMLU-Pro_Llama-3.1-8B-Instruct_train",
    "train_gORM": "MMLU-Pro_Llama-3.1-8B-Instruct_gORM_train",
    "train_gPRM": "MMLU-Pro_Llama-3.1-8B-Instruct_gPRM_train",
}
#: old short name -> current name, for the test sets ...
OLD_TEST_NAMES: dict[str, str] = {
    "test": "MMLU-Pro_Llama-3.1-8B-Instruct_test",
    "test_smollm": "MMLU-Pro_SmolLM3-3B_test",
    "test_qwen": "MMLU-Pro_Qwen2.5-7B-Instruct_test",
    "test_gemma": "MMLU-Pro_gemma-2-9b-it_test",
    "test_llama": "MMLU-Pro_Llama-3.1-70B-Instruct_test",
}
#: ... and for every dataset (the training sets' old names are their kinds)
OLD_NAMES: dict[str, str] = {**OLD_TEST_NAMES, **TRAIN_SETS}
REWARD_MODELS = TASK_TYPES
BACKBONES = ("14B", "8B", "qwen")
#: a reward-set name: model, backbone, optional training-seed replica (-2 .. -5), test set
REWARD_SET = re.compile(rf"^({'|'.join(REWARD_MODELS)})-({'|'.join(BACKBONES)})(-[2-5])?-(.+)$")
#: a published checkpoint: model, backbone, optional training-seed replica (-2 .. -5)
CHECKPOINT = re.compile(rf"^{NAMESPACE}/({'|'.join(REWARD_MODELS)})-({'|'.join(BACKBONES)})(-[2-5])?$")


def current_test_name(name: str) -> str:
    """The current name of a test set given by its current or old name (any other name as is)."""
    return OLD_TEST_NAMES.get(name, name)


def in_namespace(source: str) -> bool:
    """True for a hub id in the paper's namespace (``dongboklee/...``)."""
    return str(source).startswith(f"{NAMESPACE}/")


def current_hub_id(source: str) -> str:
    """The current hub id of a published set given by its current or old id; any other source as is.

    ``dongboklee/test`` -> ``dongboklee/MMLU-Pro_Llama-3.1-8B-Instruct_test``,
    ``dongboklee/train_gORM`` -> ``dongboklee/MMLU-Pro_Llama-3.1-8B-Instruct_gORM_train``,
    ``dongboklee/dORM-14B-test_qwen`` -> ``dongboklee/dORM-14B-MMLU-Pro_Qwen2.5-7B-Instruct_test``.
    """
    if not in_namespace(source):
        return source
    name = str(source)[len(NAMESPACE) + 1 :]
    if name in OLD_NAMES:
        return f"{NAMESPACE}/{OLD_NAMES[name]}"
    m = REWARD_SET.match(name)
    if m and m.group(4) in OLD_TEST_NAMES:
        return f"{NAMESPACE}/{name[: m.start(4)]}{OLD_TEST_NAMES[m.group(4)]}"
    return source


def published_test_id(name: str) -> str | None:
    """``dongboklee/{current name}`` when ``name`` (current or old) is a published test set, else None."""
    current = current_test_name(name)
    return f"{NAMESPACE}/{current}" if current in TEST_SETS else None


def reward_set_parts(source: str) -> tuple[str, str, str] | None:
    """(model, backbone with replica suffix, current test-set name) of a ``dongboklee`` reward-set id."""
    if not in_namespace(source):
        return None
    m = REWARD_SET.match(current_hub_id(source)[len(NAMESPACE) + 1 :])
    return None if m is None else (m.group(1), m.group(2) + (m.group(3) or ""), m.group(4))


def checkpoint_preset(model_id: str) -> str | None:
    """The paper preset (``config/presets``) a published checkpoint was trained with, e.g.
    ``dongboklee/gPRM-14B-3`` -> ``gPRM-14B``; None for any other model."""
    m = CHECKPOINT.match(str(model_id))
    return None if m is None else f"{m.group(1)}-{m.group(2)}"


def evaluated_test_set(name: str, source: str | None) -> str:
    """The test set that published reward ids name (their ``{test}``): the source's current name when the
    source is a published test set, else the configured name (an old name read as its current one)."""
    if source is not None and in_namespace(source):
        current = current_hub_id(source)[len(NAMESPACE) + 1 :]
        if current in TEST_SETS:
            return current
    return current_test_name(name)
