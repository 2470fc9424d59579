# Shared helpers: output layout, config slices as params, CLI flag rendering, resources.
#
# Rerun scope: every rule's `params.cfg` is the canonical JSON (sorted keys) of exactly the config slice
# the rule depends on, so `--rerun-triggers params` reruns a rule iff that slice changed; everything
# downstream follows because its inputs get regenerated. `params.flags` is the same slice rendered as
# CLI flags (a pure function of `cfg`, so it never triggers on its own).

import json
import os
import re
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # the light package, also without an install
from rmflow.errors import UserError  # noqa: E402
from rmflow.names import SYNTH_KINDS, SYNTH_SUMMARY, TABLES, TRAIN_KINDS, looks_like_hub_id  # noqa: E402
from rmflow.presets import load_preset  # noqa: E402

# What config/schema.yaml cannot check (config/README.md, "Checks"): duplicate keys in the config files,
# references between sections, the results path, evaluation sizes. Runs before anything reads the
# config, so a fault stops every run (dry or not) with one line naming the key.
from rmflow.config_checks import ConfigError, check_config, evaluated_set  # noqa: E402

check_config(config, workflow.configfiles)  # also fills datasets.test.source for a published test set

RESULTS = config["results"]
TEST = config["datasets"]["test"]["name"]
#: what `{test}` stands for in published reward ids: the evaluated set's current published name
TEST_SET = evaluated_set(config)
CATEGORY = "all" if config["categories"] == "all" else ",".join(config["categories"])
MODELS = config["reward_models"]
#: the reward models compared in the tables and plots: a model with `replica_of` is another reward set
#: (checkpoint, training seed) of the model it names and shows only in the analysis' replica statistics
COMPARED = {name: m for name, m in MODELS.items() if "replica_of" not in m}
SYNTH_DIR = f"{RESULTS}/data/synth"
EVAL_DIR = f"{RESULTS}/eval"
PLOT_DIR = f"{RESULTS}/plots"
RESOURCE_DEFAULTS = {"gpu": 0, "cpus_per_task": 1, "mem_mb": 4000, "runtime": 60}
#: config keys that are not stage flags (model references, nested settings)
NOT_FLAGS = {"backbone", "model", "revision", "resources", "set", "preset", "data", "shorten"}

# Rules call the package through the interpreter of their environment (the venv, or a conda env of
# envs/ under --sdm conda), with the source tree on its path. The checkout's location reaches the shell
# through $RMFLOW_ROOT rather than the command text, so that moving the checkout does not change the
# rules' code (a rerun trigger).
os.environ.update(RMFLOW_ROOT=str(Path(workflow.basedir).resolve()))
RMFLOW = "python -m rmflow.cli"
LAUNCH = 'bash "$RMFLOW_ROOT/workflow/scripts/launch.sh"'


def sh(value):
    """A config-derived word (path, category list) quoted for the shell."""
    return shlex.quote(str(value))


def canonical(obj):
    """The config slice as canonical JSON: sorted keys, no whitespace (stable across runs)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def flags(mapping, skip=NOT_FLAGS):
    """Render ``{key: value}`` as ``--key value`` (lists: several values; True: bare flag)."""
    out = []
    for key, value in sorted(mapping.items()):
        if key in skip or value is None or value is False:
            continue
        if value is True:
            out.append(f"--{key}")
        elif isinstance(value, (list, tuple)):
            values = " ".join(shlex.quote(str(v)) for v in value)
            out.append(f"--{key} {values}")
        else:
            out.append(f"--{key} {shlex.quote(str(value))}")
    return " ".join(out)


def any_of(names):
    """Wildcard regex matching exactly one of ``names`` (never matches when empty)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


def is_hub_id(source):
    return not Path(source).exists() and looks_like_hub_id(source)


def local_input(source):
    """A local source directory is an input (hashed into provenance); a hub id is not."""
    return [] if source == "synth" or is_hub_id(source) else [source]


def stage(rule, command):
    """Shell of a stage: run it into the rule's log, then record provenance next to every output."""
    return (
        'export PYTHONPATH="$RMFLOW_ROOT/src${{PYTHONPATH:+:$PYTHONPATH}}" OMP_NUM_THREADS={threads}\n'
        'started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"\n'
        f"{command} > {{log:q}} 2>&1\n"
        f"{RMFLOW} provenance --rule={rule} --params {{params.cfg:q}} --started \"$started\" "
        "--input {input:q} --output {output:q} >> {log} 2>&1"
    )


