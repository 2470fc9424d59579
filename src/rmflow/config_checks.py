"""Checks of a workflow config beyond ``config/schema.yaml``, run once when Snakemake parses the workflow.

The schema checks each value on its own; these check what it cannot express: duplicate keys in the
config files, references between sections (backbones, datasets, replicas), the ``results`` path,
published hub names and the test set they name, evaluation sizes against the synthetic test set and
against memory. Each fault raises
:class:`ConfigError` with one line naming the key, so ``snakemake -n`` fails before any job runs,
whatever already exists on disk. config/README.md ("Checks") lists them.

Light on purpose (yaml and the standard library): the workflow imports it at parse time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from rmflow.categories import is_single_split
from rmflow.errors import UserError
from rmflow.evaluation.memory import check_evaluation_memory
from rmflow.hub_names import (
    NAMESPACE,
    TEST_SETS,
    TRAIN_SETS,
    current_hub_id,
    evaluated_test_set,
    in_namespace,
    published_test_id,
    reward_set_parts,
)

#: training data a reward model of each task type can use (``rmflow train`` loads ``train`` for the
#: discriminative models, ``train_{task_type}`` for the generative ones; critiques are the latter's too)
TRAIN_DATA = {
    "dORM": ("train",),
    "dPRM": ("train",),
    "gORM": ("train_gORM", "critiques"),
    "gPRM": ("train_gPRM", "critiques"),
}
#: characters of a `results` path that Snakemake (wildcards) or a shell (globs, line breaks) interprets
RESULTS_SPECIAL = re.compile(r"[{}*?\[\]\x00-\x1f\x7f]")


class ConfigError(UserError):
    """A configuration that passes the schema but is inconsistent (e.g. an unknown backbone)."""


# --------------------------------------------------------------------------- duplicate keys
def duplicate_key(node: yaml.Node, where: str = "") -> tuple[yaml.Node, yaml.Node, str] | None:
    """The first repeated key (in file order) of any mapping under ``node``: (first, repeat, key path)."""
    if isinstance(node, yaml.SequenceNode):
        items = [(f"{where}[{i}]", None, item) for i, item in enumerate(node.value)]
    elif isinstance(node, yaml.MappingNode):
        items = [(f"{where}.{k.value}" if where else str(k.value), k, v) for k, v in node.value]
    else:
        return None
    seen: dict[tuple[str, str], yaml.Node] = {}
    for name, key, value in items:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                return first, key, name
        found = duplicate_key(value, name)
        if found:
            return found
    return None


def check_duplicate_keys(paths: Iterable[str | Path]) -> None:
    """Re-read each config file: a key given twice in one mapping (YAML keeps the last) is an error."""
    for path in paths:
        try:
            root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except (OSError, yaml.YAMLError):
            continue  # Snakemake read it (as JSON, or reports the problem itself)
        found = duplicate_key(root) if root is not None else None
        if found:
            first, repeat, key = found
            raise ConfigError(
                f"{path}, line {repeat.start_mark.line + 1}: duplicate key {key} (first at line "
                f"{first.start_mark.line + 1}); YAML would silently keep only the last one"
            )


# --------------------------------------------------------------------------- results path
def check_results(results: str) -> None:
    """``results``: a plain relative path that stays below the working directory."""
    problem = None
    special = sorted(set(RESULTS_SPECIAL.findall(results)))
    if not results.strip():
        problem = "is empty"
    elif special:
        problem = f"contains {''.join(special)!r}, which Snakemake (wildcards) or a shell (globs) interprets"
    elif PurePosixPath(results).is_absolute() or results.startswith("~"):
        problem = "is absolute"
    elif ".." in PurePosixPath(results).parts:
        problem = "leaves the working directory through '..'"
    elif results.startswith("-"):
        problem = "starts with '-', which a stage would read as a flag"
    if problem:
        raise ConfigError(f"results: {results!r} {problem}; give a relative directory such as 'results'")


# --------------------------------------------------------------------------- references
def _backbone(config: Mapping[str, Any], key: str, name: str) -> None:
    backbones = config.get("backbones", {})
    if name not in backbones:
        known = ", ".join(backbones) or "none"
        raise ConfigError(f"{key}: backbone {name!r} is not defined in `backbones` (defined: {known})")


def check_references(config: Mapping[str, Any]) -> None:
    """Every name that points into another section resolves, and every section a source needs exists."""
    datasets, models = config["datasets"], config["reward_models"]
    for kind, entry in datasets.items():
        if entry["source"] == "synth" and "synth" not in config:
            raise ConfigError(f"datasets.{kind}.source: 'synth' needs the `synth` section")
    for name, entry in config.get("backbones", {}).items():
        if "build" in entry and "synth" not in config:
            raise ConfigError(
                f"backbones.{name}.build: a built backbone needs the `synth` section (its corpus)"
            )
    for section in ("teacher", "critiques"):
        if section in config:
            _backbone(config, f"{section}.backbone", config[section]["backbone"])
    for name, m in models.items():
        train = m.get("train")
        if train is not None:
            _backbone(config, f"reward_models.{name}.train.backbone", train["backbone"])
            _check_train_data(config, name, m["task_type"], train["data"])
        target = m.get("replica_of")
        if target is not None and (target not in models or "replica_of" in models[target]):
            raise ConfigError(f"reward_models.{name}.replica_of: {target!r} is not a reward model of its own")
    for name, entries in config.get("analysis", {}).get("replicas", {}).items():
        if name not in models or "replica_of" in models[name]:
            raise ConfigError(f"analysis.replicas.{name}: {name!r} is not a compared reward model")
        for i, entry in enumerate(entries):
            key = f"analysis.replicas.{name}[{i}]"
            if entry == name:
                raise ConfigError(f"{key}: {name!r} cannot be a replica of itself")
            if entry not in models and "/" not in entry and not Path(entry).is_dir():
                raise ConfigError(
                    f"{key}: {entry!r} is not a reward model, a hub id (owner/name) nor a directory"
                )


def _check_train_data(config: Mapping[str, Any], name: str, task_type: str, data: str) -> None:
    key = f"reward_models.{name}.train.data"
    if data not in TRAIN_DATA[task_type]:
        usable = " or ".join(TRAIN_DATA[task_type])
        raise ConfigError(f"{key}: a {task_type} model trains on {usable}, not {data!r}")
    if data == "critiques":
        for section in ("teacher", "critiques"):
            if section not in config:
                raise ConfigError(f"{key}: 'critiques' needs the `{section}` section (the critique chain)")
    elif data not in config["datasets"]:
        raise ConfigError(f"{key}: datasets.{data} is not configured")


# --------------------------------------------------------------------------- published hub names
def apply_defaults(config: dict[str, Any]) -> None:
    """``datasets.test.source`` left out: the published test set ``datasets.test.name`` names, if any."""
    test = config["datasets"]["test"]
    if test.get("source") is None:
        source = published_test_id(test["name"])
        if source is None:
            raise ConfigError(
                f"datasets.test.source: missing, and name {test['name']!r} is not a published test set; "
                f"give a source (hub id or directory) or name one of {', '.join(TEST_SETS)}"
            )
        test["source"] = source


def evaluated_set(config: Mapping[str, Any]) -> str:
    """The test set that ``{test}`` stands for in published reward ids (:func:`evaluated_test_set`)."""
    test = config["datasets"]["test"]
    return evaluated_test_set(test["name"], test.get("source"))


def _published_reward_set(key: str, source: str, evaluated: str, task_type: str | None = None) -> None:
    """A ``dongboklee`` reward id names a published reward set of the evaluated test set (and task type)."""
    parts = reward_set_parts(source)
    if parts is None:
        raise ConfigError(
            f"{key}: {source!r} is not a published reward set ({NAMESPACE}/{{dORM,dPRM,gORM,gPRM}}-"
            "{14B,8B,qwen}-TEST, TEST a published test set)"
        )
    if parts[2] != evaluated:
        raise ConfigError(
            f"{key}: {source!r} holds rewards of the test set {parts[2]}, but the test set evaluated is "
            f"{evaluated} (datasets.test); write {{test}} for the test-set part"
        )
    if task_type is not None and parts[0] != task_type:
        raise ConfigError(
            f"{key}: {source!r} holds rewards of a {parts[0]} model, not of a {task_type} model"
        )


def check_hub_names(config: Mapping[str, Any]) -> None:
    """Published sources (``dongboklee/...``, current or old names) name sets that exist, of the right kind,
    and reward sets of the test set that is evaluated."""
    datasets = config["datasets"]
    test = datasets["test"]
    for kind in TRAIN_SETS:
        source = datasets.get(kind, {}).get("source", "")
        current = current_hub_id(source)
        if in_namespace(source) and current != f"{NAMESPACE}/{TRAIN_SETS[kind]}":
            raise ConfigError(
                f"datasets.{kind}.source: {source!r} is not the published {kind} set "
                f"({NAMESPACE}/{TRAIN_SETS[kind]})"
            )
    source = test["source"]
    if in_namespace(source):
        current = current_hub_id(source)[len(NAMESPACE) + 1 :]
        if current not in TEST_SETS:
            raise ConfigError(
                f"datasets.test.source: {source!r} is not a published test set (published: "
                f"{', '.join(TEST_SETS)})"
            )
        named = published_test_id(test["name"])
        if named is not None and named != f"{NAMESPACE}/{current}":
            raise ConfigError(
                f"datasets.test.name: {test['name']!r} is the published test set {named}, but the source is "
                f"{NAMESPACE}/{current}; name the set as its source (or leave the source out)"
            )
    if is_single_split(source) != is_single_split(test["name"]):
        raise ConfigError(
            f"datasets.test.name: {test['name']!r} and the source {source!r} disagree on whether the set has "
            "the single split 'test' (a name containing GPQA-diamond, MedQA or LEXam); name it as published"
        )
    evaluated = evaluated_set(config)
    for name, m in config["reward_models"].items():
        if "rewards" in m and in_namespace(m["rewards"]):
            rewards = m["rewards"].replace("{test}", evaluated)
            _published_reward_set(f"reward_models.{name}.rewards", rewards, evaluated, m["task_type"])
    for name, entries in config.get("analysis", {}).get("replicas", {}).items():
        for i, entry in enumerate(entries):
            if in_namespace(entry):
                rewards = entry.replace("{test}", evaluated)
                _published_reward_set(f"analysis.replicas.{name}[{i}]", rewards, evaluated)


# --------------------------------------------------------------------------- evaluation sizes
def check_evaluation(config: Mapping[str, Any]) -> None:
    """Ns within the synthetic test set's CoTs; num_runs x questions x Ns within memory.

    The question count per category is known for a synthetic test set; for any other it is taken as
    one (a lower bound), so only a setting that cannot fit is refused here, and ``rmflow evaluate``
    checks again with the real counts.
    """
    evaluation, test = config["evaluation"], config["datasets"]["test"]
    Ns = evaluation["Ns"]
    synth = config.get("synth") if test["source"] == "synth" else None
    if synth is not None and max(Ns) > synth["test_cots"]:
        raise ConfigError(
            f"evaluation.Ns: N={max(Ns)} is larger than synth.test_cots ({synth['test_cots']}), the CoTs "
            "per question of the synthetic test set; raise synth.test_cots or drop that N"
        )
    compared = sum("replica_of" not in m for m in config["reward_models"].values())
    try:
        check_evaluation_memory(
            synth["test_questions"] if synth else 1,
            evaluation["num_runs"],
            Ns,
            compared,
            synth["test_cots"] if synth else None,
            where="a category of the synthetic test set" if synth else "the smallest possible category",
            names=("evaluation.num_runs", "evaluation.Ns"),
        )
    except UserError as exc:
        raise ConfigError(str(exc)) from None


# --------------------------------------------------------------------------- all of them
def check_config(config: dict[str, Any], configfiles: Iterable[str | Path] = ()) -> None:
    """Fill the defaults (:func:`apply_defaults`), then all checks, in order: duplicate keys of
    ``configfiles``, ``results``, references, published hub names, evaluation."""
    check_duplicate_keys(configfiles)
    apply_defaults(config)
    check_results(config["results"])
    check_references(config)
    check_hub_names(config)
    check_evaluation(config)
