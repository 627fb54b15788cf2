"""Coverage-guided fuzzing of the case parser and evaluator with Atheris.

    .venv/bin/pip install atheris
    mkdir -p build/corpus && cp examples/cases/*.json build/corpus/
    .venv/bin/python fuzz/fuzz_case_parser.py -max_total_time=600 build/corpus

Any input must give a result or a CaseError: anything else is a crash that Atheris reports
with the input that caused it.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from dli_check import CaseError, evaluate, load_rules
    from dli_check.inputs.loaders import parse_case_json

RULES = load_rules()


def test_one_input(data: bytes) -> None:
    """Parse and evaluate one input; only CaseError may escape."""
    with contextlib.suppress(CaseError):
        evaluate(parse_case_json(data, "fuzz"), RULES)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
