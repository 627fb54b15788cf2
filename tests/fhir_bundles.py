"""Test helper: a validated CG-TRANS-03 case written as a FHIR R4 Bundle, the way an EHR
and a questionnaire would say it, so that reading it back can be compared with the case.

Diagnoses become Conditions; transplants Procedures (CPT 38240 or 38241) with their date,
status and indication; lines draft ServiceRequests; every fact with no FHIR element (and
every fact of a syngeneic transplant, which has no code) an answer of a
QuestionnaireResponse whose linkIds are fact paths (a record a resource gives named by
that resource).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dli_check.engine.decider import Decider
from dli_check.values.case import Case

CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
TRANSPLANT_CODES = {"allogeneic": "38240", "autologous": "38241"}
STATUSES = {"completed": "completed", "planned": "preparation"}
BOUND = {"type", "status", "date", "indication"}


def answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, dt.date):
        return {"valueDate": value.isoformat()}
    if isinstance(value, int | float):
        return {"valueDecimal": value}
    return {"valueString": value}


def bundle_from_case(case: Case, rules: Decider) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []

    def ask(path: str, value: Any) -> None:
        if value is not None:
            values = value if isinstance(value, tuple) else (value,)
            answers.append({"linkId": path, "answer": [answer(v) for v in values]})

    patient = case.records.get("patient") or {}
    for i, code in enumerate(patient.get("diagnoses") or ()):
        entries.append(
            {
                "resourceType": "Condition",
                "id": f"cond-{i}",
                "code": {"coding": [{"system": ICD, "code": code}]},
                "subject": {"reference": "Patient/pat-1"},
            }
        )
    transplants = case.lists.get("transplants", ())
    by_questionnaire = any(t["type"] not in TRANSPLANT_CODES for t in transplants)
    for i, transplant in enumerate(transplants):
        facts = transplant.keys() if by_questionnaire else transplant.keys() - BOUND
        # A record a resource gives is answered about by that resource, not by position.
        record = f"transplants[{i}]" if by_questionnaire else f"transplants[Procedure/tx-{i}]"
        for name in sorted(facts):
            ask(f"{record}.{name}", transplant[name])
        if by_questionnaire:
            continue
        procedure: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": f"tx-{i}",
            "status": STATUSES.get(transplant["status"], "unknown"),
            "code": {"coding": [{"system": CPT, "code": TRANSPLANT_CODES[transplant["type"]]}]},
            "subject": {"reference": "Patient/pat-1"},
        }
        if transplant["date"] is not None:
            procedure["performedDateTime"] = transplant["date"].isoformat()
        if transplant["indication"] is not None:
            procedure["reasonCode"] = [
                {"coding": [{"system": ICD, "code": transplant["indication"]}]}
            ]
        entries.append(procedure)
    for i, line in enumerate(case.services):
        codings = []
        if line.code is not None:
            codings.append({"system": CPT, "code": line.code})
        if line.service is not None:
            codings.append({"system": "urn:dli-check:service", "code": line.service})
        order: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": f"order-{i}",
            "status": "draft",
            "intent": "original-order",
            "code": {"coding": codings},
            "subject": {"reference": "Patient/pat-1"},
        }
        if line.facts.get("date") is not None:
            order["occurrenceDateTime"] = line.facts["date"].isoformat()
        entries.append(order)
        for name, value in sorted(line.facts.items()):
            if name != "date":
                ask(f"services[ServiceRequest/order-{i}].{name}", value)
    if answers:
        entries.append(
            {
                "resourceType": "QuestionnaireResponse",
                "id": "qr-1",
                "questionnaire": f"urn:dli-check:{rules.latest.model.guideline.id.lower()}",
                "status": "completed",
                "item": answers,
            }
        )
    return {
        "resourceType": "Bundle",
        "identifier": {"value": case.case_id},
        "type": "collection",
        "entry": [{"resource": resource} for resource in entries],
    }


LAB_ORDER: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "cbc-1",
    "status": "draft",
    "intent": "order",
    "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
    "subject": {"reference": "Patient/pat-1"},
}
"""A complete blood count ordered beside the DLI order: no service of the rule file routes it."""
