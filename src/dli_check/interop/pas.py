"""Da Vinci PAS 2.2.1: a ``Claim/$submit`` request Bundle in, a ClaimResponse Bundle out.

Each item gets an adjudication with the ``reviewAction`` extension: ``A1`` (certified in
total) for a medically necessary line when the plan certifies on the pre-screen
(``--auto-approve``, as CRD's ``satisfied``), ``A4`` (pended) for everything else: met
criteria awaiting the plan's own certification, not medically necessary (a physician
reviews it), insufficient information (the Questionnaire of the missing facts is named), or
a code the guideline does not govern. Never ``A3``: a not-certified decision is recorded
by a clinician, outside the engine.

The response Bundle echoes the request's identifier, carries the resources the
ClaimResponse names (patient, insurer, requestor) under the request's ``fullUrl``s, and
answers a Claim addressed by ``urn:uuid`` (with or without an ``id``) as one addressed by
``Claim/id``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dli_check.interop.crd import line_place
from dli_check.interop.request import InteropError
from dli_check.interop.words import criterion_words, questions

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult, ServiceResult

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
REVIEW_ACTION = f"{PAS}/extension-reviewAction"
REVIEW_ACTION_CODE = f"{PAS}/extension-reviewActionCode"
ADMINISTRATION_NUMBER = f"{PAS}/extension-administrationReferenceNumber"
X12_306 = "https://codesystem.x12.org/005010/306"
ACTIONS = {"A1": "Certified in total", "A4": "Pended"}


PROCESS_NOTE_LIMIT = 264
"""X12 278 carries a note of at most 264 characters (MSG01): longer text is split."""
ITEM_TRACE_NUMBER = f"{PAS}/extension-itemTraceNumber"
ITEM_PRE_AUTH_ISSUE_DATE = f"{PAS}/extension-itemPreAuthIssueDate"
ITEM_PRE_AUTH_PERIOD = f"{PAS}/extension-itemPreAuthPeriod"


def claim_of(bundle: Any) -> Mapping[str, Any]:
    """The Claim a PAS request Bundle submits (its first entry), after checking what PAS
    requires of the Bundle (identifier, timestamp); raises `InteropError`."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise InteropError("invalid", "a PAS request must be a Bundle")
    identifier = bundle.get("identifier")
    if not isinstance(identifier, Mapping) or not isinstance(identifier.get("value"), str):
        raise InteropError("invalid", "Bundle.identifier: a PAS request Bundle needs one")
    if not isinstance(bundle.get("timestamp"), str):
        raise InteropError("invalid", "Bundle.timestamp: a PAS request Bundle needs one")
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
    bundle: Mapping[str, Any],
    result: CaseResult,
    rules: Decider,
    *,
    decision_id: str,
    now: dt.datetime,
    questionnaire_url: str | None,
    auto_approve: bool = False,
) -> dict[str, Any]:
    """The ClaimResponse Bundle for a request Bundle `claim_of` accepted: one item per Claim
    item, in the Claim's order."""
    claim = claim_of(bundle)
    at = _claim_place(claim)
    lines = {_item_index(result, n, at): line for n, line in enumerate(result.services)}
    items: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for index, item in enumerate(claim.get("item") or []):
        line = lines.get(index)
        item = item if isinstance(item, Mapping) else {}
        number = f"{decision_id}.{index + 1}"
        met = line is not None and line.decision == "medically_necessary"
        action = "A1" if met and auto_approve else "A4"
        review: list[dict[str, Any]] = [
            {
                "url": REVIEW_ACTION_CODE,
                "valueCodeableConcept": {
                    "coding": [{"system": X12_306, "code": action, "display": ACTIONS[action]}]
                },
            },
            {"url": "number", "valueString": number},
        ]
        entry: dict[str, Any] = {"itemSequence": item.get("sequence", index + 1)}
        extensions = [
            e
            for e in item.get("extension") or []
            if isinstance(e, Mapping) and e.get("url") == ITEM_TRACE_NUMBER
        ]
        if action == "A1":
            issued = now.date().isoformat()
            extensions += [
                {"url": ITEM_PRE_AUTH_ISSUE_DATE, "valueDate": issued},
                {"url": ITEM_PRE_AUTH_PERIOD, "valuePeriod": {"start": issued}},
            ]
        else:
            extensions.append({"url": ADMINISTRATION_NUMBER, "valueString": number})
            text = _note(line, rules, questionnaire_url)
            first = len(notes) + 1
            for part in _parts(text):
                notes.append({"number": len(notes) + 1, "type": "display", "text": part})
            entry["noteNumber"] = list(range(first, len(notes) + 1))
        if extensions:
            entry["extension"] = extensions
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
        items.append(
            {
                k: entry[k]
                for k in ("extension", "itemSequence", "noteNumber", "adjudication")
                if k in entry
            }
        )
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": decision_id,
        "meta": {"profile": [f"{PAS}/profile-claimresponse"]},
        "identifier": [
            {"system": f"urn:trnorg:{_originator(bundle, claim)}", "value": decision_id}
        ],
        "status": "active",
        "type": claim.get("type"),
        "use": "preauthorization",
        "patient": claim.get("patient"),
        "created": now.isoformat(timespec="seconds"),
        "insurer": claim.get("insurer"),
        "requestor": claim.get("provider"),
        "request": _request(bundle, claim),
        "outcome": "complete",
        "item": items,
        "processNote": notes or None,
    }
    response = {k: v for k, v in response.items() if v is not None}
    entries = [{"fullUrl": f"urn:uuid:{decision_id}", "resource": response}]
    entries += _referenced(bundle, [claim.get(k) for k in ("patient", "insurer", "provider")])
    return {
        "resourceType": "Bundle",
        "id": f"{decision_id}-response",
        "identifier": bundle["identifier"],
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": entries,
    }


