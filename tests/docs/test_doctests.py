"""The examples in the modules' docstrings run and say what they show: every module of the
installed package that has one, found by walking the package (no list to forget)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dli_check

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(dli_check.__path__, "dli_check.")
    if name not in ("dli_check.__main__",)
)
WITH_EXAMPLES = [
    name
    for name in MODULES
    if any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))
]


def test_the_modules_with_examples_are_found() -> None:
    assert {
        "dli_check.outputs.records",
        "dli_check.values.case",
        "dli_check.compiler.codegen",
        "dli_check.values.codes",
        "dli_check.inert",
        "dli_check.inputs.json_positions",
        "dli_check.interop.questionnaires",
    } <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("module", WITH_EXAMPLES)
def test_docstring_examples(module: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried > 0 and failures == 0
