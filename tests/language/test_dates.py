"""Dates in the rule language: date constants, on-or-before and on-or-after, windows
("within 6 months before the date of service"), durations ("at least 12 weeks") and ages
in whole years, each three-valued, with the dates and the figure in its note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from made_up_rules import loaded, refused, rule_file

from dli_check import evaluate
from dli_check.outputs.explain import python_source, rules_lines

RULES = rule_file(
    "TEST-DATES-01",
    "Dates",
    """\
      - id: adult
        explanation: 18 or over on the date of service.
        citation: {section: Criteria, quote: "adults"}
        condition: {age: {birth: patient.birth_date, at_least: 18}}
      - id: recent-test
        explanation: A test within 6 months before the date of service.
        citation: {section: Criteria, quote: "within 6 months"}
        condition: {within: {fact: patient.test_date, months: 6, before: service.date}}
      - id: long-trial
        explanation: A trial of at least 12 weeks.
        citation: {section: Criteria, quote: "12 weeks"}
        condition: {duration: {from: patient.trial_start, to: patient.trial_end, at_least: {weeks: 12}}}
      - id: from-2025
        explanation: On or after 2025-01-01.
        citation: {section: Criteria, quote: "from 2025"}
        condition: {on_or_after: {fact: service.date, value: 2025-01-01}}
      - id: test-first
        explanation: The test on or before the date of service.
        citation: {section: Criteria, quote: "test first"}
        condition: {on_or_before: {fact: patient.test_date, other: service.date}}
""",
    """\
case:
  records:
    patient:
      description: The patient.
      facts:
        birth_date: {type: date, description: Born., question: When was the patient born?, label: the patient's birth}
        test_date: {type: date, description: TB test., question: When was the TB test?, label: the TB test}
        trial_start: {type: date, description: Start., question: When did the trial start?, label: the trial's start}
        trial_end: {type: date, description: End., question: When did the trial end?, label: the trial's end}
  service:
    facts:
      date: {type: date, description: The date., question: When?, label: the date of service}
""",
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _reason(rules: Any, criterion: str, date: str | None = "2025-06-13", **patient: str) -> Any:
    line: dict[str, Any] = {"code": "J3590"}
    if date is not None:
        line["date"] = date
    case = {"case_id": "D-1", "patient": patient, "services": [line]}
    (result,) = evaluate(case, rules).services
    return next(r for r in result.reasons if r.criterion == criterion)


@pytest.mark.parametrize(
    ("criterion", "patient", "date", "status", "note"),
    [
        (
            "recent-test",
            {"test_date": "2025-01-03"},
            "2025-06-13",
            "met",
            "the TB test (2025-01-03) is 161 days before the date of service (2025-06-13), "
            "within 6 months",
        ),
        (
            "recent-test",
            {"test_date": "2024-12-13"},
            "2025-06-13",
            "met",  # both ends included
            "the TB test (2024-12-13) is 182 days before the date of service (2025-06-13), "
            "within 6 months",
        ),
        (
            "recent-test",
            {"test_date": "2024-12-12"},
            "2025-06-13",
            "not_met",
            "the TB test (2024-12-12) is 183 days before the date of service (2025-06-13), "
            "not within 6 months",
        ),
        (
            "recent-test",
            {"test_date": "2025-06-14"},
            "2025-06-13",
            "not_met",
            "the TB test (2025-06-14) is 1 day after the date of service (2025-06-13), "
            "not within 6 months",
        ),
        ("recent-test", {}, "2025-06-13", "unknown", None),
        ("recent-test", {"test_date": "2025-01-03"}, None, "unknown", None),
        (
            "adult",
            {"birth_date": "2007-06-13"},
            "2025-06-13",
            "met",
            "the patient's birth (2007-06-13): 18 years old on the date of service "
            "(2025-06-13), at least 18",
        ),
        (
            "adult",
            {"birth_date": "2007-06-14"},
            "2025-06-13",
            "not_met",
            "the patient's birth (2007-06-14): 17 years old on the date of service "
            "(2025-06-13), not at least 18",
        ),
        (
            "long-trial",
            {"trial_start": "2025-01-01", "trial_end": "2025-03-26"},
            "2025-06-13",
            "met",
            "from the trial's start (2025-01-01) to the trial's end (2025-03-26): 84 days, "
            "at least 12 weeks",
        ),
        (
            "long-trial",
            {"trial_start": "2025-01-01", "trial_end": "2025-03-25"},
            "2025-06-13",
            "not_met",
            "from the trial's start (2025-01-01) to the trial's end (2025-03-25): 83 days, "
            "not at least 12 weeks",
        ),
        ("from-2025", {}, "2025-01-01", "met", None),
        (
            "from-2025",
            {},
            "2024-12-31",
            "not_met",
            "the date of service (2024-12-31) is not on or after 2025-01-01",
        ),
        ("test-first", {"test_date": "2025-06-13"}, "2025-06-13", "met", None),
    ],
)
def test_dates_truth_table(
    rules: Any,
    criterion: str,
    patient: dict[str, str],
    date: str | None,
    status: str,
    note: str | None,
) -> None:
    reason = _reason(rules, criterion, date, **patient)
    assert (reason.status, reason.notes[-1] if reason.notes else None) == (status, note)


def test_an_absent_date_is_asked_for(rules: Any) -> None:
    reason = _reason(rules, "long-trial", trial_start="2025-01-01")
    assert reason.missing == ("patient.trial_end",)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("months: 6, before", "months: 6, weeks: 2, before", "give one of days, weeks, months"),
        ("months: 6, before: service.date", "months: 6", "give before or after"),
        ("at_least: {weeks: 12}", "to_be: 1", "duration.to_be: is not a known field"),
        (
            "{age: {birth: patient.birth_date, at_least: 18}}",
            "{age: {birth: patient.test_date, as_of: patient.birth_date}}",
            "give at_least, at_most or both",
        ),
    ],
)
def test_errors_name_the_place(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert message in refused(RULES.replace(old, new), tmp_path)


def test_the_words_and_the_code(rules: Any) -> None:
    text = "\n".join(rules_lines(rules))
    assert "patient.test_date is within 6 months before service.date" in text
    assert "from patient.trial_start to patient.trial_end is at least 12 weeks" in text
    python = python_source(rules)
    assert "_within(" in python and "_lasted(" in python and "_age(" in python
