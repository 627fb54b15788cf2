"""Derived numbers: formulas over number facts (``+ - * /``, ``min``, ``max``, ``round``),
parsed into a tree and compiled, exact as fractions, with units checked when the rule file
loads; an absent input or a division by zero leaves them unknown, and notes show the
computation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from made_up_rules import loaded, refused, rule_file

from dli_check import evaluate
from dli_check.language.expressions import FormulaError, parse, text
from dli_check.outputs.explain import python_source, rules_lines

RULES = rule_file(
    "TEST-ARITHMETIC-01",
    "Arithmetic",
    """\
      - id: dose-limit
        explanation: At most 300 mg every 4 weeks.
        citation: {section: Criteria, quote: "300 mg every 4 weeks"}
        condition: {at_most: {fact: service.per_28_days, value: 300}}
      - id: improvement
        explanation: At least 75% better than at baseline.
        citation: {section: Criteria, quote: "75%"}
        condition: {at_least: {fact: patient.improvement, value: 75}}
      - id: rounded
        explanation: The rounded score is 3.
        citation: {section: Criteria, quote: "3"}
        condition: {equals: {fact: patient.rounded, value: 3}}
      - id: band
        explanation: The worse of two scores is between 10 and 20.
        citation: {section: Criteria, quote: "10 to 20"}
        condition: {between: {fact: patient.worse, min: 10, max: 20}}
      - id: more-than-baseline
        explanation: The current dose exceeds the baseline dose.
        citation: {section: Criteria, quote: "exceeds"}
        condition: {greater_than: {fact: service.per_28_days, other: patient.baseline_dose}}
""",
    """\
case:
  records:
    patient:
      description: The patient.
      facts:
        baseline: {type: number, description: PASI at baseline., question: The PASI at baseline?, label: the baseline PASI, minimum: 0}
        current: {type: number, description: PASI now., question: The PASI now?, label: the current PASI, minimum: 0}
        baseline_dose: {type: number, unit: mg, description: Dose., question: The first dose?, label: the first dose}
        score: {type: number, description: A score., question: The score?}
      derived:
        improvement:
          description: Percent improvement from baseline.
          label: the improvement
          formula: (patient.baseline - patient.current) / patient.baseline * 100
          unit: "%"
        rounded: {description: The score rounded., formula: round(patient.score)}
        worse: {description: The worse., label: the worse score, formula: "max(patient.baseline, patient.current)"}
  service:
    facts:
      mg: {type: number, unit: mg, description: Dose., question: How many mg?, label: the dose, minimum: 0}
      every_days: {type: number, unit: days, description: Interval., question: Every how many days?, label: the interval, minimum: 0}
    derived:
      per_28_days:
        description: The dose per 28 days.
        label: the dose per 28 days
        formula: service.mg * 28 days / service.every_days
        unit: mg
