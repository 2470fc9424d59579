"""Config faults past the schema (rmflow.config_checks, config/README.md "Checks"): each fails with one
line naming the key, as a unit and in a dry run of a copy of the workflow; and the schema's fixed sets
are the ones the CLI accepts."""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import ROOT, full_run, make_workspace, snakemake, variant  # noqa: E402

from rmflow.config_checks import ConfigError, check_config, check_duplicate_keys, check_results  # noqa: E402

SCHEMA = ROOT / "config" / "schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.fixture
def default() -> dict:
    return load("config.yaml")


def schema_at(*path: str) -> dict:
    """The schema node of a key path (``*`` for the entries of a map)."""
    node = yaml.safe_load(SCHEMA.read_text())
    definitions = node["definitions"]
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
        if "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[1]]
    return node


def choices(stage: str, flag: str) -> set[str]:
    """What ``rmflow STAGE`` accepts for ``flag`` (its argparse choices)."""
    from rmflow.cli import build_parser

    parser = build_parser(stage)
    sub = next(a for a in parser._actions if a.dest == "stage").choices[stage]
    (action,) = [a for a in sub._actions if flag in a.option_strings]
    assert action.choices, (stage, flag)
    return set(action.choices)


# --------------------------------------------------------------------------- schema: fixed sets
def test_schema_sets_are_the_clis():
    from rmflow.categories import CATEGORIES, resolve_categories
    from rmflow.config_checks import TRAIN_DATA
    from rmflow.data import KINDS

    model = ("reward_models", "*")
    assert set(schema_at(*model, "scoring", "dtype")["enum"]) == choices("reward", "--dtype")
    assert set(schema_at(*model, "scoring", "lora")["enum"]) == choices("reward", "--lora")
    assert set(schema_at(*model, "task_type")["enum"]) == choices("reward", "--task_type")
    assert set(schema_at(*model, "strategy")["enum"]) == choices("evaluate", "--strategies")
    # the CLI's 'auto' is left out on purpose: the rules choose environment and launcher by backend
    for path, stage in [((*model, "scoring", "backend"), "reward"), (("teacher", "backend"), "generate")]:
        assert set(schema_at(*path)["enum"]) == choices(stage, "--backend") - {"auto"}
    data = set(schema_at(*model, "train", "data")["enum"])
    assert data == {d for usable in TRAIN_DATA.values() for d in usable}
    assert data - {"critiques"} <= set(KINDS)
    categories = schema_at("categories")["oneOf"][1]["items"]["enum"]
    assert set(CATEGORIES) <= set(categories)
    assert resolve_categories(categories) == categories  # every name is accepted by the stages


def test_schema_build_keys_are_init_backbone_flags():
    from rmflow.backbone import DEFAULTS

    build = schema_at("backbones", "*", "build")
    assert build["additionalProperties"] is False
    types = {int: "integer", float: "number"}
    assert {k: v["type"] for k, v in build["properties"].items()} == {
        k: types[type(v)] for k, v in DEFAULTS.items()
    }


#: string values of the schema that are free by nature (paths, hub ids, revisions, and references
#: that rmflow.config_checks resolves): any other string must be an enum or match a pattern
FREE_STRINGS = {
    "results",
    *(f"datasets.{kind}.{key}" for kind in ("train", "train_gORM", "train_gPRM", "test") for key in ("source", "revision")),
    "backbones.*.model",
    "backbones.*.revision",
    "teacher.backbone",
    "critiques.backbone",
    "reward_models.*.train.preset",
    "reward_models.*.train.backbone",
    "reward_models.*.train.set.*",  # preset values: rmflow.presets checks them at parse time
    "reward_models.*.checkpoint",
    "reward_models.*.rewards",
    "reward_models.*.revision",
    "reward_models.*.replica_of",
    "analysis.step_labels",
    "analysis.replicas.*[]",
}  # fmt: skip


