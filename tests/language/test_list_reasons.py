"""Readable reasons for list criteria: a record that fails a branch is told why by the
branch's first failing part (never "SpO2 89 is not at most 55" when the branch was for
PaO2), a failing `not` shows the value it saw, and capped notes name the records they
leave out."""

from __future__ import annotations

from typing import Any

import pytest
from made_up_rules import loaded, rule_file

from dli_check import evaluate

RULES = rule_file(
    "TEST-REASONS-01",
    "Reasons",
    """\
      - id: low-oxygen
        explanation: A PaO2 at most 55, or an SpO2 at most 88.
        citation: {section: Criteria, quote: "55 or 88"}
        condition:
          some:
            of: tests
            where:
              any:
                - all: [{equals: {fact: test.kind, value: pao2}}, {at_most: {fact: test.value, value: 55}}]
                - all: [{equals: {fact: test.kind, value: spo2}}, {at_most: {fact: test.value, value: 88}}]
      - id: not-smoking
        explanation: Not a current smoker.
        citation: {section: Criteria, quote: "smoker"}
        condition: {not: {equals: {fact: patient.smoking, value: current}}}
      - id: not-on-oxygen
        explanation: Not on oxygen already.
        citation: {section: Criteria, quote: "oxygen"}
        condition: {not: {is_true: patient.on_oxygen}}
      - id: both
        explanation: Both at once, at the top of a criterion.
        citation: {section: Criteria, quote: "both"}
        condition:
          all: [{equals: {fact: patient.smoking, value: never}}, {is_true: patient.on_oxygen}]
""",
    """\
case:
  records:
    patient:
      description: The patient.
      facts:
        smoking: {type: choice, choices: [never, former, current], description: Smoking., question: Does the patient smoke?, label: the smoking status}
        on_oxygen: {type: boolean, description: On oxygen., question: On oxygen?, label: on oxygen already}
  lists:
    tests:
      item: test
      description: Blood-gas tests.
      question: Which tests were done?
      facts:
        kind: {type: choice, choices: [spo2, pao2], description: Kind., question: Which test?, label: the test's kind}
        value: {type: number, description: Value., question: The value?, label: the test's value, minimum: 0}
""",
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _notes(rules: Any, criterion: str, tests: list[dict[str, Any]], **patient: Any) -> Any:
    case = {"case_id": "N-1", "patient": patient, "tests": tests, "services": [{"code": "J3590"}]}
    (line,) = evaluate(case, rules).services
    reason = next(r for r in line.reasons if r.criterion == criterion)
    return reason.status, reason.notes


@pytest.mark.parametrize(
    ("criterion", "tests", "patient", "status", "notes"),
    [
        (
            "low-oxygen",
            [{"kind": "spo2", "value": 89}],
            {},
            "not_met",
            (
                "tests[0]: the test's kind is spo2, not pao2",
                "tests[0]: the test's value (89) is not at most 88",
            ),
        ),
        (
            "low-oxygen",
            [{"kind": "pao2", "value": 60}, {"kind": "spo2", "value": 90}],
            {},
            "not_met",
            (
                "tests[0]: the test's value (60) is not at most 55",
                "tests[0]: the test's kind is pao2, not spo2",
                "tests[1]: the test's kind is spo2, not pao2",
                "tests[1]: the test's value (90) is not at most 88",
            ),
        ),
        (
            "low-oxygen",
            [{"kind": "pao2", "value": 50}],
            {},
            "met",
            ("met by tests[0] (the test's kind is pao2, the test's value is 50)",),
        ),
        (
            "low-oxygen",
            [{"kind": "pao2", "value": 60 + i} for i in range(8)],
            {},
            "not_met",
            (
                "tests[0]: the test's value (60) is not at most 55",
                "tests[0]: the test's kind is pao2, not spo2",
                "tests[1]: the test's value (61) is not at most 55",
                "tests[1]: the test's kind is pao2, not spo2",
                "tests[2]: the test's value (62) is not at most 55",
                "and 11 more like these, about tests[2], tests[3], tests[4], tests[5], "
                "tests[6], tests[7]",
            ),
        ),
        ("not-smoking", [], {"smoking": "current"}, "not_met", ("the smoking status is current",)),
        ("not-smoking", [], {"smoking": "never"}, "met", ()),
        ("not-on-oxygen", [], {"on_oxygen": True}, "not_met", ("on oxygen already: yes",)),
        (  # at the top of a criterion, every failing part speaks
            "both",
            [],
            {"smoking": "former", "on_oxygen": False},
            "not_met",
            ("the smoking status is former, not never", "on oxygen already: no"),
        ),
    ],
)
def test_list_reasons(
    rules: Any,
    criterion: str,
    tests: list[dict[str, Any]],
    patient: dict[str, Any],
    status: str,
    notes: tuple[str, ...],
) -> None:
    assert _notes(rules, criterion, tests, **patient) == (status, notes)
