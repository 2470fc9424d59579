"""Config validation: an invalid workflow config fails before any job runs, naming the key path.

Every case goes through ``snakemake.utils.validate`` with ``config/schema.yaml`` (what the Snakefile
calls first); two of them also through a real ``snakemake`` run of a copy of the workflow, which must
stop before its first job.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_harness import ROOT, make_workspace, snakemake, variant  # noqa: E402

SCHEMA = ROOT / "config" / "schema.yaml"


def _drop_sources(c: dict) -> None:
    c["reward_models"]["gORM"].pop("train")


#: (name, edit of the default config, key path named in the error, what the error says)
CASES: list[tuple[str, Callable[[dict], object], str, str]] = [
    ("unknown top-level key", lambda c: c.update(colour="blue"), "", r"'colour' was unexpected"),
    ("unknown nested key", lambda c: c["reward_models"]["dORM"]["train"].update(lr=1e-4),
     "['reward_models']['dORM']['train']", r"'lr' was unexpected"),
    ("unknown evaluation key", lambda c: c["evaluation"].update(num_run=3), "['evaluation']", r"'num_run' was unexpected"),
    ("wrong type: string for integer", lambda c: c["evaluation"].update(num_runs="100"),
     "['evaluation']['num_runs']", r"'100' is not of type 'integer'"),
    ("wrong type: list item", lambda c: c["evaluation"].update(Ns=[1, "2"]), "['evaluation']['Ns'][1]",
     r"'2' is not of type 'integer'"),
    ("wrong type: bool for object", lambda c: c["reward_models"]["dPRM"].update(scoring=True),
     "['reward_models']['dPRM']['scoring']", r"True is not of type 'object'"),
    ("out of range", lambda c: c["evaluation"].update(num_runs=0), "['evaluation']['num_runs']",
     r"0 is less than the minimum of 1"),
    ("strategy not in last/min/max/mean/prod", lambda c: c["reward_models"]["dPRM"].update(strategy="median"),
     "['reward_models']['dPRM']['strategy']", r"'median' is not one of \['last', 'min', 'max', 'mean', 'prod'\]"),
    ("unknown task type", lambda c: c["reward_models"]["gORM"].update(task_type="xORM"),
     "['reward_models']['gORM']['task_type']", r"'xORM' is not one of"),
    ("reward model without a source", _drop_sources, "['reward_models']['gORM']",
     r"is not valid under any of the given schemas"),
    ("reward model with two sources", lambda c: c["reward_models"]["gORM"].update(checkpoint="owner/gORM"),
     "['reward_models']['gORM']", r"is valid under each of"),
    ("sampling flags on a d* model", lambda c: c["reward_models"]["dORM"]["scoring"].update(n_samples=4),
     "['reward_models']['dORM']['scoring']", r"should not be valid under"),
    ("unknown category", lambda c: c.update(categories=["law", "cooking"]), "['categories']",
     r"is not valid under any of the given schemas"),
    ("missing required section", lambda c: c.pop("evaluation"), "", r"'evaluation' is a required property"),
    ("missing test name", lambda c: c["datasets"]["test"].pop("name"), "['datasets']['test']",
     r"'name' is a required property"),
    ("bad model name", lambda c: c["reward_models"].update({"my model": c["reward_models"].pop("dORM")}),
     "['reward_models']", r"'my model' does not match"),
]  # fmt: skip


@pytest.fixture(scope="module")
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.fault("invalid workflow config")
@pytest.mark.parametrize("name, edit, path, message", CASES, ids=[c[0] for c in CASES])
def test_schema_rejects_with_key_path(default_config, name, edit, path, message):
    from snakemake.utils import validate

    config = copy.deepcopy(default_config)
    edit(config)
    with pytest.raises(Exception, match=message) as info:
        validate(config, str(SCHEMA))
    text = str(info.value)
    assert "Error validating config file" in text
    assert f"On instance{path}:" in text, text[-600:]


def test_default_and_paper_configs_are_valid():
    from snakemake.utils import validate

    for name in ("config.yaml", "paper.yaml"):
        validate(yaml.safe_load((ROOT / "config" / name).read_text()), str(SCHEMA))


@pytest.mark.fault("invalid workflow config")
@pytest.mark.slow
@pytest.mark.parametrize(
    "name, edit, path",
    [
        ("strategy", lambda c: c["reward_models"]["dPRM"].update(strategy="median"),
         "['reward_models']['dPRM']['strategy']"),
        ("no source", _drop_sources, "['reward_models']['gORM']"),
    ],
)  # fmt: skip
def test_real_run_stops_before_any_job(tmp_path, name, edit, path):
    work = make_workspace(tmp_path / "wf")
    cfg = variant(work, name, edit)
    proc = snakemake(work, "--cores", "1", "--configfile", cfg, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Error validating config file" in out and f"On instance{path}:" in out, out[-2000:]
    assert not (work / "calls.log").exists()  # the stand-in rmflow logs every stage it runs: none ran
    assert not (work / "results").exists()
    assert not re.search(r"^\[.*\]\n(local)?rule ", out, re.M)  # no job was scheduled


@pytest.mark.fault("invalid workflow config")
@pytest.mark.parametrize(
    "name, edit, message",
    [
        ("set", lambda c: c["reward_models"]["dORM"]["train"]["set"].update(lora_r="abc"), "key 'lora_r'"),
        ("preset", lambda c: c["reward_models"]["dORM"]["train"].update(preset="nope"), "preset 'nope'"),
    ],
)
def test_bad_preset_fails_the_dry_run(tmp_path, name, edit, message):
    """Preset problems surface at parse time with the reward model's key, not when the train job runs."""
    work = make_workspace(tmp_path / "wf")
    proc = snakemake(work, "-n", "--configfile", variant(work, name, edit), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "reward_models.dORM.train" in out and message in out, out[-2000:]