# --------------------------------------------------------------------------- datasets
def dataset(kind):
    try:
        return config["datasets"][kind]
    except KeyError:
        raise ConfigError(f"datasets.{kind} is not configured but a rule needs it") from None


def dataset_dir(kind):
    """Directory of a dataset kind: synthetic, exported train set, or exported test set."""
    if dataset(kind)["source"] == "synth":
        if "synth" not in config:
            raise ConfigError(f"datasets.{kind}.source is 'synth' but the config has no `synth` section")
        return f"{SYNTH_DIR}/{kind}"
    return f"{RESULTS}/data/test/{TEST}" if kind == "test" else f"{RESULTS}/data/{kind}"


def synth_dirs(wildcards=None):
    """The synthetic dataset directories (the corpus of built backbones)."""
    if "synth" not in config:
        raise ConfigError("a built backbone needs the synthetic corpus, but the config has no `synth` section")
    return [f"{SYNTH_DIR}/{kind}" for kind in SYNTH_KINDS]


# --------------------------------------------------------------------------- backbones
def backbone(name):
    try:
        return config["backbones"][name]
    except KeyError:
        known = ", ".join(config.get("backbones", {})) or "none"
        raise ConfigError(f"backbone {name!r} is not defined in `backbones` (defined: {known})") from None


def built_backbones():
    return [n for n, b in config.get("backbones", {}).items() if "build" in b]


def backbone_dir(name):
    return f"{RESULTS}/backbones/{name}"


def backbone_input(name):
    entry = backbone(name)
    if "build" in entry:
        return [backbone_dir(name)]
    return local_input(entry["model"])


def backbone_ref(name):
    """What a consumer of the backbone depends on: its hub id and revision, or just its name when built
    (the build settings reach consumers through the backbone directory, an input)."""
    entry = backbone(name)
    return {"built": name} if "build" in entry else {"model": entry["model"], "revision": entry.get("revision")}


def backbone_flags(name):
    entry = backbone(name)
    if "build" in entry:
        return f"--model_id {shlex.quote(backbone_dir(name))}"
    return flags({"model_id": entry["model"], "revision": entry.get("revision")}, skip=())


# --------------------------------------------------------------------------- reward models
def model(name):
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"reward model {name!r} is not defined in `reward_models`") from None


def models_with(source):
    return [n for n, m in MODELS.items() if source in m]


def published_rewards(name):
    return model(name)["rewards"].replace("{test}", TEST_SET)


def checkpoint_dir(name):
    return f"{RESULTS}/checkpoints/{name}"


def reward_dir(name):
    return f"{RESULTS}/rewards/{name}/{TEST}"


def critiques_dir(task):
    shorten = config.get("critiques", {}).get("shorten", False)
    return f"{RESULTS}/critiques/{task}/{'shortened' if shorten else 'preprocessed'}"


def train_data_dir(name):
    m = model(name)
    data = m["train"]["data"]
    if data == "critiques":
        if m["task_type"][0] != "g":
            raise ConfigError(f"reward_models.{name}: data 'critiques' needs a generative task type")
        return critiques_dir(m["task_type"])
    return dataset_dir(data)


def preset_settings(name):
    """Reward model ``name``'s preset with its ``set`` overrides, checked now (so a bad value fails before any
    job runs) and carried in params (so editing a preset file reruns exactly its training jobs)."""
    t = model(name)["train"]
    try:
        return load_preset(t["preset"], t.get("set") or {})
    except UserError as exc:
        raise ConfigError(f"reward_models.{name}.train: {exc}") from None


def tensor_parallel(family, wildcards):
    """GPUs of a vLLM job (its engine's tensor-parallel size), or None for other backends."""
    settings = teacher() if family == "generate" else scoring_cfg(wildcards.model) if family == "reward" else {}
    return settings.get("tensor_parallel_size", 1) if settings.get("backend") == "vllm" else None


