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
        {"transplants.0.medically_necessary": "yes"},
        "transplants[0].medically_necessary: must be a JSON boolean (true or false)",
    ),
    (
        "boolean as a number",
        {"services.0.genetically_modified": 1},
        "services[0].genetically_modified: must be a JSON boolean (true or false)",
    ),
    (
        "misspelt field",
        {"transplants.0.medicaly_necessary": True},
        "transplants[0]: has an unknown field (its key number 8)",
    ),
    (
        "unknown top-level field",
        {"notes": SECRET},
        "the case has an unknown field (its key number 5)",
    ),
    (
        "enum typo",
        {"transplants.0.type": SECRET},
        "transplants[0].type: must be one of: 'allogeneic', 'autologous', 'syngeneic'",
    ),
    (
        "conditioning typo",
        {"transplants.0.conditioning": "RIC"},
        "transplants[0].conditioning: must be one of: 'myeloablative', 'non_myeloablative', 'reduced_intensity'",
    ),
    (
        "status typo",
        {"transplants.0.status": "done"},
        "transplants[0].status: must be one of: 'completed', 'planned'",
    ),
    (
        "date not ISO",
        {"transplants.0.date": "03/14/2025"},
        "transplants[0].date: not an ISO date (YYYY-MM-DD)",
    ),
    ("date impossible", {"services.0.date": "2025-02-30"}, "services[0].date: not a calendar date"),
    (
        "date as a number",
        {"transplants.0.date": 20250314},
        "transplants[0].date: must be an ISO date (YYYY-MM-DD)",
    ),
    (
        "datetime instead of date",
        {"transplants.0.date": "2025-03-14T10:00:00"},
        "transplants[0].date: not an ISO date (YYYY-MM-DD)",
    ),
    (
        "diagnosis not a code",
        {"patient.diagnoses": ["C92.02", SECRET]},
        "patient.diagnoses[1]: not shaped like an ICD-10-CM code (e.g. C92.00)",
    ),
    (
        "diagnosis not in ICD-10-CM",
        {"patient.diagnoses": ["C92.99"]},
        "patient.diagnoses[0]: not a code in any ICD-10-CM release here (FY2021, FY2025, FY2026)",
    ),
    ("diagnosis a number", {"patient.diagnoses": [9200]}, "patient.diagnoses[0]: must be a string"),
    ("diagnoses a string", {"patient.diagnoses": "C92.02"}, "patient.diagnoses: must be a list"),
    (
        "indication not in ICD-10-CM",
        {"transplants.0.indication": "C92.9Z"},
        "transplants[0].indication: not a code in any ICD-10-CM release here (FY2021, FY2025, FY2026)",
    ),
    (
        "donor id a number",
        {"transplants.0.donor_id": 7731},
        "transplants[0].donor_id: must be a string",
    ),
    (
        "the old transplant key",
        {"transplant": {}},
        "transplant: is no longer a field: use transplants, a list of records",
    ),
    ("transplants an object", {"transplants": {}}, "transplants: must be a list"),
    (
        "more transplants than a case may hold",
        {"transplants": [{}] * 21},
        "transplants: must have at most 20 items",
    ),
    (
        "a line with neither service nor code",
        {"services": [{}]},
        "services[0]: needs a service or a code (or both)",
    ),
    (
        "unknown service",
        {"services.0.service": "stem_cell_boost"},
        "services[0].service: not a service CG-TRANS-03 governs (one of: donor_lymphocyte_infusion, "
        "lymphocyte_collection_cryopreservation, genetic_modification_of_donor_lymphocytes)",
    ),
    (
        "code of no service, on a line naming a service that lists codes",
        {"services": [{"service": "donor_lymphocyte_infusion", "code": "38241"}]},
        "services[0].code: not a code CG-TRANS-03 lists for donor_lymphocyte_infusion (listed: 38242)",
    ),
    (
        "the old cpt key",
        {"services": [{"service": "lymphocyte_collection_cryopreservation", "cpt": "38242"}]},
        "services[0].cpt: is no longer a field: use code (a line's procedure code)",
    ),
    (
        "code malformed",
        {"services.0.code": "3824"},
        "services[0].code: not a CPT or HCPCS procedure code (e.g. 38242 or E0601)",
    ),
    (
        "several problems",
        {"case_id": 1, "transplants.0.type": "x"},
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
    result = evaluate(mutate({"transplants.0.medically_necessary": None, "patient": None}))
    assert result.services[0].missing == ("transplants[0].medically_necessary", "patient.diagnoses")
