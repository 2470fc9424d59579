"""Checks of a workflow config beyond ``config/schema.yaml``, run once when Snakemake parses the workflow.

The schema checks each value on its own; these check what it cannot express: duplicate keys in the
config files, references between sections (backbones, datasets, replicas), the ``results`` path,
evaluation sizes against the synthetic test set and against memory. Each fault raises
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

from rmflow.errors import UserError
from rmflow.evaluation.memory import check_evaluation_memory

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
def _duplicate_key(node: yaml.Node, where: str = "") -> tuple[yaml.Node, yaml.Node, str] | None:
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
        found = _duplicate_key(value, name)
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
        found = _duplicate_key(root) if root is not None else None
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
def check_config(config: Mapping[str, Any], configfiles: Iterable[str | Path] = ()) -> None:
    """All checks, in order: duplicate keys of ``configfiles``, ``results``, references, evaluation."""
    check_duplicate_keys(configfiles)
    check_results(config["results"])
    check_references(config)
    check_evaluation(config)
