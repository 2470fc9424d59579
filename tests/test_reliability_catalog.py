"""The README's table of fault classes and cases tried is the one the tests give (tests/reliability_catalog.py),
so its numbers cannot drift from the tests."""

from __future__ import annotations

import ast

from reliability_catalog import BEGIN, FUZZ, README, TESTS, counts, readme_table, table


def test_readme_table_matches_the_tests():
    assert readme_table(README.read_text(encoding="utf-8")) == table(), (
        "the README's fault table is out of date: run python tests/reliability_catalog.py --write"
    )


def test_forty_fault_classes_each_tried():
    classes = {name: n for name, n in counts().items() if name != FUZZ}
    assert len(classes) >= 40, sorted(classes)
    assert all(n >= 1 for n in classes.values())


def test_every_fault_mark_names_a_class_once():
    """A test is counted under one class only (two ``fault`` marks on one test would count it twice)."""
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                marks = [d for d in node.decorator_list if "mark.fault(" in ast.unparse(d)]
                assert len(marks) <= 1, (path.name, node.name)


def test_the_table_sits_in_the_reliability_section():
    text = README.read_text(encoding="utf-8")
    assert text.index("## Reliability") < text.index(BEGIN) < text.index("## Benchmarks")