def _claim_place(claim: Mapping[str, Any]) -> str:
    """How the FHIR reader names the Claim: ``Claim/id``, or its entry (no id)."""
    claim_id = claim.get("id")
    return f"Claim/{claim_id}" if isinstance(claim_id, str) else "Bundle.entry[0].resource"


def _item_index(result: CaseResult, number: int, claim_place: str) -> int | None:
    """The index of the Claim item a line was read from (``Claim/x.item[2]...``)."""
    place = line_place(result, number) or ""
    head = f"{claim_place}.item["
    if not place.startswith(head):
        return None
    digits = place[len(head) :].partition("]")[0]
    return int(digits) if digits.isdigit() else None


def _request(bundle: Mapping[str, Any], claim: Mapping[str, Any]) -> dict[str, Any]:
    """ClaimResponse.request (1..1): the Claim by id, else by its entry's fullUrl (a
    ``urn:uuid``), else by its identifier."""
    if isinstance(claim.get("id"), str):
        return {"reference": f"Claim/{claim['id']}"}
    full_url = bundle["entry"][0].get("fullUrl")
    if isinstance(full_url, str):
        return {"reference": full_url}
    identifiers = claim.get("identifier")
    if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], Mapping):
        return {"identifier": identifiers[0]}
    return {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}


DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _referenced(bundle: Mapping[str, Any], references: list[Any]) -> list[dict[str, Any]]:
    """The request's entries that these references name (``Patient/p``, a ``fullUrl``),
    each once, under the request's ``fullUrl``."""
    wanted = [
        r["reference"]
        for r in references
        if isinstance(r, Mapping) and isinstance(r.get("reference"), str)
    ]
    found: list[dict[str, Any]] = []
    for entry in bundle["entry"][1:]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            continue
        resource, full_url = entry["resource"], entry.get("fullUrl")
        local = f"{resource.get('resourceType')}/{resource.get('id')}"
        if any(w in (full_url, local) for w in wanted):  # each entry once, in request order
            found.append({"fullUrl": full_url, "resource": resource})
    return found


def _originator(bundle: Mapping[str, Any], claim: Mapping[str, Any]) -> str:
    """The TRN originator (TRN03) of the response's trace number: the insurer's identifier
    when the request carries it, else this service."""
    insurer = claim.get("insurer")
    reference = insurer.get("reference") if isinstance(insurer, Mapping) else None
    for entry in _referenced(bundle, [insurer]) if reference else []:
        for identifier in entry["resource"].get("identifier") or []:
            value = identifier.get("value") if isinstance(identifier, Mapping) else None
            if isinstance(value, str) and value.strip():
                return "".join(c for c in value if c.isalnum())[:10] or "dli-check"
    return "dli-check"


def _parts(text: str) -> list[str]:
    """A note in parts of at most `PROCESS_NOTE_LIMIT` characters, split between words."""
    parts: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > PROCESS_NOTE_LIMIT:  # a word longer than a note: cut it
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:PROCESS_NOTE_LIMIT])
            word = word[PROCESS_NOTE_LIMIT:]
        joined = f"{current} {word}" if current else word
        if len(joined) > PROCESS_NOTE_LIMIT:
            parts.append(current)
            current = word
        else:
            current = joined
    if current:
        parts.append(current)
    return parts


def _note(line: ServiceResult | None, rules: Decider, questionnaire_url: str | None) -> str:
    guideline = rules.guideline_id
    if line is None or line.decision == "not_applicable":
        text = f"Pended: {guideline} does not govern this item's code; it is reviewed apart."
    elif line.decision == "medically_necessary":
        text = (
            f"Pended for certification: the {guideline} pre-screen found its criteria met; "
            "the plan certifies it (this service certifies on its own only when the plan "
            "says so)."
        )
    elif line.decision == "no_version_in_effect":
        text = (
            f"Pended for physician review: no version of {guideline} in effect on this item's "
            "date of service is loaded. This is not a determination."
        )
    elif line.decision == "insufficient_information":
        text = f"Pended for information: {guideline} asks: {' '.join(questions(rules, line))}" + (
            f" Questionnaire: {questionnaire_url}" if questionnaire_url else ""
        )
    else:
        unmet = [r for r in line.reasons if r.status == "not_met"]
        reasons = "; ".join(
            f'{criterion_words(rules, line, r.criterion)}: "{r.citation.quote}" '
            f"({guideline}, {r.citation.section})"
            for r in unmet
        )
        text = (
            f"Pended for physician review: the {guideline} pre-screen did not find these "
            f"criteria met: {reasons}. This is not a determination."
        )
    return " ".join(text.split())