def _free_strings(node: dict, path: str, definitions: dict) -> set[str]:
    """Key paths of the string values under ``node`` that are neither enums nor patterns."""
    if "$ref" in node:
        node = definitions[node["$ref"].rsplit("/", 1)[1]]
    types = node.get("type", [])
    free = "string" in ([types] if isinstance(types, str) else types) and not {
        "enum",
        "pattern",
        "const",
    } & set(node)
    out = {path} if free else set()
    children = [(f"{path}.{k}" if path else k, child) for k, child in node.get("properties", {}).items()]
    if isinstance(node.get("additionalProperties"), dict):
        children.append((f"{path}.*", node["additionalProperties"]))
    if isinstance(node.get("items"), dict):
        children.append((f"{path}[]", node["items"]))
    children += [(path, child) for child in node.get("oneOf", [])]
    for child_path, child in children:
        out |= _free_strings(child, child_path, definitions)
    return out


def test_every_free_string_is_reviewed():
    """A new string key must be a fixed set (enum), a pattern, or added here as free with a reason."""
    schema = yaml.safe_load(SCHEMA.read_text())
    assert _free_strings(schema, "", schema["definitions"]) == FREE_STRINGS


SCHEMA_CASES: list[tuple[str, Callable[[dict], object], str, str]] = [
    ("dtype", lambda c: c["reward_models"]["dORM"]["scoring"].update(dtype="float8"),
     "['reward_models']['dORM']['scoring']['dtype']", "'float8' is not one of"),
    ("backend auto", lambda c: c["teacher"].update(backend="auto"), "['teacher']['backend']", "'auto' is not one of"),
    ("lora of a generative model", lambda c: c["reward_models"]["gORM"]["scoring"].update(lora="merged"),
     "['reward_models']['gORM']['scoring']", "should not be valid"),
    ("build key", lambda c: c["backbones"]["tiny"]["build"].update(layers=3),
     "['backbones']['tiny']['build']", "'layers' was unexpected"),
    ("build type", lambda c: c["backbones"]["tiny"]["build"].update(hidden_size=12.5),
     "['backbones']['tiny']['build']['hidden_size']", "12.5 is not of type 'integer'"),
    ("dotted model name", lambda c: c["reward_models"].update({"dORM.prov.json": c["reward_models"].pop("dORM")}),
     "['reward_models']", "'dORM.prov.json' does not match"),
    ("model name starting with -", lambda c: c["reward_models"].update({"-dORM": c["reward_models"].pop("dORM")}),
     "['reward_models']", "'-dORM' does not match"),
    ("dotted backbone name", lambda c: c["backbones"].update({"tiny.v2": c["backbones"].pop("tiny")}),
     "['backbones']", "'tiny.v2' does not match"),
]  # fmt: skip


