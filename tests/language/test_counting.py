"""The rule language's counting and number equality: ``at_least_of`` ("2 of 3") and
``equals`` on numbers, each with its three-valued truth table, its words in reasons, its
errors at ``file:line:col``, and its compiled code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from made_up_rules import loaded, refused, rule_file
from pydantic import TypeAdapter

from dli_check import evaluate
from dli_check.language.operators import OPERATORS, Condition

RULES = rule_file(
    "TEST-STEP-01",
    "Step therapy",
    """\
      - id: two-of-three-tried
        explanation: At least two of the three first-line drugs were tried.
        citation: {section: Criteria, quote: "tried two of three"}
        condition:
          at_least_of:
            count: 2
            of:
              - is_true: history.tried_a
              - is_true: history.tried_b
              - is_true: history.tried_c
      - id: one-dose
        explanation: One dose a day.
        citation: {section: Criteria, quote: "once a day"}
        condition: {equals: {fact: history.doses_a_day, value: 1}}
""",
    """\
case:
  records:
    history:
      description: The drug history.
      facts:
        tried_a: {type: boolean, description: A tried., question: Was drug A tried?}
        tried_b: {type: boolean, description: B tried., question: Was drug B tried?}
        tried_c: {type: boolean, description: C tried., question: Was drug C tried?}
        doses_a_day: {type: number, description: Doses., question: How many doses a day?,
                      unit: doses/day, minimum: 0, maximum: 10}
        weight: {type: number, description: Weight., question: What is the weight?, unit: kg}
  service:
    facts: {}
""",
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _decide(rules: Any, **history: Any) -> Any:
    case = {"case_id": "S-1", "history": history, "services": [{"code": "J3590"}]}
    (line,) = evaluate(case, rules).services
    return {r.criterion: r for r in line.reasons}


# tried a, b, c (None: not given) -> status, missing, the count's note
AT_LEAST_OF = [
    ((True, True, False), "met", (), "2 of 3 met, 2 needed"),
    ((True, True, True), "met", (), "3 of 3 met, 2 needed"),
    ((True, False, False), "not_met", (), "1 of 3 met, 2 needed"),
    ((False, False, None), "not_met", (), "0 of 3 met, 2 needed"),  # one more cannot do
    ((True, False, None), "unknown", ("history.tried_c",), "1 of 3 met, 2 needed"),
    ((True, None, None), "unknown", ("history.tried_b", "history.tried_c"), "1 of 3 met, 2 needed"),
    ((True, True, None), "met", (), "2 of 3 met, 2 needed"),  # decided without c
]


@pytest.mark.parametrize(("tried", "status", "missing", "note"), AT_LEAST_OF)
def test_at_least_of_truth_table(
    rules: Any, tried: tuple[bool | None, ...], status: str, missing: tuple[str, ...], note: str
) -> None:
    given = {f"tried_{k}": v for k, v in zip("abc", tried, strict=True) if v is not None}
    reason = _decide(rules, doses_a_day=1, **given)["two-of-three-tried"]
    assert (reason.status, tuple(reason.missing), reason.notes[-1]) == (status, missing, note)


@pytest.mark.parametrize(
    ("doses", "status"), [(1, "met"), (1.0, "met"), (2, "not_met"), (None, "unknown")]
)
def test_equals_compares_numbers(rules: Any, doses: float | None, status: str) -> None:
    history: dict[str, Any] = {"tried_a": True, "tried_b": True}
    if doses is not None:
        history["doses_a_day"] = doses
    assert _decide(rules, **history)["one-dose"].status == status


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "value: 1}",
            'value: "1"}',
            "'history.doses_a_day' is a number: equals compares it with a number",
        ),
        ("count: 2", "count: 4", "count is 4, but there are 3 conditions"),
        ("count: 2", "count: 0", "Input should be greater than or equal to 1"),
        # thresholds outside a fact's declared bounds, and facts of different units
        (
            "value: 1}",
            "value: 11}",
            "criteria[1].condition.equals.value: 11 is outside what 'history.doses_a_day' may "
            "hold (0 to 10)",
        ),
        (
            "{equals: {fact: history.doses_a_day, value: 1}}",
            "{between: {fact: history.doses_a_day, min: -1, max: 2}}",
            "between.min: -1 is outside what 'history.doses_a_day' may hold (0 to 10)",
        ),
        (
            "{equals: {fact: history.doses_a_day, value: 1}}",
            "{at_most: {fact: history.doses_a_day, other: history.weight}}",
            "'history.doses_a_day' and 'history.weight' have different units (doses/day and kg)",
        ),
    ],
)
def test_errors_name_the_place(tmp_path: Path, old: str, new: str, message: str) -> None:
    said = refused(RULES.replace(old, new), tmp_path)
    assert message in said, said


def test_the_compiled_code_and_the_words(rules: Any) -> None:
    from dli_check.outputs.explain import python_source, rules_lines

    python = python_source(rules)
    assert "_count_of([(" in python and "], 2)" in python
    assert "  at least 2 of these 3:" in "\n".join(rules_lines(rules))


@pytest.mark.parametrize(
    "name", sorted(__import__("dli_check.language.operators").language.operators.OPERATORS)
)
def test_every_operator_has_an_example_that_parses(name: str) -> None:

    example = OPERATORS[name].example
    parsed = TypeAdapter(Condition).validate_python(yaml.safe_load(example))
    assert type(parsed) is OPERATORS[name].model


@pytest.mark.parametrize(
    ("line", "old", "new", "said"),
    [
        (0, "", "", []),
        (
            221,
            "may be Medically",
            "might be Medically",
            ["221:14: code_sets.dli_procedures.citation.quote"],
        ),
        (
            223,
            "Allogeneic lymphocyte infusions",
            "Allogeneic lymphocytes infused",
            ["223:39: code_sets.dli_procedures.codes[0].description"],
        ),
    ],
)
def test_rules_validate_reports_quotes_not_verbatim(
    tmp_path: Path, line: int, old: str, new: str, said: list[str]
) -> None:
    """`rules validate --guideline`: each quote not in the guideline's words, at its place."""
    import subprocess
    import sys

    from conftest import ROOT

    guideline = ROOT.parent / "shared" / "guideline" / "CG-TRANS-03.txt"
    if not guideline.is_file():
        pytest.skip("the guideline text is not beside this checkout")
    lines = (ROOT / "rules" / "cg-trans-03.yaml").read_text(encoding="utf-8").split("\n")
    if line:
        assert old in lines[line - 1]
        lines[line - 1] = lines[line - 1].replace(old, new)
    path = tmp_path / "rules.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    command = [sys.executable, "-m", "dli_check", "rules", "validate", str(path)]
    done = subprocess.run([*command, "--guideline", str(guideline)], capture_output=True, text=True)
    found = [
        x.removeprefix(f"dli-check: {path}:").removesuffix(
            ": is not the guideline's words, verbatim"
        )
        for x in done.stderr.splitlines()
    ]
    assert (done.returncode, found) == ((2, said) if said else (0, []))


