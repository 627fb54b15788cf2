"""`stated`: whether the case itself gives a fact, rather than its declared default. Never
unknown: met when the case gives the fact, not met when it is absent or defaulted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import DATA
from dli_check import RuleFileError, evaluate, load_rules

VALID = (DATA / "made-up-guideline.yaml").read_text(encoding="utf-8")
CONDITION = "condition: {present: transplant.indication}"
FACTS = """      date: {type: date, description: The date., question: When is the booster?}
"""
WITH_DEFAULT = (
    FACTS
    + """      urgent:
        type: boolean
        description: Whether the booster is urgent.
        question: Is the booster urgent?
        default: false
        default_reason: an order says when it is urgent
      note: {type: identifier, description: A note id., question: Which note?}
"""
)


def _rules(tmp_path: Path, condition: str) -> Any:
    text = VALID.replace(CONDITION, f"condition: {condition}").replace(FACTS, WITH_DEFAULT)
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


CASE: dict[str, Any] = {
    "case_id": "S-1",
    "patient": {"diagnoses": ["C90.00"]},
    "transplants": [{"type": "autologous", "date": "2024-01-02", "indication": "C90.00"}],
    "services": [{"code": "38240", "date": "2024-03-01"}],
}


@pytest.mark.parametrize(
    ("condition", "line", "status"),
    [
        ("{stated: service.urgent}", {}, "not_met"),  # defaulted to false: not stated
        ("{stated: service.urgent}", {"urgent": None}, "not_met"),  # null is absent
        ("{stated: service.urgent}", {"urgent": False}, "met"),
        ("{stated: service.urgent}", {"urgent": True}, "met"),
        ("{stated: service.note}", {}, "not_met"),  # no default: as present
        ("{stated: service.note}", {"note": "N-1"}, "met"),
        ("{stated: transplant.indication}", {}, "met"),
        ("{not: {stated: service.urgent}}", {}, "met"),
    ],
)
def test_truth_table(tmp_path: Path, condition: str, line: dict[str, Any], status: str) -> None:
    rules = _rules(tmp_path, condition)
    case = {**CASE, "services": [{**CASE["services"][0], **line}]}
    (result,) = evaluate(case, rules).services
    assert [r.status for r in result.reasons if r.criterion == "indication-recorded"] == [status]


def test_stated_on_a_record_fact_with_a_default_is_refused(tmp_path: Path) -> None:
    text = VALID.replace(CONDITION, "condition: {stated: transplant.medically_necessary}")
    text = text.replace(
        "medically_necessary: {type: boolean, description: Needed., question: Was it needed?}",
        "medically_necessary: {type: boolean, description: Needed., question: Was it needed?, "
        "default: true, default_reason: assumed}",
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value.problems[0]) == (
        f"{path}:46:29: services[0].criteria[3].condition.stated: applies to a fact with a "
        "default only on a line (service.*)"
    )


@pytest.mark.parametrize(
    ("line", "notes"),
    [
        ({}, ("met by default: an order says when it is urgent",)),
        ({"urgent": False}, ()),  # said, not defaulted
    ],
)
def test_a_criterion_met_through_a_default_says_so(
    tmp_path: Path, line: dict[str, Any], notes: tuple[str, ...]
) -> None:
    rules = _rules(tmp_path, "{not: {is_true: service.urgent}}")
    case = {**CASE, "services": [{**CASE["services"][0], **line}]}
    (result,) = evaluate(case, rules).services
    (reason,) = [r for r in result.reasons if r.criterion == "indication-recorded"]
    assert (reason.status, reason.notes) == ("met", notes)
