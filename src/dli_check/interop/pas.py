"""Da Vinci PAS 2.2.1: a ``Claim/$submit`` request Bundle in, a ClaimResponse Bundle out.

Each item gets an adjudication with the ``reviewAction`` extension: ``A1`` (certified in
total) for a medically necessary line, ``A4`` (pended) for everything else: not medically
necessary (a physician reviews it), insufficient information (the Questionnaire of the
missing facts is named), or a code the guideline does not govern. Never ``A3``: a
not-certified decision is recorded by a clinician, outside the engine.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dli_check.interop.crd import line_place
from dli_check.interop.request import InteropError

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult, ServiceResult

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
REVIEW_ACTION = f"{PAS}/extension-reviewAction"
REVIEW_ACTION_CODE = f"{PAS}/extension-reviewActionCode"
ADMINISTRATION_NUMBER = f"{PAS}/extension-administrationReferenceNumber"
X12_306 = "https://codesystem.x12.org/005010/306"
ACTIONS = {"A1": "Certified in total", "A4": "Pended"}


def claim_of(bundle: Any) -> Mapping[str, Any]:
    """The Claim a PAS request Bundle submits (its first entry); raises `InteropError`."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise InteropError("invalid", "a PAS request must be a Bundle")
    entries = bundle.get("entry")
    first = (
        entries[0].get("resource")
        if isinstance(entries, list) and entries and isinstance(entries[0], Mapping)
        else None
    )
    if not isinstance(first, Mapping) or first.get("resourceType") != "Claim":
        raise InteropError("invalid", "Bundle.entry[0]: a PAS request Bundle starts with its Claim")
    if first.get("use") != "preauthorization":
        raise InteropError("invalid", "Bundle.entry[0].resource.use: must be preauthorization")
    return first


def claim_response(
    claim: Mapping[str, Any],
    result: CaseResult,
    rules: Decider,
    *,
    decision_id: str,
    now: dt.datetime,
    questionnaire_url: str | None,
) -> dict[str, Any]:
    """The ClaimResponse Bundle: one item per Claim item, in the Claim's order."""
    guideline = rules.guideline_id
    lines = {_item_of_line(result, n): line for n, line in enumerate(result.services)}
    items: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for index, item in enumerate(claim.get("item") or []):
        line = lines.get(index)
        sequence = item.get("sequence", index + 1) if isinstance(item, Mapping) else index + 1
        number = f"{decision_id}.{index + 1}"
        action = "A1" if line is not None and line.decision == "medically_necessary" else "A4"
        review: list[dict[str, Any]] = [
            {
                "url": REVIEW_ACTION_CODE,
                "valueCodeableConcept": {
                    "coding": [{"system": X12_306, "code": action, "display": ACTIONS[action]}]
                },
            },
            {"url": "number", "valueString": number},
        ]
        entry: dict[str, Any] = {"itemSequence": sequence}
        if action == "A4":
            entry["extension"] = [{"url": ADMINISTRATION_NUMBER, "valueString": number}]
            notes.append(_note(len(notes) + 1, line, guideline, questionnaire_url))
            entry["noteNumber"] = [len(notes)]
        entry["adjudication"] = [
            {
                "category": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/adjudication",
                            "code": "submitted",
                        }
                    ]
                },
                "extension": [{"url": REVIEW_ACTION, "extension": review}],
            }
        ]
        items.append(entry)
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": decision_id,
        "meta": {"profile": [f"{PAS}/profile-claimresponse"]},
        "identifier": [{"system": "urn:dli-check:decision", "value": decision_id}],
        "status": "active",
        "type": claim.get("type"),
        "use": "preauthorization",
        "patient": claim.get("patient"),
        "created": now.isoformat(timespec="seconds"),
        "insurer": claim.get("insurer"),
        "requestor": claim.get("provider"),
        "request": {"reference": f"Claim/{claim['id']}"} if "id" in claim else None,
        "outcome": "complete",
        "item": items,
        "processNote": notes or None,
    }
    response = {k: v for k, v in response.items() if v is not None}
    return {
        "resourceType": "Bundle",
        "id": f"{decision_id}-response",
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"urn:uuid:{decision_id}", "resource": response}],
    }


def _item_of_line(result: CaseResult, number: int) -> int | None:
    """The index of the Claim item a line was read from (``Claim/x.item[2]``)."""
    place = line_place(result, number) or ""
    match = re.match(r"Claim/[^.]*\.item\[([0-9]+)\]", place)
    return int(match.group(1)) if match else None


def _note(
    number: int, line: ServiceResult | None, guideline: str, questionnaire_url: str | None
) -> dict[str, Any]:
    if line is None or line.decision == "not_applicable":
        text = f"Pended: {guideline} does not govern this item's code; it is reviewed apart."
    elif line.decision == "no_version_in_effect":
        text = (
            f"Pended for physician review: no version of {guideline} in effect on this item's "
            "date of service is loaded. This is not a determination."
        )
    elif line.decision == "insufficient_information":
        text = f"Pended for information: {guideline} needs {', '.join(line.missing)}" + (
            f"; questionnaire {questionnaire_url}" if questionnaire_url else ""
        )
    else:
        unmet = [r for r in line.reasons if r.status == "not_met"]
        reasons = "; ".join(
            f'{r.criterion}: "{r.citation.quote}" ({guideline}, {r.citation.section})'
            for r in unmet
        )
        text = (
            f"Pended for physician review: the {guideline} pre-screen did not find these "
            f"criteria met: {reasons}. This is not a determination."
        )
    return {"number": number, "type": "display", "text": " ".join(text.split())}