@pytest.mark.parametrize("name, edit, path, message", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_rejects(default, name, edit, path, message):
    from snakemake.utils import validate

    edit(default)
    with pytest.raises(Exception, match=re.escape(message)) as info:
        validate(default, str(SCHEMA))
    assert f"On instance{path}:" in str(info.value)


# --------------------------------------------------------------------------- cross-checks, as units
def _add_model(name: str, **entry):
    return lambda c: c["reward_models"].update({name: {"task_type": "dORM", "strategy": "last", **entry}})


#: (name, edit of the default config, the message's start (the key), a later part of it)
CASES: list[tuple[str, Callable[[dict], object], str, str]] = [
    ("train backbone", lambda c: c["reward_models"]["dORM"]["train"].update(backbone="huge"),
     "reward_models.dORM.train.backbone:", "backbone 'huge' is not defined in `backbones` (defined: tiny)"),
    ("teacher backbone", lambda c: c["teacher"].update(backbone="huge"), "teacher.backbone:", "'huge'"),
    ("critiques backbone", lambda c: c["critiques"].update(backbone="huge"), "critiques.backbone:", "'huge'"),
    ("data of another task type", lambda c: c["reward_models"]["dORM"]["train"].update(data="train_gORM"),
     "reward_models.dORM.train.data:", "a dORM model trains on train, not 'train_gORM'"),
    ("data not configured", lambda c: c["datasets"].pop("train_gPRM"),
     "reward_models.gPRM.train.data:", "datasets.train_gPRM is not configured"),
    ("critiques without a teacher", lambda c: (c.pop("teacher"), c["reward_models"]["gORM"]["train"].update(data="critiques")),
     "reward_models.gORM.train.data:", "needs the `teacher` section"),
    ("synth source without synth", lambda c: (c.pop("synth"), c["backbones"].clear(), c["reward_models"].clear(),
                                              c.pop("teacher"), c.pop("critiques")),
     "datasets.train.source:", "'synth' needs the `synth` section"),
    ("built backbone without synth", lambda c: (c.pop("synth"), c["datasets"].update(
        {k: {"source": "owner/set"} for k in c["datasets"]}), c["datasets"]["test"].update(name="t")),
     "backbones.tiny.build:", "needs the `synth` section"),
    ("dangling replica_of", _add_model("dORM2", checkpoint="owner/x", replica_of="nope"),
     "reward_models.dORM2.replica_of:", "'nope' is not a reward model of its own"),
    ("replica_of a replica", lambda c: (_add_model("r1", checkpoint="o/a", replica_of="dORM")(c),
                                        _add_model("r2", checkpoint="o/b", replica_of="r1")(c)),
     "reward_models.r2.replica_of:", "'r1' is not a reward model of its own"),
    ("replicas of an unknown model", lambda c: c["analysis"].update(replicas={"dORMx": ["owner/r"]}),
     "analysis.replicas.dORMx:", "'dORMx' is not a compared reward model"),
    ("replicas: itself", lambda c: c["analysis"].update(replicas={"dORM": ["owner/r", "dORM"]}),
     "analysis.replicas.dORM[1]:", "cannot be a replica of itself"),
    ("replicas: unknown name", lambda c: c["analysis"].update(replicas={"dORM": ["dORM_seed2"]}),
     "analysis.replicas.dORM[0]:", "'dORM_seed2' is not a reward model, a hub id (owner/name) nor a directory"),
    ("Ns beyond the synthetic CoTs", lambda c: c["evaluation"].update(Ns=[1, 4, 32]),
     "evaluation.Ns:", "N=32 is larger than synth.test_cots (6)"),
    ("num_runs beyond memory", lambda c: c["evaluation"].update(num_runs=10**9),
     "evaluation.num_runs 1000000000 x evaluation.Ns 1 2 4", "of memory, more than the limit of"),
    ("num_runs beyond memory, hub test set", lambda c: (
        c["datasets"]["test"].update(source="owner/test", name="t"), c["evaluation"].update(num_runs=10**10)),
     "evaluation.num_runs 10000000000", "over the smallest possible category (1 question, 4 reward models)"),
    ("results with ..", lambda c: c.update(results="../out"), "results:", "leaves the working directory"),
]  # fmt: skip


@pytest.mark.parametrize("name, edit, key, message", CASES, ids=[c[0] for c in CASES])
def test_check_names_the_key(default, name, edit, key, message):
    edit(default)
    with pytest.raises(ConfigError) as info:
        check_config(default)
    text = str(info.value)
    assert text.startswith(key) and message in text and "\n" not in text, text


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_pass(name):
    from snakemake.utils import validate

    config = load(name)
    validate(config, str(SCHEMA))  # fills the schema's defaults, as the Snakefile does
    check_config(config, [ROOT / "config" / name])


def test_synthetic_Ns_up_to_test_cots_pass(default):
    default["evaluation"]["Ns"] = [default["synth"]["test_cots"]]
    check_config(default)
    hub = copy.deepcopy(default)
    hub["datasets"]["test"] = {"name": "t", "source": "owner/test"}
    hub["evaluation"]["Ns"] = [1, 128]  # any N: the test set's CoTs are unknown here (evaluate warns)
    check_config(hub)


@pytest.mark.parametrize(
    "results, problem",
    [
        ("", "is empty"),
        ("  ", "is empty"),
        ("/abs/out", "is absolute"),
        ("~/out", "is absolute"),
        ("out/../../x", "leaves the working directory through '..'"),
        ("out/{test}", "contains '{}'"),
        ("out*", "contains '*'"),
        ("out[1]", "contains '[]'"),
        ("out?", "contains '?'"),
        ("out\nx", "contains '\\n'"),
        ("-out", "starts with '-'"),
    ],
)
def test_results_path_rejected(results, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)) as info:
        check_results(results)
    assert str(info.value).startswith(f"results: {results!r} ")