def compute(family, wildcards, section=None):
    """Compute of one job: built-in defaults < `resources.FAMILY` < the model's `SECTION.resources`;
    a vLLM job gets exactly its tensor-parallel size in GPUs."""
    override = model(wildcards.model).get(section, {}).get("resources", {}) if section else {}
    res = {**RESOURCE_DEFAULTS, **config.get("resources", {}).get(family, {}), **override}
    tp = tensor_parallel(family, wildcards)
    if tp is not None:
        if override.get("gpu", tp) != tp:
            raise ConfigError(
                f"reward_models.{wildcards.model}.{section}.resources.gpu is {override['gpu']} but a vLLM job "
                f"uses tensor_parallel_size GPUs ({tp}): set one of them"
            )
        res["gpu"] = tp
    return res


#: cluster placement of GPU jobs, from the environment (see config/README.md, "Compute and placement")
GPU_PLACEMENT = {"slurm_partition": "RMFLOW_SLURM_GPU_PARTITION", "gpu_model": "RMFLOW_GPU_MODEL"}


def job_resources(family, section=None):
    """Resources of one family of rules (compute from the config), plus the GPU partition / model of
    jobs that use a GPU when the environment names them (CPU jobs keep the profile's partition)."""

    def get(key):
        return lambda wildcards: compute(family, wildcards, section)[key]

    def placement(var):
        def get_placement(wildcards):
            if compute(family, wildcards, section)["gpu"] > 0:
                return os.environ[var]
            return (os.environ.get("RMFLOW_SLURM_PARTITION") or None) if var.endswith("PARTITION") else ""

        return get_placement

    res = {key: get(key) for key in RESOURCE_DEFAULTS}
    res.update({key: placement(var) for key, var in GPU_PLACEMENT.items() if os.environ.get(var)})
    return res


def job_threads(family, section=None):
    """Threads of a job = the CPUs it asks for (also OMP_NUM_THREADS and torch's threads)."""
    return lambda wildcards: compute(family, wildcards, section)["cpus_per_task"]


# --------------------------------------------------------------------------- per-rule slices
def teacher():
    try:
        return config["teacher"]
    except KeyError:
        raise ConfigError("the critique chain needs a `teacher` section") from None


def critiques_cfg():
    try:
        return config["critiques"]
    except KeyError:
        raise ConfigError("the critique chain needs a `critiques` section") from None


def train_cfg(name):
    return {k: v for k, v in model(name)["train"].items() if k != "resources"}


def train_params(name):
    t = train_cfg(name)
    return canonical(
        {
            "task_type": model(name)["task_type"],
            "train": {**t, "backbone": backbone_ref(t["backbone"])},
            "preset_settings": preset_settings(name),
            "category": CATEGORY,
        }
    )


def train_flags(name):
    t = train_cfg(name)
    overrides = " ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in sorted(t.get("set", {}).items()))
    extra = flags({"config": t["preset"], "per_device_batch_size": t.get("per_device_batch_size"), "seed": t.get("seed")}, skip=())
    return f"{backbone_flags(t['backbone'])} {extra} {overrides}".strip()


def checkpoint_ref(name):
    m = model(name)
    if "train" in m:
        return {"trained": name}
    return {"checkpoint": m["checkpoint"], "revision": m.get("revision")}


def checkpoint_input(name):
    m = model(name)
    return [checkpoint_dir(name)] if "train" in m else local_input(m["checkpoint"])


def checkpoint_flags(name):
    m = model(name)
    if "train" in m:
        return f"--model_id {shlex.quote(checkpoint_dir(name))}"
    return flags({"model_id": m["checkpoint"], "revision": m.get("revision")}, skip=())


def scoring_cfg(name):
    return {k: v for k, v in model(name).get("scoring", {}).items() if k != "resources"}


PLOT_SUFFIXES = (".pdf", ".png", "_legend.pdf", "_legend.png")


def replica_of(name):
    """The compared model that reward model ``name`` is a replica of (checked at parse time), or None."""
    return model(name).get("replica_of")


def evaluation_params():
    return canonical(
        {
            "evaluation": config["evaluation"],
            "models": [[name, m["strategy"]] for name, m in COMPARED.items()],
            "test": TEST,
            "category": CATEGORY,
        }
    )


def evaluation_flags():
    models = {
        "reward_dirs": [reward_dir(n) for n in COMPARED],
        "model_names": list(COMPARED),
        "strategies": [m["strategy"] for m in COMPARED.values()],
    }
    return f"{flags(config['evaluation'])} {flags(models) if COMPARED else ''}".strip()

