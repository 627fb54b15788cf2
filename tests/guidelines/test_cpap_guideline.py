"""A second guideline, from YAML alone: a CPAP device, with a number fact, a list of sleep
studies, a quantifier over them and an HCPCS code. Nothing in src/ knows any of it."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DATA, DELETE, ROOT, mutate
from dli_check import CaseError, evaluate, load_rules

RULES = load_rules(DATA / "cpap.yaml")
CPAP: dict[str, Any] = {
    "case_id": "OSA-1",
    "patient": {"diagnoses": ["G47.33"]},
    "sleep_studies": [{"date": "2025-01-05", "ahi": 22.5}],
    "services": [{"code": "E0601", "date": "2025-02-01"}],
}
MN, NMN, INS = "medically_necessary", "not_medically_necessary", "insufficient_information"
AHI, STUDY = "the study's AHI is ", "the study (2025-01-05)"

# (name, changes, decision, statuses of the two criteria, notes of the AHI criterion)
ROWS: list[tuple[str, dict[str, Any], str, list[str], tuple[str, ...]]] = [
    ("all met", {}, MN, ["met", "met"], (f"met by sleep_studies[0] ({AHI}22.5, {STUDY})",)),
    (
        "AHI exactly 15",
        {"sleep_studies.0.ahi": 15},
        MN,
        ["met", "met"],
        (f"met by sleep_studies[0] ({AHI}15, {STUDY})",),
    ),
    (
        "AHI below 15",
        {"sleep_studies.0.ahi": 12},
        NMN,
        ["met", "not_met"],
        ("sleep_studies[0]: the study's AHI (12) is not at least 15",),
    ),
    (
        "one study of two qualifies",
        {"sleep_studies": [{"date": "2024-11-02", "ahi": 9}, {"date": "2025-01-05", "ahi": 31}]},
        MN,
        ["met", "met"],
        # the record that met it, and only that one, with the values its condition read
        (f"met by sleep_studies[1] ({AHI}31, {STUDY})",),
    ),
    (
        "the qualifying study came after the device",
        {"sleep_studies.0.date": "2025-03-01"},
        NMN,
        ["met", "not_met"],
        ("sleep_studies[0]: the study (2025-03-01) is not before the device (2025-02-01)",),
    ),
    ("no sleep study", {"sleep_studies": []}, INS, ["met", "unknown"], ()),
    ("a study without its AHI", {"sleep_studies.0.ahi": DELETE}, INS, ["met", "unknown"], ()),
    (
        "another diagnosis",
        {"patient.diagnoses": ["G47.30"]},
        NMN,
        ["not_met", "met"],
        (f"met by sleep_studies[0] ({AHI}22.5, {STUDY})",),
    ),
]


@pytest.mark.parametrize(
    ("changes", "decision", "statuses", "notes"),
    [r[1:] for r in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_cpap(
    changes: dict[str, Any], decision: str, statuses: list[str], notes: tuple[str, ...]
) -> None:
    result = evaluate(mutate(changes, CPAP), RULES)
    (line,) = result.services
    assert (line.service, line.code, line.decision) == ("cpap_device", "E0601", decision)
    assert [r.status for r in line.reasons] == statuses
    assert line.reasons[1].notes == notes
    assert result.provenance.guideline.id == "TEST-CPAP-01"


def test_missing_studies_are_asked_for_by_their_question() -> None:
    line = evaluate(mutate({"sleep_studies.0.ahi": DELETE}, CPAP), RULES).services[0]
    assert line.missing == ("sleep_studies[0].ahi",)
    assert RULES.case_format.question("sleep_studies[0].ahi") == (
        "What apnea-hypopnea index did the sleep study find?"
    )
    line = evaluate(mutate({"sleep_studies": DELETE}, CPAP), RULES).services[0]
    assert line.missing == ("sleep_studies",)
    assert RULES.case_format.question("sleep_studies") == (
        "Which sleep studies has the patient had (date and apnea-hypopnea index)?"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sleep_studies.0.ahi": -1}, "sleep_studies[0].ahi: must be at least 0"),
        ({"sleep_studies.0.ahi": 250}, "sleep_studies[0].ahi: must be at most 200"),
        ({"sleep_studies.0.ahi": "15"}, "sleep_studies[0].ahi: must be a number"),
        ({"sleep_studies.0.ahi": True}, "sleep_studies[0].ahi: must be a number"),
        (
            {"services.0.code": "E06011"},
            "services[0].code: not a CPT or HCPCS procedure code (e.g. 38242 or E0601)",
        ),
        # A key of another guideline's case format is no field of this one.
        ({"transplants": []}, "the case has an unknown field (its key number 5)"),
    ],
)
def test_cpap_cases_are_validated_by_their_declarations(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(mutate(changes, CPAP), RULES)
    assert str(caught.value) == f"<case>: {message}"


def test_a_code_the_cpap_guideline_does_not_govern() -> None:
    result = evaluate(mutate({"services": [{"code": "E0470"}]}, CPAP), RULES)
    assert (result.decision, result.services[0].action) == ("not_applicable", "none")


def test_the_engine_names_nothing_of_either_guideline() -> None:
    words = ("transplant", "lymphocyte", "donor", "sleep", "cpap", "apnea")
    for path in (ROOT / "src" / "dli_check").rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        assert not [w for w in words if w in text], path.name
