"""Mutation testing of rule files (`rules test --mutate`): the mistakes it makes, the score
it reports, the survivors it names at file:line:column, equivalent mutants a suite lists,
and --min-mutation-score."""

from __future__ import annotations

from pathlib import Path

import pytest
from made_up_rules import rule_file
from typer.testing import CliRunner

from dli_check.batch.mutation import mutants, run_mutation
from dli_check.cli.commands import app
from dli_check.errors import RuleFileError
from dli_check.language.text import load_rule_text

RULES = rule_file(
    "TEST-MUTATE-01",
    "Mutation",
    """\
      - id: severe
        explanation: A score of at least 15, documented.
        citation: {section: Criteria, quote: "15"}
        condition:
          all:
            - at_least: {fact: patient.score, value: 15}
            - is_true: patient.documented
""",
    """\
case:
  records:
    patient:
      description: The patient.
      facts:
        score: {type: number, description: Score., question: The score?, minimum: 0}
        documented: {type: boolean, description: Documented., question: Documented?}
""",
)


def _test(name: str, score: int, documented: bool, decision: str) -> str:
    return (
        f"  - name: {name}\n"
        f"    case: {{case_id: {name}, patient: {{score: {score}, documented: {str(documented).lower()}}},"
        " services: [{code: J3590}]}\n"
        f"    expect: {{decision: {decision}}}\n"
    )


WEAK = (
    "tests:\n"
    + _test("severe", 20, True, "medically_necessary")
    + _test("mild", 3, True, "not_medically_necessary")
)
STRONG = (
    WEAK
    + _test("at-the-threshold", 15, True, "medically_necessary")
    + _test("just-under", 14, True, "not_medically_necessary")
    + _test("undocumented", 20, False, "not_medically_necessary")
)


def _files(tmp_path: Path, suite: str) -> Path:
    (tmp_path / "drug.yaml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "drug.tests.yaml"
    path.write_text(suite, encoding="utf-8")
    return path


def test_the_mistakes_it_makes() -> None:
    data = load_rule_text(RULES.encode(), "drug.yaml").data
    assert [m.name for m in mutants(data)] == [
        "services[0].criteria[0].condition: all made any",
        "services[0].criteria[0].condition.all[0]: part 1 of all dropped",
        "services[0].criteria[0].condition.all[1]: part 2 of all dropped",
        "services[0].criteria[0].condition.all[0]: at_least made greater_than",
        "services[0].criteria[0].condition.all[0]: at_least negated",
        "services[0].criteria[0].condition.all[0].at_least.value: at_least value 15 -> 16",
        "services[0].criteria[0].condition.all[0].at_least.value: at_least value 15 -> 14",
        "services[0].criteria[0].condition.all[1]: is_true negated",
    ]


def test_a_weak_suite_names_its_survivors(tmp_path: Path) -> None:
    suite = _files(tmp_path, WEAK)
    report = run_mutation(suite)
    assert report.summary == "mutation score: 50.0% (4 of 8 mutants killed)"
    result = CliRunner().invoke(
        app, ["rules", "test", str(suite), "--mutate", "--min-mutation-score", "90"]
    )
    assert result.exit_code == 1
    rules = tmp_path / "drug.yaml"
    assert result.stdout.splitlines()[-5:] == [
        "  mutation score: 50.0% (4 of 8 mutants killed)",
        f"  survived: {rules}:27:15: services[0].criteria[0].condition.all[1]: part 2 of all dropped",
        f"  survived: {rules}:26:15: services[0].criteria[0].condition.all[0]: at_least made "
        "greater_than",
        f"  survived: {rules}:26:54: services[0].criteria[0].condition.all[0].at_least.value: "
        "at_least value 15 -> 16",
        f"  survived: {rules}:26:54: services[0].criteria[0].condition.all[0].at_least.value: "
        "at_least value 15 -> 14",
    ]


def test_a_strong_suite_kills_them_all(tmp_path: Path) -> None:
    suite = _files(tmp_path, STRONG)
    result = CliRunner().invoke(
        app, ["rules", "test", str(suite), "--mutate", "--min-mutation-score", "100"]
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "  mutation score: 100.0% (8 of 8 mutants killed)"


def test_equivalent_mutants_are_listed_with_their_reason(tmp_path: Path) -> None:
    listed = (
        "equivalent_mutants:\n"
        '  - mutant: "services[0].criteria[0].condition.all[0].at_least.value: at_least value 15 -> 14"\n'
        "    reason: made up for the test\n"
    )
    report = run_mutation(_files(tmp_path, listed + WEAK))
    assert report.summary == "mutation score: 57.1% (4 of 7 mutants killed)"
    assert [(m.description, why) for m, why in report.equivalent] == [
        ("at_least value 15 -> 14", "made up for the test")
    ]


def test_a_listed_mutant_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    listed = 'equivalent_mutants:\n  - {mutant: "services[0]: nothing", reason: stale}\n'
    with pytest.raises(RuleFileError, match=r"no such mutant: services\[0\]: nothing"):
        run_mutation(_files(tmp_path, listed + WEAK))
