"""``rmflow STAGE --help`` shows the default of every flag that has one."""

from __future__ import annotations

import argparse
import re

import pytest

from rmflow.cli import DISPATCH, STAGES, build_parser, main


def stage_parser(stage: str) -> argparse.ArgumentParser:
    parser = build_parser(stage)
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[stage]


def entries(help_text: str) -> dict[str, str]:
    """Each option's help entry (invocation and text, whitespace collapsed), by its first flag."""
    out = {}
    for block in re.split(r"\n(?=  -)", help_text):
        m = re.match(r"\s*(-[-\w]+)", block)
        if m:
            out[m.group(1)] = " ".join(block.split())
    return out


@pytest.mark.parametrize("stage", [*STAGES, *DISPATCH])
def test_every_default_is_shown(stage, capsys):
    with pytest.raises(SystemExit) as done:
        main([stage, "--help"])
    assert done.value.code == 0
    shown = entries(capsys.readouterr().out)
    for action in stage_parser(stage)._actions:
        if not action.option_strings or action.required or action.default in (None, False, argparse.SUPPRESS):
            continue
        entry = shown[action.option_strings[0]]
        assert "default" in entry.lower(), entry
        if "(default: " in entry:
            assert f"(default: {action.default})" in entry, entry


def test_reward_help_shows_what_generative_scoring_costs(capsys):
    with pytest.raises(SystemExit):
        main(["reward", "--help"])
    shown = entries(capsys.readouterr().out)
    assert "(default: 10)" in shown["--n_samples"]
    assert "(default: 8192)" in shown["--max_tokens"]
    assert "(default: 0.6)" in shown["--temperature"]
    assert "(default: 42)" in shown["--seed"] and "(default: all)" in shown["--category"]
