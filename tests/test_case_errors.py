"""Every way a case can break the case format gives one CaseError naming the field path."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import BASE_CASE, DELETE, mutate
from dli_check import CaseError, evaluate

SECRET = "Jane Q Patient 1961-04-02"

ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("case_id missing", {"case_id": DELETE}, "case_id: is required but missing"),
    ("case_id a number", {"case_id": 12}, "case_id: must be a string"),
    ("case_id empty", {"case_id": ""}, "case_id: must not be empty"),
    ("case_id blank", {"case_id": " \u200b"}, "case_id: must not be blank"),
    ("services missing", {"services": DELETE}, "services: is required but missing"),
    ("services empty", {"services": []}, "services: must not be empty"),
    (
        "services not a list",
        {"services": {"service": "donor_lymphocyte_infusion"}},
        "services: must be a list",
    ),
    (
        "boolean as a string",
        {"transplant.medically_necessary": "yes"},
        "transplant.medically_necessary: must be a JSON boolean (true or false)",
    ),
    (
        "boolean as a number",
        {"services.0.genetically_modified": 1},
        "services[0].genetically_modified: must be a JSON boolean (true or false)",
    ),
    (
        "misspelt field",
        {"transplant.medicaly_necessary": True},
        "transplant: has an unknown field (its key number 8)",
    ),
    (
        "unknown top-level field",
        {"notes": SECRET},
        "the case has an unknown field (its key number 5)",
    ),
    (
        "enum typo",
        {"transplant.type": SECRET},
        "transplant.type: must be one of: 'allogeneic', 'autologous', 'syngeneic'",
    ),
    (
        "conditioning typo",
        {"transplant.conditioning": "RIC"},
        "transplant.conditioning: must be one of: 'myeloablative', 'non_myeloablative', 'reduced_intensity'",
    ),
    (
        "status typo",
        {"transplant.status": "done"},
        "transplant.status: must be one of: 'completed', 'planned'",
    ),
    (
        "date not ISO",
        {"transplant.date": "03/14/2025"},
        "transplant.date: not an ISO date (YYYY-MM-DD)",
    ),
    ("date impossible", {"services.0.date": "2025-02-30"}, "services[0].date: not a calendar date"),
    (
        "date as a number",
        {"transplant.date": 20250314},
        "transplant.date: must be an ISO date (YYYY-MM-DD)",
    ),
    (
        "datetime instead of date",
        {"transplant.date": "2025-03-14T10:00:00"},
        "transplant.date: not an ISO date (YYYY-MM-DD)",
    ),
    (
        "diagnosis not a code",
        {"patient.diagnoses": ["C92.02", SECRET]},
        "patient.diagnoses[1]: not shaped like an ICD-10-CM code (e.g. C92.00)",
    ),
    (
        "diagnosis not in ICD-10-CM",
        {"patient.diagnoses": ["C92.99"]},
        "patient.diagnoses[0]: not a code in ICD-10-CM FY2026 (April 1, 2026 update)",
    ),
    ("diagnosis a number", {"patient.diagnoses": [9200]}, "patient.diagnoses[0]: must be a string"),
    ("diagnoses a string", {"patient.diagnoses": "C92.02"}, "patient.diagnoses: must be a list"),
    (
        "indication not in ICD-10-CM",
        {"transplant.indication": "C92.9Z"},
        "transplant.indication: not a code in ICD-10-CM FY2026 (April 1, 2026 update)",
    ),
    ("donor id a number", {"transplant.donor_id": 7731}, "transplant.donor_id: must be a string"),
    ("transplant a list", {"transplant": []}, "transplant: must be an object"),
    (
        "unknown service",
        {"services.0.service": "stem_cell_boost"},
        "services[0].service: not a service CG-TRANS-03 governs (one of: donor_lymphocyte_infusion, "
        "lymphocyte_collection_cryopreservation, genetic_modification_of_donor_lymphocytes)",
    ),
    (
        "CPT of another service",
        {"services.0.cpt": "86999"},
        "services[0].cpt: not a CPT code CG-TRANS-03 lists for donor_lymphocyte_infusion (listed: 38242)",
    ),
    (
        "CPT for a service with none listed",
        {"services": [{"service": "lymphocyte_collection_cryopreservation", "cpt": "38242"}]},
        "services[0].cpt: not a CPT code CG-TRANS-03 lists for lymphocyte_collection_cryopreservation (listed: none)",
    ),
    (
        "CPT malformed",
        {"services.0.cpt": "3824"},
        "services[0].cpt: does not match the pattern ^[0-9]{4}[0-9A-Z]$",
    ),
    (
        "several problems",
        {"case_id": 1, "transplant.type": "x"},
        "case_id: must be a string (and 1 more problem)",
    ),
]


@pytest.mark.parametrize(("changes", "message"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_case_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(mutate(changes))
    assert str(caught.value) == f"<case>: {message}"
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("value", [None, [], 3, [BASE_CASE]])
def test_case_must_be_an_object(value: Any) -> None:
    with pytest.raises(CaseError, match=r"^<case>: a case must be a JSON object$"):
        evaluate(value)


def test_null_means_absent() -> None:
    result = evaluate(mutate({"transplant.medically_necessary": None, "patient": None}))
    assert result.services[0].missing == ("transplant.medically_necessary", "patient.diagnoses")
