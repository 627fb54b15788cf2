"""The bundled example cases give exactly their expected results.

After a deliberate change, `make expected` rewrites the expected files: review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from dli_check import evaluate

CASES = sorted((ROOT / "examples" / "cases").glob("*.json"))
EXPECTED = ROOT / "examples" / "expected"


def test_there_are_examples_of_every_outcome() -> None:
    decisions = {evaluate(path).decision for path in CASES}
    assert decisions == {
        "medically_necessary",
        "not_medically_necessary",
        "insufficient_information",
        "no_version_in_effect",
    }
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_example(path: Path) -> None:
    expected = (EXPECTED / path.name).read_text(encoding="utf-8")
    assert evaluate(path).to_json() + "\n" == expected


JARGON = ("tabular order", "held up", "before, at or after it")


def test_no_reason_uses_jargon_a_nurse_would_not_follow() -> None:
    for path in sorted(EXPECTED.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert not [word for word in JARGON if word in text], path.name
