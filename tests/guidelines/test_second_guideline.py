"""A second, made-up guideline runs on the same engine: nothing about DLI is built in."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DATA, DELETE, mutate
from dli_check import CaseError, evaluate, load_rules

BOOSTER = mutate(
    {
        "transplants": [{"type": "autologous", "date": "2024-02-01", "indication": "C90.00"}],
        "patient.diagnoses": ["C90.01"],
        "services": [{"code": "38241", "date": "2024-03-01"}],
    }
)


@pytest.mark.parametrize(
    ("changes", "decision", "statuses"),
    [
        ({}, "medically_necessary", ["met", "met", "met", "met"]),
        ({"transplants.0.type": "syngeneic"}, "medically_necessary", ["met", "met", "met", "met"]),
        (
            {"transplants.0.type": "allogeneic"},
            "not_medically_necessary",
            ["not_met", "met", "met", "met"],
        ),
        (
            {"services.0.date": "2024-01-01"},
            "not_medically_necessary",
            ["met", "not_met", "met", "met"],
        ),
        ({"services.0.date": DELETE}, "insufficient_information", ["met", "unknown", "met", "met"]),
        (
            {"patient.diagnoses": ["C90.11"]},
            "not_medically_necessary",
            ["met", "met", "not_met", "met"],
        ),
        (
            {"transplants.0.indication": DELETE},
            "not_medically_necessary",
            ["met", "met", "met", "not_met"],
        ),
    ],
)
def test_made_up_guideline(changes: dict[str, Any], decision: str, statuses: list[str]) -> None:
    rules = load_rules(DATA / "made-up-guideline.yaml")
    result = evaluate(mutate(changes, BOOSTER), rules)
    assert result.provenance.guideline.id == "TEST-BOOST-01"
    (line,) = result.services
    assert line.decision == decision
    assert [r.status for r in line.reasons] == statuses


def test_caveat_note_from_a_made_up_code_set() -> None:
    rules = load_rules(DATA / "made-up-guideline.yaml")
    line = evaluate(mutate({"patient.diagnoses": ["C90.11"]}, BOOSTER), rules).services[0]
    assert line.reasons[2].notes == ("C90.11 is not listed: plasma cell leukemia is not listed",)


def test_services_and_codes_are_those_of_the_rule_file() -> None:
    rules = load_rules(DATA / "made-up-guideline.yaml")
    with pytest.raises(CaseError) as caught:
        evaluate(mutate({"services": [{"service": "donor_lymphocyte_infusion"}]}, BOOSTER), rules)
    assert str(caught.value) == (
        "<case>: services[0].service: not a service TEST-BOOST-01 governs (one of: booster_infusion)"
    )
    # The booster's code is not one CG-TRANS-03 governs: that line is not applicable there.
    case = mutate({"transplants": [], "services": [{"code": "38241"}]}, BOOSTER)
    result = evaluate(case)
    assert (result.decision, result.services[0].decision) == ("not_applicable", "not_applicable")
