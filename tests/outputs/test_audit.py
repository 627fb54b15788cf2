"""Results an auditor can follow: each case's decision id and input sha256, and per line
its position, date of service, ICD-10-CM release and the facts each criterion read."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest

from conftest import BASE_CASE, DELETE, ROOT, mutate
from dli_check import evaluate, load_rules
from dli_check.results import BY_DEFAULT, CriterionRead, LineAudit

RULES_SHA = load_rules().latest.provenance.rules_sha256
BASE_CASE_DATE = dt.date(2025, 9, 2)


def test_a_file_is_named_by_the_sha256_of_its_bytes() -> None:
    path = ROOT / "examples" / "cases" / "dli-relapsed-aml.json"
    result = evaluate(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    name = "\n".join((digest, RULES_SHA, result.provenance.engine_version))
    expected_id = str(uuid.uuid5(uuid.UUID("8ad5c98e-2ca3-4588-9530-84947e983a13"), name))
    assert (result.case_sha256, result.decision_id) == (digest, expected_id)
    assert uuid.UUID(expected_id).version == 5
    assert evaluate(path.read_bytes()).decision_id == expected_id  # the same bytes, the same id


def test_a_dict_is_named_by_its_canonical_json() -> None:
    text = json.dumps(BASE_CASE, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    result = evaluate(BASE_CASE)
    assert result.case_sha256 == hashlib.sha256(text.encode()).hexdigest()
    reordered = dict(reversed(list(BASE_CASE.items())))
    assert evaluate(reordered).decision_id == result.decision_id
    assert evaluate(mutate({"case_id": "T-2"})).decision_id != result.decision_id


def test_the_engine_called_directly_has_no_input_to_name() -> None:
    rules = load_rules()
    result = rules.decide_data(BASE_CASE, "<case>")
    assert (result.case_sha256, result.decision_id) == (None, None)
    assert result.audit is not None


def test_each_line_says_where_it_stands_and_what_was_read() -> None:
    case = mutate({"transplants.0.conditioning": DELETE})
    case["services"].append({"service": "lymphocyte_collection_cryopreservation"})
    audit = evaluate(case).audit
    assert audit is not None
    dli_reads = (
        CriterionRead("transplant-allogeneic", ("transplants[0].type",)),
        CriterionRead("transplant-conditioning", ("transplants[0].conditioning",)),
        CriterionRead("transplant-medically-necessary", ("transplants[0].medically_necessary",)),
        CriterionRead(
            "transplant-completed",
            ("transplants[0].status", "services[0].date", "transplants[0].date"),
        ),
        CriterionRead("transplant-treated-hematologic-malignancy", ("transplants[0].indication",)),
        CriterionRead("diagnosis-listed", ("patient.diagnoses",)),
        CriterionRead("same-donor", ("services[0].lymphocyte_donor_id", "transplants[0].donor_id")),
        CriterionRead("not-genetically-modified", ("services[0].genetically_modified",)),
    )
    assert audit.lines[0] == LineAudit(
        0, BASE_CASE_DATE, "FY2025 (April 1, 2025 update)", dli_reads
    )
    second = audit.lines[1]
    assert (second.position, second.date_of_service) == (1, None)
    assert second.code_set_release == "FY2026 (April 1, 2026 update)"
    assert second.read[-1] == CriterionRead(
        "same-donor", ("services[1].lymphocyte_donor_id", "transplants[0].donor_id")
    )
    values = dict((v.fact, v.value) for v in audit.values)
    assert values["transplants[0].conditioning"] is None
    assert values["transplants[0].date"] == dt.date(2025, 3, 14)
    assert values["patient.diagnoses"] == ("C92.02", "Z94.84")
    assert values["services[1].lymphocyte_donor_id"] is None
    assert len(audit.values) == len(set(values))  # each value once


def test_the_json_holds_the_audit_and_the_compact_record_the_release() -> None:
    result = evaluate(BASE_CASE)
    full = json.loads(result.to_json())
    assert list(full) == [
        "case_id",
        "decision",
        "decision_id",
        "case_sha256",
        "services",
        "provenance",
        "sources",
        "audit",
    ]
    assert full["audit"]["lines"][0]["code_set_release"] == "FY2025 (April 1, 2025 update)"
    assert {"fact": "services[0].lymphocyte_donor_id", "value": "D-1"} in full["audit"]["values"]
    compact = json.loads(result.to_json(detail="decisions"))
    assert compact["decision_id"] == full["decision_id"]
    assert compact["services"][0]["code_set_release"] == "FY2025 (April 1, 2025 update)"
    assert "D-1" not in result.to_json(detail="decisions")  # identifiers: full record only


BY_DEFAULT_ROWS: list[tuple[str, dict[str, Any], str, bool, list[str]]] = [
    ("transplant-conditioning", {}, "met", False, []),
    (
        "transplant-conditioning",
        {"transplants.0.conditioning": DELETE},
        "met",
        True,
        [f"{BY_DEFAULT}the transplant's conditioning was not given"],
    ),
    (
        "transplant-completed",
        {"services.0.date": DELETE},
        "met",
        True,
        [f"{BY_DEFAULT}the infusion's date was not given"],
    ),
    # Met by absence only where the absence decides: a planned transplant is not met.
    (
        "transplant-completed",
        {"services.0.date": DELETE, "transplants.0.status": "planned"},
        "not_met",
        False,
        ["the transplant's status is planned, not completed"],
    ),
    (
        "not-genetically-modified",
        {},
        "met",
        True,
        [
            f"{BY_DEFAULT}genetic modification is billed on its own line (CPT 86999), and the "
            "claim has none for these lymphocytes"
        ],
    ),
    ("not-genetically-modified", {"services.0.genetically_modified": False}, "met", False, []),
]


@pytest.mark.parametrize(("criterion", "changes", "status", "by_default", "notes"), BY_DEFAULT_ROWS)
def test_a_criterion_met_through_a_default_or_an_absence_says_so(
    criterion: str, changes: dict[str, Any], status: str, by_default: bool, notes: list[str]
) -> None:
    line = evaluate(mutate(changes)).services[0]
    reason = next(r for r in line.reasons if r.criterion == criterion)
    assert (reason.status, reason.by_default, list(reason.notes)) == (status, by_default, notes)