""",
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _reason(rules: Any, criterion: str, line: dict[str, Any], patient: dict[str, Any]) -> Any:
    case = {"case_id": "A-1", "patient": patient, "services": [{"code": "J3590", **line}]}
    (result,) = evaluate(case, rules).services
    return next(r for r in result.reasons if r.criterion == criterion)


@pytest.mark.parametrize(
    ("criterion", "line", "patient", "status", "missing", "notes"),
    [
        (
            "dose-limit",
            {"mg": 300, "every_days": 14},
            {},
            "not_met",
            (),
            ("the dose per 28 days (300 mg * 28 days / 14 days = 600 mg) is not at most 300",),
        ),
        (
            "dose-limit",
            {"mg": 300, "every_days": 28},
            {},
            "met",
            (),
            ("the dose per 28 days (300 mg * 28 days / 28 days = 300 mg) is at most 300",),
        ),
        ("dose-limit", {"mg": 300}, {}, "unknown", ("services[0].every_days",), ()),
        (
            "dose-limit",
            {},
            {},
            "unknown",
            ("services[0].mg", "services[0].every_days"),
            (),
        ),
        (
            "dose-limit",
            {"mg": 300, "every_days": 0},
            {},
            "unknown",
            ("services[0].every_days",),
            ("the dose per 28 days cannot be computed: it would divide by zero",),
        ),
        (
            "improvement",
            {},
            {"baseline": 20, "current": 5},
            "met",
            (),
            ("the improvement ((20 - 5) / 20 * 100 = 75 %) is at least 75",),
        ),
        (  # exact: 0.3 - 0.2 is 0.1, and (0.4 - 0.1) / 0.4 is 75%, not 74.99999
            "improvement",
            {},
            {"baseline": 0.4, "current": 0.1},
            "met",
            (),
            ("the improvement ((0.4 - 0.1) / 0.4 * 100 = 75 %) is at least 75",),
        ),
        (
            "improvement",
            {},
            {"baseline": 20, "current": 6},
            "not_met",
            (),
            ("the improvement ((20 - 6) / 20 * 100 = 70 %) is not at least 75",),
        ),
        (
            "improvement",
            {},
            {"baseline": 0, "current": 0},
            "unknown",
            ("patient.baseline",),
            ("the improvement cannot be computed: it would divide by zero",),
        ),
        ("improvement", {}, {"current": 3}, "unknown", ("patient.baseline",), ()),
        ("rounded", {}, {"score": 2.5}, "met", (), ()),  # half up, not to even
        ("rounded", {}, {"score": 3.49}, "met", (), ()),
        (
            "rounded",
            {},
            {"score": 3.5},
            "not_met",
            (),
            ("patient.rounded is round(3.5) = 4, not 3",),
        ),
        (
            "band",
            {},
            {"baseline": 12, "current": 30},
            "not_met",
            (),
            ("the worse score (max(12, 30) = 30) is not between 10 and 20",),
        ),
        ("band", {}, {"baseline": 12, "current": 3}, "met", (), ()),
        (
            "more-than-baseline",
            {"mg": 100, "every_days": 14},
            {"baseline_dose": 250},
            "not_met",
            (),
            (
                "the dose per 28 days (100 mg * 28 days / 14 days = 200 mg) is not greater than "
                "the first dose (250)",
            ),
        ),
    ],
)
def test_derived_numbers(
    rules: Any,
    criterion: str,
    line: dict[str, Any],
    patient: dict[str, Any],
    status: str,
    missing: tuple[str, ...],
    notes: tuple[str, ...],
) -> None:
    reason = _reason(rules, criterion, line, patient)
    assert (reason.status, reason.missing, reason.notes) == (status, missing, notes)


def test_a_case_cannot_give_a_derived_number(rules: Any) -> None:
    case = {"case_id": "A-2", "patient": {"improvement": 80}, "services": [{"code": "J3590"}]}
    with pytest.raises(Exception, match=r"patient\.improvement"):
        evaluate(case, rules)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "formula: service.mg * 28 days / service.every_days",
            "formula: service.mg + service.every_days",
            "derived.per_28_days.formula: '+' combines service.mg (mg) with "
            "service.every_days (days): their units differ",
        ),
        (
            "formula: service.mg * 28 days / service.every_days",
            "formula: service.mg * 28 / service.every_days",
            "derived.per_28_days.unit: the formula gives mg/days, not mg",
        ),
        (
            "formula: service.mg * 28 days / service.every_days",
            "formula: service.mg * (28 days",
            "derived.per_28_days.formula: at character 22: expected ')', found the end",
        ),
        (
            "formula: service.mg * 28 days / service.every_days",
            "formula: service.mg * __import__",
            "derived.per_28_days.formula: at character 14: '_' is not understood",
        ),
        (
            "formula: service.mg * 28 days / service.every_days",
            "formula: service.mg * patient.nothing",
            "derived.per_28_days.formula: 'patient.nothing' is not a declared fact",
        ),
        (
            "formula: round(patient.score)",
            'formula: "round(patient.score, 1.5)"',
            "derived.rounded.formula: at character 1: round's digits are a whole number",
        ),
        (
            'formula: "max(patient.baseline, patient.current)"',
            'formula: "max(patient.baseline)"',
            "derived.worse.formula: at character 1: max takes two numbers or more",
        ),
        (
            'formula: "max(patient.baseline, patient.current)"',
            'formula: "max(patient.baseline, patient.baseline_dose)"',
            "max combines patient.baseline (no unit) with patient.baseline_dose (mg)",
        ),
        (
            "other: patient.baseline_dose",
            "other: patient.baseline",
            "have different units (mg and no unit)",
        ),
        (
            "formula: service.mg * 28 days / service.every_days",
            "formula: service.mg / (0)",
            "derived.per_28_days.formula: divides by the number 0",
        ),
        (
            "rounded: {description",
            "current: {description",
            "'patient.current' is a declared fact already",
        ),
    ],
)
def test_formula_errors_name_the_place(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in RULES
    assert message in refused(RULES.replace(old, new), tmp_path)


@pytest.mark.parametrize(
    ("formula", "normal"),
    [
        ("a.b+1", "a.b + 1"),
        ("(a.b + 1) * 2", "(a.b + 1) * 2"),
        ("a.b - (c.d - e.f)", "a.b - (c.d - e.f)"),
        ("a.b / (c.d * e.f)", "a.b / (c.d * e.f)"),
        ("-(a.b + 1)", "-(a.b + 1)"),
        ("min(a.b, 2 mg) * 3", "min(a.b, 2 mg) * 3"),
    ],
)
def test_formulas_read_back_in_their_normal_form(formula: str, normal: str) -> None:
    assert text(parse(formula)) == normal


@pytest.mark.parametrize(
    "formula",
    ["", "1 +", "a.b c.d", "round(a.b, 1, 2)", "(" * 40 + "1" + ")" * 40, "1" + " + 1" * 200],
)
def test_formulas_that_cannot_be_read(formula: str) -> None:
    with pytest.raises(FormulaError):
        parse(formula)


def test_rules_show_lists_them(rules: Any) -> None:
    assert "  service.per_28_days = service.mg * 28 days / service.every_days (mg)" in (
        rules_lines(rules)
    )


def test_the_code_is_straight_line_and_exact(rules: Any) -> None:
    python = python_source(rules)
    assert "_q(service_mg) * _c" in python and "service_every_days" in python
    assert "eval(" not in python and "_round(_q(patient_score))" in python