NAMED = RULES.replace(
    "        condition:\n          at_least_of:\n",
    "        condition: {use: two-of-three}\n      - id: again\n"
    "        explanation: The same, used twice.\n"
    '        citation: {section: Criteria, quote: "again"}\n'
    "        condition: {not: {not: {use: two-of-three}}}\n"
    "      - id: unused-branch\n        explanation: x\n"
    '        citation: {section: Criteria, quote: "x"}\n'
    "        condition:\n          at_least_of:\n",
).replace(
    "services:\n",
    "conditions:\n  two-of-three:\n    at_least_of:\n      count: 2\n      of:\n"
    "        - is_true: history.tried_a\n        - is_true: history.tried_b\n"
    "        - is_true: history.tried_c\nservices:\n",
    1,
)


def test_a_named_condition_is_used_by_name(tmp_path: Path) -> None:
    from dli_check.outputs.explain import rules_lines

    rules = loaded(NAMED, tmp_path)
    reasons = _decide(rules, tried_a=True, tried_b=False, tried_c=False, doses_a_day=1)
    assert (reasons["two-of-three-tried"].status, reasons["again"].status) == ("not_met",) * 2
    assert reasons["two-of-three-tried"].notes[-1] == "1 of 3 met, 2 needed"
    text = "\n".join(rules_lines(rules.latest))
    assert "two-of-three (a named condition)" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{use: two-of-three}", "{use: three-of-three}"), "no condition named 'three-of-three'"),
        (
            ("- is_true: history.tried_c\nservices", "- use: two-of-three\nservices"),
            "the condition 'two-of-three' uses itself",
        ),
        (
            ("- is_true: history.tried_c\nservices", "- is_true: history.nope\nservices"),
            "conditions.two-of-three.at_least_of.of[2].is_true: unknown fact 'history.nope'",
        ),
    ],
)
def test_named_condition_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    said = refused(NAMED.replace(*change), tmp_path)
    assert message in said, said
