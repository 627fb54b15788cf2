"""The reviewer's text: the case headline says how the lines came out, a basis that stands
in for the guideline's sentence follows the criteria, and every decision has its colour."""

from __future__ import annotations

import pytest

from conftest import ROOT
from dli_check import evaluate, load_rules
from dli_check.outputs.report import COLOURS, LABELS, coloured, plain, result_lines

CASES = ROOT / "examples" / "cases"


@pytest.mark.parametrize(
    ("example", "headline"),
    [
        ("dli-relapsed-aml", "MEETS CG-TRANS-03"),
        ("dli-beside-genetic-modification", "DOES NOT MEET CG-TRANS-03"),
        ("dli-after-a-second-allograft", "1 of 2 lines meets CG-TRANS-03; 1 to a physician reviewer"),
        ("dli-claim-with-an-office-visit", "1 of 2 lines meets CG-TRANS-03; 1 not governed by CG-TRANS-03"),
        ("dli-before-the-first-version", "NO VERSION OF CG-TRANS-03 IN EFFECT HERE"),
    ],
)  # fmt: skip
def test_the_case_headline(example: str, headline: str) -> None:
    lines = result_lines(evaluate(CASES / f"{example}.json"), load_rules(), symbols=False)
    assert plain(lines[0]) == (
        f"Case {evaluate(CASES / f'{example}.json').case_id}: {headline}  "
        "(CG-TRANS-03, last reviewed 2023-05-11)"
    )


def test_a_basis_follows_the_criteria_it_sums_up() -> None:
    text = [plain(line) for line in result_lines(
        evaluate(CASES / "collection-for-sickle-cell-disease.json"), load_rules(), symbols=False
    )]  # fmt: skip
    basis = (
        "   Decided by: The guideline states no separate sentence for collection that does not "
        "meet its criteria: the line does not meet the criteria quoted above."
    )
    assert text[-1] == basis
    assert text.index(basis) > max(i for i, t in enumerate(text) if t.startswith("   yes"))


def test_every_decision_has_a_label_and_a_colour_a_terminal_shows() -> None:
    for decision in LABELS:
        assert coloured([(LABELS[decision], f"bold {COLOURS[decision]}")]).startswith("\x1b[1;3")
