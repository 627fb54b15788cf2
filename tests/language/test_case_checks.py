"""Declared case checks: bounds that depend on a choice ("when the test's kind is spo2, its
value is at most 100"), run on each record once the case is valid. A failed check refuses
the case at the fact's path, or, declared ``failing: unknown``, sets the record's fact
aside so criteria ask for it, with a note saying why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from made_up_rules import loaded, refused, rule_file

from dli_check import CaseError, evaluate

CASE = """\
case:
  records:
    patient:
      description: The patient.
      facts:
        weight: {type: number, unit: kg, description: Weight., question: The weight?, minimum: 0}
        child: {type: boolean, description: A child., question: A child?}
      checks:
        - when: {is_true: patient.child}
          require: {at_most: {fact: patient.weight, value: 150}}
          says: a child's weight is at most 150 kg
  lists:
    tests:
      item: test
      description: Blood-gas tests.
      question: Which tests were done?
      facts:
        kind: {type: choice, choices: [spo2, pao2], description: Kind., question: Which test?}
        value: {type: number, description: Value., question: The value?, label: the test's value, minimum: 0}
      checks:
        - when: {equals: {fact: test.kind, value: spo2}}
          require: {at_most: {fact: test.value, value: 100}}
          says: an SpO2 is a percentage, at most 100
          failing: unknown
  service:
    facts:
      units: {type: number, description: Units., question: How many units?}
    checks:
      - require: {at_least: {fact: service.units, value: 1}}
        says: a line bills at least one unit
"""

RULES = rule_file(
    "TEST-CHECKS-01",
    "Case checks",
    """\
      - id: low-oxygen
        explanation: A test at or below 88.
        citation: {section: Criteria, quote: "88"}
        condition: {some: {of: tests, where: {at_most: {fact: test.value, value: 88}}}}
""",
    CASE,
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _case(
    tests: list[dict[str, Any]], patient: dict[str, Any] | None = None, units: int = 1
) -> Any:
    return {
        "case_id": "K-1",
        "patient": patient or {},
        "tests": tests,
        "services": [{"code": "J3590", "units": units}],
    }


@pytest.mark.parametrize(
    ("tests", "status", "missing", "notes"),
    [
        ([{"kind": "spo2", "value": 87}], "met", (), ("met by tests[0] (the test's value is 87)",)),
        (
            [{"kind": "pao2", "value": 120}],
            "not_met",
            (),
            ("tests[0]: the test's value (120) is not at most 88",),
        ),
        (  # an SpO2 of 870 is set aside: the criterion asks for the value again
            [{"kind": "spo2", "value": 870}],
            "unknown",
            ("tests[0].value",),
            (),
        ),
        (  # the other record still decides
            [{"kind": "spo2", "value": 870}, {"kind": "pao2", "value": 55}],
            "met",
            (),
            ("met by tests[1] (the test's value is 55)",),
        ),
        ([{"kind": "spo2"}], "unknown", ("tests[0].value",), ()),  # absent: the check passes
    ],
)
def test_a_failed_unknown_check_sets_the_value_aside(
    rules: Any,
    tests: list[dict[str, Any]],
    status: str,
    missing: tuple[str, ...],
    notes: tuple[str, ...],
) -> None:
    (line,) = evaluate(_case(tests), rules).services
    reason = line.reasons[0]
    assert (reason.status, reason.missing, reason.notes) == (status, missing, notes)
    flagged = any(t.get("kind") == "spo2" and t.get("value", 0) > 100 for t in tests)
    said = "tests[0]: an SpO2 is a percentage, at most 100; its value is not used"
    assert (said in line.notes) is flagged


@pytest.mark.parametrize(
    ("patient", "units", "message"),
    [
        (
            {"child": True, "weight": 180},
            1,
            "<case>: patient.weight: a child's weight is at most 150 kg",
        ),
        ({}, 0, "<case>: services[0].units: a line bills at least one unit"),
    ],
)
def test_a_failed_error_check_refuses_the_case(
    rules: Any, patient: dict[str, Any], units: int, message: str
) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(_case([], patient, units), rules)
    assert str(caught.value) == message


def test_an_adult_may_weigh_more(rules: Any) -> None:
    (line,) = evaluate(_case([], {"child": False, "weight": 180}), rules).services
    assert line.decision == "insufficient_information"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "require: {at_most: {fact: test.value, value: 100}}",
            "require: {at_most: {fact: patient.weight, value: 100}}",
            "case.lists.tests.checks[0].require: reads no fact of tests",
        ),
        (
            "require: {at_least: {fact: service.units, value: 1}}",
            "require: {some: {of: tests, where: {at_least: {fact: test.value, value: 1}}}}",
            "case.service.checks[0].require: reads no fact of services",
        ),
        (
            "failing: unknown",
            "failing: maybe",
            "case.lists.tests.checks[0].failing: must be one of: 'error', 'unknown'",
        ),
    ],
)
def test_check_errors_name_the_place(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in RULES
    assert message in refused(RULES.replace(old, new), tmp_path)


def test_rules_show_prints_the_checks_code(rules: Any) -> None:
    from dli_check.outputs.explain import python_source

    python = python_source(rules)
    assert "def judge_check_tests_0(case, line, number, rec, index):" in python
    assert "def judge_check_services_0(case, line, number, rec, index):" in python
