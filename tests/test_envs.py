"""Conda environments (envs/*.yaml) agree with requirements.lock and pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("light", "train", "vllm")
#: pins of envs/vllm.yaml that vllm itself fixes and that therefore differ from the lock
VLLM_OVERRIDES = {"torch": "2.14.0", "transformers": "5.20.2", "numpy": "2.3.5"}
HEAVY = {"torch", "transformers", "peft", "trl", "accelerate", "vllm"}


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def project_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    return {canonicalize_name(r.name): r for r in map(Requirement, reqs)}


def env_pins(name: str) -> dict[str, str]:
    env = yaml.safe_load((ROOT / "envs" / f"{name}.yaml").read_text())
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, f"envs/{name}.yaml: expected one pip section"
    pins = {}
    for spec in pips[0]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", spec)
        assert m, f"envs/{name}.yaml: {spec!r} is not an exact pin"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


@pytest.mark.parametrize("name", ENVS)
def test_env_pins_match_lock_and_project(name):
    locked, project = lock(), project_requirements()
    for package, version in env_pins(name).items():
        if name == "vllm" and package in VLLM_OVERRIDES:
            assert version == VLLM_OVERRIDES[package]
        elif package in locked:
            assert version == locked[package], (
                f"envs/{name}.yaml pins {package}=={version}, lock {locked[package]}"
            )
        if package in project:
            req = project[package]
            assert req.specifier.contains(version), f"envs/{name}.yaml: {package}=={version} outside {req}"
        assert package in locked or package in project, f"envs/{name}.yaml: {package} unknown to the project"


def test_light_env_is_light_and_complete():
    light = env_pins("light")
    assert not HEAVY & set(light)
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {canonicalize_name(Requirement(r).name) for r in base} <= set(light)


def test_train_env_covers_train_extra():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["train"]
    assert {canonicalize_name(Requirement(r).name) for r in extra} <= set(env_pins("train"))


def test_rules_reference_existing_envs():
    used = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        used |= set(re.findall(r"\.\./envs/(\w+)\.yaml", smk.read_text()))
    assert used == set(ENVS)


def test_slurm_plugin_pinned_for_workflow_extra():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "workflow"
    ]
    reqs = {canonicalize_name(Requirement(r).name): Requirement(r) for r in extra}
    plugin = reqs["snakemake-executor-plugin-slurm"]
    assert plugin.specifier.contains("2.7.1") and not plugin.specifier.contains("2.7.0")
    assert plugin.specifier.contains(lock()["snakemake-executor-plugin-slurm"])
