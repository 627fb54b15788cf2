"""Only the patient's own, confirmed data decides a case read from FHIR: a rule-out or
resolved diagnosis, another person's resource (a DLI involves a donor too), or a form
answered in draft or for another questionnaire is seen, named, and not used."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from conftest import ROOT
from dli_check import evaluate, load_rules
from dli_check.api import decide_data
from dli_check.inputs.fhir import case_from_fhir

FHIR = ROOT / "examples" / "fhir"
RULES = load_rules()


def order_bundle() -> dict[str, Any]:
    """The example order, its diagnoses read from the Conditions alone (not its reasonCode)."""
    bundle: dict[str, Any] = json.loads((FHIR / "order-sign-dli.json").read_text())
    del bundle["entry"][0]["resource"]["reasonCode"]
    return bundle


def resource(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"].get("id") == rid
    )
    return found


def status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": code}]}


CONDITION_ROWS = [
    # (element, code, the AML diagnosis is used)
    ("verificationStatus", "confirmed", True),
    ("verificationStatus", "provisional", False),
    ("verificationStatus", "differential", False),
    ("verificationStatus", "refuted", False),
    ("verificationStatus", "unconfirmed", False),
    ("verificationStatus", "entered-in-error", False),
    ("clinicalStatus", "active", True),
    ("clinicalStatus", "recurrence", True),
    ("clinicalStatus", "relapse", True),
    ("clinicalStatus", "remission", True),
    ("clinicalStatus", "resolved", False),
    ("clinicalStatus", "inactive", False),
]


@pytest.mark.requirement(
    "FHIR Condition status",
    "Only confirmed (or unstated), current Conditions count: rule-out, provisional, differential, refuted, resolved and inactive ones do not, and are named",
)
@pytest.mark.parametrize(("element", "code", "used"), CONDITION_ROWS)
def test_only_confirmed_current_diagnoses_are_read(element: str, code: str, used: bool) -> None:
    bundle = order_bundle()
    system = "condition-ver-status" if element == "verificationStatus" else "condition-clinical"
    resource(bundle, "cond-aml")[element] = status(system, code)
    read = case_from_fhir(bundle, RULES, patient="Patient/pat-1")
    assert ("C92.02" in read.data["patient"]["diagnoses"]) is used
    expected = () if used else (f"Condition/cond-aml was not used: its {element} is {code}",)
    assert read.unused == expected


@pytest.mark.requirement(
    "CDS Hooks context.patientId",
    "A resource about another person than the context patient is not used, with a note",
)
def test_a_resource_about_another_person_is_not_used() -> None:
    bundle = order_bundle()
    donor = copy.deepcopy(resource(bundle, "cond-aml"))
    donor.update(id="donor-cond", subject={"reference": "Patient/donor-9"})
    donor["code"]["coding"][0]["code"] = "D46.9"
    bundle["entry"].append({"resource": donor})
    read = case_from_fhir(bundle, RULES, patient="Patient/pat-1")
    assert read.data["patient"]["diagnoses"] == ["C92.02", "Z94.84"]  # not the donor's D46.9
    assert read.unused == (
        "Condition/donor-cond was not used: it is about another person than the patient "
        "(Patient/donor-9, not Patient/pat-1)",
    )
    # The result says so on each line.
    result = decide_data(bundle, RULES, "<bundle>", patient="Patient/pat-1")
    assert result.services[0].notes[-1] == read.unused[0]


@pytest.mark.requirement(
    "PAS Claim.patient",
    "In PAS, the Claim's patient is the patient: another person's resources are not used",
)
def test_the_claims_patient_is_the_patient_of_a_pas_bundle() -> None:
    bundle: dict[str, Any] = json.loads((FHIR / "pas-claim-dli-answered.json").read_text())
    resource(bundle, "hct-1")["subject"] = {"reference": "Patient/someone-else"}
    read = case_from_fhir(bundle, RULES)
    assert "transplants" not in read.data
    assert read.unused == (
        "Procedure/hct-1 was not used: it is about another person than the patient "
        "(Patient/someone-else, not Patient/pat-1)",
    )


ANSWER_ROWS = [
    # (what changes on the QuestionnaireResponse, why it is not used; None: used)
    ({}, None),
    ({"status": "amended"}, None),
    ({"status": "in-progress"}, "its status is in-progress, not completed or amended"),
    ({"status": "stopped"}, "its status is stopped, not completed or amended"),
    (
        {"questionnaire": "http://other.example/Questionnaire/intake"},
        "it does not answer a questionnaire of this service",
    ),
    (
        {"questionnaire": "urn:dli-check:cg-trans-030"},
        "it does not answer a questionnaire of this service",
    ),
    ({"questionnaire": "https://payer.example/fhir/Questionnaire/cg-trans-03-PA-1|2023"}, None),
    (
        {"subject": {"reference": "Patient/donor-9"}},
        "it is about another person than the patient (Patient/donor-9, not Patient/pat-1)",
    ),
]


@pytest.mark.requirement(
    "DTR QuestionnaireResponse",
    "Answers count only from a completed or amended response to this service's questionnaire about the patient",
)
@pytest.mark.parametrize(("changes", "why"), ANSWER_ROWS)
def test_answers_count_only_from_a_finished_form_of_this_service_about_the_patient(
    changes: dict[str, Any], why: str | None
) -> None:
    bundle: dict[str, Any] = json.loads((FHIR / "pas-claim-dli-answered.json").read_text())
    resource(bundle, "qr-2").update(changes)
    read = case_from_fhir(bundle, RULES)
    answered = read.data["transplants"][0].get("medically_necessary")
    assert (answered, read.unused) == (
        (True, ()) if why is None else (None, (f"QuestionnaireResponse/qr-2 was not used: {why}",))
    )
    assert evaluate(bundle).decision == (
        "medically_necessary" if why is None else "insufficient_information"
    )


@pytest.mark.requirement(
    "FHIR contained",
    "A contained resource is read and named by its container",
)
def test_a_contained_condition_is_read_and_named_by_its_container() -> None:
    bundle = order_bundle()
    order = bundle["entry"][0]["resource"]
    aml = resource(bundle, "cond-aml")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != "cond-aml"]
    order["contained"] = [aml | {"id": "dx1"}]
    order["reasonReference"] = [{"reference": "#dx1"}]
    read = case_from_fhir(bundle, RULES, patient="Patient/pat-1")
    assert read.data["patient"]["diagnoses"] == ["C92.02", "Z94.84"]
    assert read.sources["patient.diagnoses"][0] == "ServiceRequest/dli-order-1#dx1.code.coding"
