"""The made-up guidelines in examples/guidelines/ (a drug prior authorization with step
therapy, and a lumbar MRI): each is marked made up, quotes its own text verbatim, passes
its suite with full coverage and every mutant killed, and decides its example cases
exactly as expected (`make expected` rewrites them after a deliberate change)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from dli_check import evaluate, load_rules
from dli_check.batch.mutation import run_mutation
from dli_check.batch.suites import run_suite
from dli_check.language.quotes import unquoted
from dli_check.language.text import load_rule_text

GUIDELINES = sorted(p for p in (ROOT / "examples" / "guidelines").iterdir() if p.is_dir())
CASES = [(g, c) for g in GUIDELINES for c in sorted((g / "cases").glob("*.json"))]


def _rules(guideline: Path) -> Path:
    return guideline / f"{guideline.name}.yaml"


def test_there_are_two() -> None:
    assert [g.name for g in GUIDELINES] == ["img-lumbar-mri", "rx-exemplumab"]


@pytest.mark.parametrize("guideline", GUIDELINES, ids=[g.name for g in GUIDELINES])
def test_marked_made_up_and_quoted_verbatim(guideline: Path) -> None:
    text = (guideline / "guideline.txt").read_text(encoding="utf-8")
    assert text.startswith("MADE UP FOR DEMONSTRATION.")
    rules = _rules(guideline)
    assert unquoted(load_rule_text(rules.read_bytes(), str(rules)), str(rules), text) == []


@pytest.mark.parametrize("guideline", GUIDELINES, ids=[g.name for g in GUIDELINES])
def test_the_suite_passes_covers_and_kills_every_mutant(guideline: Path) -> None:
    suite = guideline / f"{guideline.name}.tests.yaml"
    report = run_suite(suite)
    assert (report.failures, report.coverage.gaps(), report.coverage.percent) == ([], [], 100.0)
    mutation = run_mutation(suite)
    assert (mutation.survived, mutation.score, mutation.equivalent) == ([], 100.0, [])


@pytest.mark.parametrize(("guideline", "case"), CASES, ids=[f"{g.name}/{c.stem}" for g, c in CASES])
def test_each_example_case_gives_its_expected_result(guideline: Path, case: Path) -> None:
    expected = (guideline / "expected" / case.name).read_text(encoding="utf-8")
    assert evaluate(case, load_rules(_rules(guideline))).to_json() + "\n" == expected


def test_the_questionnaire_asks_what_every_construct_reads() -> None:
    """Derived numbers ask for their inputs, routes for what tells services apart, named
    conditions for what they read, windows and ages for both their dates."""
    from dli_check.interop.questionnaires import needed_facts

    rules = load_rules(_rules(ROOT / "examples" / "guidelines" / "rx-exemplumab"))
    assert sorted(needed_facts(rules)) == [
        "medication.drug",
        "pasi.baseline",
        "pasi.current",
        "pasi.measured",
        "patient.birth_date",
        "patient.diagnoses",
        "service.date",
        "service.every_days",
        "service.mg",
        "service.request",
        "test.code",
        "test.date",
        "test.result",
        "trial.drug",
        "trial.end",
        "trial.outcome",
        "trial.start",
    ]


def test_the_minimal_rule_file_of_the_docs_passes_its_suite() -> None:
    suite = ROOT / "docs" / "examples" / "minimal.tests.yaml"
    report = run_suite(suite)
    assert (report.failures, report.coverage.percent, run_mutation(suite).score) == (
        [],
        100.0,
        100.0,
    )