@pytest.mark.parametrize(
    "results", ["results", "results/paper", "my results", "out/$HOME-like", "./out", "a..b"]
)
def test_results_path_accepted(results):
    check_results(results)  # spaces and '$' are quoted by the rules


@pytest.mark.fault("duplicate key (YAML)")
def test_duplicate_keys_name_file_line_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "reward_models:\n"
        "  dORM:\n"
        "    scoring: {dtype: float16}\n"
        "    strategy: last\n"
        "    scoring: {per_device_batch_size: 8}\n"
        "evaluation: {Ns: [1, 2], Ns: [4]}\n"
    )
    (tmp_path / "ok.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigError) as info:
        check_duplicate_keys([tmp_path / "ok.yaml", path])
    assert str(info.value) == (
        f"{path}, line 5: duplicate key reward_models.dORM.scoring (first at line 3); "
        "YAML would silently keep only the last one"
    )
    path.write_text("a: [{b: 1, c: 2, b: 3}]\n'1': x\n1: y\n")  # '1' and 1 are different keys
    with pytest.raises(ConfigError, match=r"line 1: duplicate key a\[0\]\.b \(first at line 1\)"):
        check_duplicate_keys([path])


# --------------------------------------------------------------------------- in a dry run of the workflow
#: (name, config file made in the workspace, text the one error line holds)
DRY_RUNS: list[tuple[str, Callable[[Path], str], str]] = [
    ("dtype", lambda w: variant(w, "dt", lambda c: c["reward_models"]["dORM"]["scoring"].update(dtype="fp8")),
     "On instance['reward_models']['dORM']['scoring']['dtype']:"),
    ("Ns", lambda w: variant(w, "ns", lambda c: c["evaluation"].update(Ns=[1, 2, 64])),
     "evaluation.Ns: N=64 is larger than synth.test_cots (6)"),
    ("num_runs", lambda w: variant(w, "nr", lambda c: c["evaluation"].update(num_runs=10**9)),
     "evaluation.num_runs 1000000000 x evaluation.Ns 1 2 4 over a category of the synthetic test set"),
    ("results", lambda w: variant(w, "rs", lambda c: c.update(results="out/{x}")), "results: 'out/{x}' contains '{}'"),
]  # fmt: skip


@pytest.mark.parametrize("name, make, message", DRY_RUNS, ids=[c[0] for c in DRY_RUNS])
def test_dry_run_fails_naming_the_key(tmp_path, name, make, message):
    work = make_workspace(tmp_path / "wf")
    proc = snakemake(work, "-n", "--configfile", make(work), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out, out[-2000:]
    assert "Building DAG" not in out and not (work / "results").exists()


@pytest.mark.fault("duplicate key (YAML)")
def test_dry_run_fails_on_a_duplicate_key(tmp_path):
    work = make_workspace(tmp_path / "wf")
    lines = (work / "config" / "config.yaml").read_text().splitlines(keepends=True)
    model = lines.index("  dORM:\n")
    first = next(i for i in range(model, len(lines)) if lines[i].startswith("    scoring:"))
    lines.insert(first + 1, "    scoring: {dtype: auto}\n")
    (work / "dup.yaml").write_text("".join(lines))
    proc = snakemake(work, "-n", "--configfile", "dup.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    message = (
        f"dup.yaml, line {first + 2}: duplicate key reward_models.dORM.scoring (first at line {first + 1})"
    )
    assert message in out, out[-2000:]


def test_undefined_backbone_fails_although_everything_is_built(tmp_path):
    """A reference is checked when the workflow is parsed, not when a job that needs it is planned: after
    a complete run no job needs the backbone, which used to make the dry run say "Nothing to be done"."""
    work = full_run(tmp_path / "wf")
    for name, edit in [
        ("train", lambda c: c["reward_models"]["dORM"]["train"].update(backbone="huge")),
        ("teacher", lambda c: c["teacher"].update(backbone="huge")),
    ]:
        proc = snakemake(work, "-n", "--configfile", variant(work, name, edit), check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Nothing to be done" not in out
        key = "reward_models.dORM.train" if name == "train" else "teacher"
        assert f"{key}.backbone: backbone 'huge' is not defined in `backbones`" in out, out[-2000:]
