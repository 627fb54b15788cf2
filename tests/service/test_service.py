"""dli-check serve: CDS Hooks with Da Vinci CRD coverage-information that passes the CRD
invariants and never denies, PAS review actions A1/A4 (never A3), plain JSON, located
errors without values, client JWTs, and a decision log of every decision served."""

from __future__ import annotations

import copy
import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fhir.resources.R4B.bundle import Bundle
from fhir_bundles import LAB_ORDER
from service_support import (
    EC,
    FHIR,
    HOOK,
    INTEROP,
    ISSUER,
    NOW,
    assert_valid_crd,
    client,
    jwks_file,
    order_sign_request,
    running,
    token,
)
from typer.testing import CliRunner

from conftest import ROOT
from dli_check import load_rules
from dli_check.cli.commands import app as cli_app
from dli_check.interop.crd import COVERAGE_INFORMATION, Policy
from dli_check.service.auth import TokenChecker
from dli_check.service.log import DecisionLog

SECRET = "Jane Q Patient"


ANSWERS = json.loads((FHIR / "order-sign-dli-answered.json").read_text())["entry"][-1]["resource"]


def with_answers(request: dict[str, Any]) -> dict[str, Any]:
    request = copy.deepcopy(request)
    request["prefetch"]["questionnaireResponse"] = ANSWERS
    return request


def before_the_first_version(request: dict[str, Any]) -> dict[str, Any]:
    request = with_answers(request)
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    order["occurrenceDateTime"] = "2023-06-27"
    return request


def autologous(request: dict[str, Any]) -> dict[str, Any]:
    request = with_answers(request)
    procedure = request["prefetch"]["transplants"]["entry"][0]["resource"]
    procedure["code"]["coding"][0]["code"] = "38241"
    return request


def someone_elses_transplant(request: dict[str, Any]) -> dict[str, Any]:
    """The answered request, but its transplant is about another person than the context
    patient (a donor's record, say): it is not read."""
    request = with_answers(request)
    procedure = request["prefetch"]["transplants"]["entry"][0]["resource"]
    procedure["subject"] = {"reference": "Patient/donor-9"}
    return request


@pytest.fixture
def log(tmp_path: Path) -> DecisionLog:
    return DecisionLog(tmp_path / "decisions.sqlite3")


def coverage_information(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            e["url"]: e.get("valueCode", e.get("valueString"))
            for e in ext["extension"]
            if e["url"] != "detail"
        }
        for action in response.get("systemActions", [])
        for ext in action["resource"].get("extension", [])
        if ext["url"] == COVERAGE_INFORMATION
    ]


# CRD 2.2.1 invariants of coverage-information; q4 as the reference corrects it.
# (name, request maker, policy, coverage-information per governed order, card count)
CRD_ROWS: list[tuple[str, Any, Policy, list[dict[str, Any]], int]] = [
    (
        "insufficient information: documentation and the questionnaire of the missing facts",
        lambda r: r,
        Policy(),
        [
            {
                "coverage": None,
                "covered": "covered",
                "pa-needed": "auth-needed",
                "doc-needed": "clinical",
                "doc-purpose": "withpa",
                "billingCode": None,
                "reason": None,
                "questionnaire": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        0,
    ),
    (
        "medically necessary, the plan does not auto-approve",
        with_answers,
        Policy(),
        [
            {
                "coverage": None,
                "covered": "covered",
                "pa-needed": "auth-needed",
                "billingCode": None,
                "reason": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        0,
    ),
    (
        "medically necessary, the plan auto-approves",
        with_answers,
        Policy(auto_approve=True),
        [
            {
                "coverage": None,
                "covered": "covered",
                "pa-needed": "satisfied",
                "billingCode": None,
                "reason": None,
                "satisfied-pa-id": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        0,
    ),
    (
        "not medically necessary: a physician reviews, never not-covered; documentation by form",
        autologous,
        Policy(),
        [
            {
                "coverage": None,
                "covered": "covered",
                "pa-needed": "auth-needed",
                "doc-needed": "clinical",
                "doc-purpose": "withpa",
                "billingCode": None,
                "reason": None,
                "questionnaire": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        1,
    ),
    (
        "dated before the first version: a physician reviews, even where the plan auto-approves",
        before_the_first_version,
        Policy(auto_approve=True),
        [
            {
                "coverage": None,
                "covered": "covered",
                "pa-needed": "auth-needed",
                "doc-needed": "clinical",
                "doc-purpose": "withpa",
                "billingCode": None,
                "reason": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        0,
    ),
    (
        "a transplant of another person than context.patientId is not read: documentation",
        someone_elses_transplant,
        Policy(auto_approve=True),
        [
            {
                "coverage": None,
                "covered": "covered",
                "pa-needed": "auth-needed",
                "doc-needed": "clinical",
                "doc-purpose": "withpa",
                "billingCode": None,
                "reason": None,
                "questionnaire": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        0,
    ),
    (
        "a conditional benefit answer comes with info-needed",
        with_answers,
        Policy(covered="conditional"),
        [
            {
                "coverage": None,
                "covered": "conditional",
                "pa-needed": "auth-needed",
                "info-needed": "OTH",
                "billingCode": None,
                "reason": None,
                "date": None,
                "coverage-assertion-id": None,
            }
        ],
        0,
    ),
]


@pytest.mark.requirement(
    "CRD resp-25, resp-48, crd-ci-q1..q9",
    "Coverage information is a systemAction update of the whole order, never a card; every response meets the invariants (q4 as corrected); never `not-covered`",
)
@pytest.mark.parametrize(
    ("make", "policy", "expected", "cards"), [r[1:] for r in CRD_ROWS], ids=[r[0] for r in CRD_ROWS]
)
def test_order_sign(
    log: DecisionLog, make: Any, policy: Policy, expected: list[dict[str, Any]], cards: int
) -> None:
    response = client(log, policy=policy).post(
        "/cds-services/cg-trans-03-order-sign", json=make(order_sign_request())
    )
    assert response.status_code == 200
    body = response.json()
    assert_valid_crd(body)
    infos = coverage_information(body)
    assert [list(i) for i in infos] == [list(e) for e in expected]  # the elements, in order
    assert [{k: v for k, v in i.items() if expected[0][k] is not None} for i in infos] == [
        {k: v for k, v in e.items() if v is not None} for e in expected
    ]
    (entry,) = log.entries()
    assert infos[0]["coverage-assertion-id"] == f"{entry.id}.1"
    assert infos[0]["date"] is None  # a valueDate, not a code or a string
    assert len(body["cards"]) == cards
    assert "not-covered" not in response.text


def test_the_card_quotes_the_unmet_criterion_and_says_a_physician_decides(log: DecisionLog) -> None:
    body = (
        client(log, policy=Policy(payer="Example Health Plan"))
        .post("/cds-services/cg-trans-03-order-sign", json=autologous(order_sign_request()))
        .json()
    )
    (card,) = body["cards"]
    assert (
        card["summary"]
        == "CG-TRANS-03 pre-screen: a criterion is not met (CPT 38242); a physician will review"
    )
    assert card["detail"].startswith(
        "**This is a pre-screen, not a determination.** A physician reviewer decides."
    )
    assert "Not met: *transplant allogeneic*. The transplant was allogeneic" in card["detail"]
    assert "transplant-allogeneic" not in card["detail"]  # a label, never a criterion id
    assert (
        '"following a medically necessary allogeneic (myeloablative or non-myeloablative) hematopoietic progenitor cell transplant"'
        in card["detail"]
    )
    assert card["source"]["label"] == "Example Health Plan"
    assert card["source"]["topic"]["code"] == "off-guideline"
    assert card["extension"] == {
        "davinci-crd.associated-resource": [{"reference": "ServiceRequest/dli-order-1"}]
    }


def test_the_log_keeps_what_a_decision_asked_about_by_record(log: DecisionLog) -> None:
    client(log).post("/cds-services/cg-trans-03-order-sign", json=order_sign_request())
    (entry,) = log.entries()
    form = json.loads(entry.questionnaire or "{}")
    assert form["resourceType"] == "Questionnaire" and form["id"] == entry.id
    assert [i["linkId"] for i in form["item"]] == [
        "transplants[Procedure/hct-1].medically_necessary",
        "services[ServiceRequest/dli-order-1].lymphocyte_donor_id",
        "transplants[Procedure/hct-1].donor_id",
        "services[ServiceRequest/dli-order-1].genetically_modified",
    ]


@pytest.mark.requirement(
    "CRD hook-19",
    "order-select (a secondary hook) asks for no documentation",
)
def test_order_select_asks_for_no_documentation(log: DecisionLog) -> None:
    request = order_sign_request() | {"hook": "order-select"}
    request["context"]["selections"] = ["ServiceRequest/dli-order-1"]
    body = client(log).post("/cds-services/cg-trans-03-order-select", json=request).json()
    assert_valid_crd(body)
    (info,) = coverage_information(body)
    assert "doc-needed" not in info and "questionnaire" not in info


@pytest.mark.requirement(
    "CDS Hooks order-select",
    "order-select requires `selections`, answers for the selected orders only, never `satisfied`",
)
def test_order_select_answers_only_for_the_selected_orders(log: DecisionLog) -> None:
    request = with_answers(order_sign_request()) | {"hook": "order-select"}
    second = copy.deepcopy(request["context"]["draftOrders"]["entry"][0])
    second["resource"]["id"] = "dli-order-2"
    request["context"]["draftOrders"]["entry"].append(second)
    request["context"]["selections"] = ["ServiceRequest/dli-order-2"]
    service = client(log, policy=Policy(auto_approve=True))
    body = service.post("/cds-services/cg-trans-03-order-select", json=request).json()
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["dli-order-2"]
    assert body["systemActions"][0]["description"] == (
        "Record coverage information for the infusion order"  # never "the the"
    )
    (info,) = coverage_information(body)
    assert info["pa-needed"] == "auth-needed" and "satisfied-pa-id" not in info  # never at select
    del request["context"]["selections"]
    response = service.post("/cds-services/cg-trans-03-order-select", json=request)
    assert (response.status_code, response.json()["issue"][0]["diagnostics"]) == (
        400,
        "context.selections: required by order-select, a list",
    )


CONFIGURATION_ROWS: list[tuple[dict[str, Any], int, int]] = [
    # (davinci-crd.configuration, systemActions, cards) for a not medically necessary order
    ({}, 1, 1),
    ({"coverage-info": False}, 0, 1),
    ({"off-guideline": False}, 1, 0),
    ({"max-cards": 0}, 1, 0),
    ({"cost": False, "claim": False, "max-cards": 5}, 1, 1),  # options not offered: ignored
]


@pytest.mark.requirement(
    "CRD configuration-options",
    "`coverage-info`, `off-guideline` and `max-cards` are offered in discovery and honoured",
)
@pytest.mark.parametrize(("configuration", "actions", "cards"), CONFIGURATION_ROWS)
def test_the_clients_configuration_is_honoured(
    log: DecisionLog, configuration: dict[str, Any], actions: int, cards: int
) -> None:
    request = autologous(order_sign_request())
    request["extension"] = {"davinci-crd.configuration": configuration}
    body = client(log).post(HOOK, json=request).json()
    assert (len(body.get("systemActions", [])), len(body["cards"])) == (actions, cards)


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        (
            {"coverage-info": "no"},
            "extension.davinci-crd.configuration.coverage-info: must be true or false",
        ),
        (
            {"max-cards": -1},
            "extension.davinci-crd.configuration.max-cards: must be a whole number, 0 or more",
        ),
        ([], "extension.davinci-crd.configuration: must be an object"),
    ],
)
def test_a_malformed_configuration_is_400(
    log: DecisionLog, configuration: Any, message: str
) -> None:
    request = order_sign_request()
    request["extension"] = {"davinci-crd.configuration": configuration}
    response = client(log).post(HOOK, json=request)
    assert (response.status_code, response.json()["issue"][0]["diagnostics"]) == (400, message)


@pytest.mark.requirement(
    "CRD resp-35, resp-32",
    "Re-invocation replaces the order's coverage-information for the same Coverage; unchanged, no action",
)
def test_re_invocation_replaces_coverage_information_and_never_stacks(log: DecisionLog) -> None:
    service = client(log, policy=Policy(auto_approve=True))
    first = service.post(HOOK, json=order_sign_request()).json()  # documentation needed
    updated = first["systemActions"][0]["resource"]
    # The EHR applied the update, then the clinician answered and signed again.
    request = with_answers(order_sign_request())
    request["context"]["draftOrders"]["entry"][0]["resource"] = updated
    second = service.post(HOOK, json=request).json()
    order = second["systemActions"][0]["resource"]
    infos = [e for e in order["extension"] if e["url"] == COVERAGE_INFORMATION]
    assert len(infos) == 1
    assert {p["url"]: p.get("valueCode") for p in infos[0]["extension"]}["pa-needed"] == "satisfied"
    # Signed once more, nothing changed: no action, and nothing stacked.
    request["context"]["draftOrders"]["entry"][0]["resource"] = order
    third = service.post(HOOK, json=request).json()
    assert third == {"cards": []}


def test_the_reason_asks_by_questions_and_names_criteria_by_labels(log: DecisionLog) -> None:
    asked = client(log).post(HOOK, json=order_sign_request()).json()
    (info,) = coverage_information(asked)
    assert info["reason"] is None  # a CodeableConcept: its text is checked below
    reason = next(
        p["valueCodeableConcept"]["text"]
        for p in asked["systemActions"][0]["resource"]["extension"][-1]["extension"]
        if p["url"] == "reason"
    )
    assert reason.startswith(
        "Needed to apply CG-TRANS-03: Was the transplant itself medically necessary? Who "
        "donated the lymphocytes for the infusion (donor id)?"
    )
    assert "transplants[" not in reason and "services[" not in reason
    unmet = client(log).post(HOOK, json=autologous(order_sign_request())).json()
    reason = next(
        p["valueCodeableConcept"]["text"]
        for p in unmet["systemActions"][0]["resource"]["extension"][-1]["extension"]
        if p["url"] == "reason"
    )
    assert reason == (
        "Prior authorization required: under the CG-TRANS-03 pre-screen, not met: transplant "
        "allogeneic; a physician will review the request"
    )
    assert unmet["cards"][0]["source"]["label"] == "CG-TRANS-03 coverage requirements"  # no --payer


def test_orders_the_guideline_does_not_govern_get_no_action(log: DecisionLog) -> None:
    request = with_answers(order_sign_request())
    visit = copy.deepcopy(request["context"]["draftOrders"]["entry"][0])
    visit["resource"]["id"] = "visit-1"
    visit["resource"]["code"] = {
        "coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99215"}]
    }
    request["context"]["draftOrders"]["entry"].append(visit)
    body = client(log).post("/cds-services/cg-trans-03-order-sign", json=request).json()
    assert [a["resource"]["id"] for a in body["systemActions"]] == ["dli-order-1"]


PCS_TRANSPLANTS = [s + q for s in "GXY" for q in "0234"] + ["U2", "U3", "U4"]


@pytest.mark.requirement(
    "CRD found-27, found-28",
    "Discovery's prefetch asks for what the bindings read and nothing else, narrowed by their `search`",
)
def test_discovery(log: DecisionLog) -> None:
    services = client(log).get("/cds-services").json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [
        ("cg-trans-03-order-sign", "order-sign"),
        ("cg-trans-03-order-select", "order-select"),
    ]
    assert services[0]["prefetch"] == {  # what the bindings read, and nothing else
        "coverage": "Coverage?patient={{context.patientId}}&status=active",
        "conditions": "Condition?patient={{context.patientId}}",
        "transplants": "Procedure?patient={{context.patientId}}"
        "&code=http://www.ama-assn.org/go/cpt|38240,http://www.ama-assn.org/go/cpt|38241,"
        "http://snomed.info/sct|234336002,"
        + ",".join(f"302{b}3{s}" for b in "34" for s in PCS_TRANSPLANTS),
    }
    extension = services[0]["extension"]
    assert extension["davinci-crd.version"] == ["2.2"]
    assert [
        (o["code"], o["type"], o["default"]) for o in extension["davinci-crd.configuration-options"]
    ] == [
        ("coverage-info", "boolean", True),
        ("off-guideline", "boolean", True),
        ("max-cards", "integer", 10),
    ]


def test_feedback_and_docs(log: DecisionLog) -> None:
    service = client(log)
    feedback = {
        "feedback": [
            {"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-06-01T10:00:00Z"}
        ]
    }
    assert service.post("/cds-services/cg-trans-03-order-sign/feedback", json=feedback).json() == {}
    bad = service.post("/cds-services/cg-trans-03-order-sign/feedback", json={"x": SECRET})
    assert bad.status_code == 400 and SECRET not in bad.text
    assert service.get("/docs").status_code == 200
    assert "/Claim/$submit" in service.get("/openapi.json").json()["paths"]


def test_prefetch_without_the_transplant_is_a_question_not_an_error(log: DecisionLog) -> None:
    request = order_sign_request()
    request["prefetch"]["transplants"] = None  # the client had no data for it
    response = client(log).post("/cds-services/cg-trans-03-order-sign", json=request)
    assert response.status_code == 200
    (entry,) = log.entries()
    assert json.loads(entry.result)["services"][0]["missing"] == [
        "transplants",
        "services[0].lymphocyte_donor_id",
        "services[0].genetically_modified",
    ]


def pas_bundle(answered: bool) -> dict[str, Any]:
    name = "pas-claim-dli-answered.json" if answered else "pas-claim-dli.json"
    bundle: dict[str, Any] = json.loads((FHIR / name).read_text())
    return bundle


def review_actions(response: dict[str, Any]) -> list[str]:
    claim_response = response["entry"][0]["resource"]
    return [
        sub["valueCodeableConcept"]["coding"][0]["code"]
        for item in claim_response["item"]
        for adjudication in item["adjudication"]
        for ext in adjudication["extension"]
        for sub in ext["extension"]
        if sub["url"].endswith("extension-reviewActionCode")
    ]


NOT_GOVERNED = "Pended: CG-TRANS-03 does not govern this item's code; it is reviewed apart."
MET_PENDED = (
    "Pended for certification: the CG-TRANS-03 pre-screen found its criteria met; the plan "
    "certifies it (this service certifies on its own only when the plan says so)."
)


@pytest.mark.requirement(
    "PAS \u00a73.2",
    "A1 only under `--auto-approve`; otherwise a met item is A4, pended for the plan's certification",
)
@pytest.mark.parametrize(
    ("answered", "auto_approve", "actions", "notes"),
    [
        (
            False,
            False,
            ["A4", "A4"],
            [
                "Pended for information: CG-TRANS-03 asks: Was the transplant itself medically necessary?",
                NOT_GOVERNED,
            ],
        ),
        # A1 only when the plan certifies on the pre-screen, as CRD's `satisfied`.
        (True, False, ["A4", "A4"], [MET_PENDED, NOT_GOVERNED]),
        (True, True, ["A1", "A4"], [NOT_GOVERNED]),
    ],
)
def test_pas_submit(
    log: DecisionLog, answered: bool, auto_approve: bool, actions: list[str], notes: list[str]
) -> None:
    service = client(log, policy=Policy(auto_approve=auto_approve))
    response = service.post("/Claim/$submit", json=pas_bundle(answered))
    assert (
        response.status_code == 200 and response.headers["content-type"] == "application/fhir+json"
    )
    body = response.json()
    Bundle.model_validate(body)
    assert review_actions(body) == actions
    claim_response = body["entry"][0]["resource"]
    text = {n["number"]: n["text"] for n in claim_response["processNote"]}
    said = [
        " ".join(text[k] for k in item["noteNumber"])
        for item in claim_response["item"]
        if "noteNumber" in item
    ]
    assert [t[: len(n)] for t, n in zip(said, notes, strict=True)] == notes
    assert all(len(t) <= 264 for t in text.values())
    assert claim_response["request"] == {"reference": "Claim/pa-request-1"}
    assert [i["itemSequence"] for i in claim_response["item"]] == [1, 2]


def _r5_order(r: dict[str, Any]) -> None:
    r["context"]["draftOrders"]["entry"].append({"resource": {"resourceType": "DeviceUsage"}})


def _nameless_condition(r: dict[str, Any]) -> None:
    r["prefetch"]["conditions"]["entry"].append({"resource": {"resourceType": "Nonsense"}})


def _contained(r: dict[str, Any]) -> None:
    order = r["context"]["draftOrders"]["entry"][0]["resource"]
    order["contained"] = [{"resourceType": "ActorDefinition", "id": "a"}]


def _bad_order_date(r: dict[str, Any]) -> None:
    r["context"]["draftOrders"]["entry"][0]["resource"]["occurrenceDateTime"] = "2026-13-45"


@pytest.mark.requirement(
    "CDS Hooks \u00a7Errors",
    "An error names the client's own resource (`ServiceRequest/x.occurrenceDateTime`, `prefetch.conditions.entry[2]`); an R5 resourceType is a 400, never a 500",
)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _r5_order,
            "context.draftOrders.entry[1].resource.resourceType: is not a FHIR R4 resource type",
        ),
        (
            _nameless_condition,
            "prefetch.conditions.entry[2].resource.resourceType: is not a FHIR R4 resource type",
        ),
        (
            _contained,
            "ServiceRequest/dli-order-1.contained[0].resourceType: is not a FHIR R4 resource type",
        ),
        (
            _bad_order_date,
            "ServiceRequest/dli-order-1.occurrenceDateTime: is not a valid value of its FHIR R4 "
            "type",
        ),
    ],
)
def test_errors_name_the_clients_own_resource(log: DecisionLog, change: Any, message: str) -> None:
    request = order_sign_request()
    change(request)
    response = client(log).post(HOOK, json=request)
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"] == f"request: {message}"


@pytest.mark.requirement(
    "PAS found-34",
    "An item coded with an X12 service type is pended apart, never a 400",
)
def test_a_pas_item_coded_with_an_x12_service_type_is_pended_apart(log: DecisionLog) -> None:
    bundle = pas_bundle(True)
    claim = bundle["entry"][0]["resource"]
    claim["item"][1]["productOrService"] = {  # X12 service type 1: medical care
        "coding": [{"system": "https://codesystem.x12.org/005010/1365", "code": "1"}]
    }
    response = client(log, policy=Policy(auto_approve=True)).post("/Claim/$submit", json=bundle)
    assert response.status_code == 200
    body = response.json()
    Bundle.model_validate(body)
    assert review_actions(body) == ["A1", "A4"]
    claim_response = body["entry"][0]["resource"]
    assert [n["text"] for n in claim_response["processNote"]] == [NOT_GOVERNED]
    assert claim_response["item"][1]["noteNumber"] == [1]


def _entries(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["fullUrl"], e["resource"]["resourceType"]) for e in body["entry"]]


@pytest.mark.requirement(
    "PAS spec-33",
    "The response Bundle echoes the identifier, carries the referenced Patient, insurer and requestor, a TRN, item trace numbers, preAuthIssueDate and preAuthPeriod",
)
def test_the_pas_response_bundle_is_complete(log: DecisionLog) -> None:
    bundle = pas_bundle(True)
    claim = bundle["entry"][0]["resource"]
    trace = {
        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber",
        "valueIdentifier": {"system": "urn:trnorg:1234567890", "value": "item-trace-1"},
    }
    claim["item"][0]["extension"] = [trace]
    body = client(log, policy=Policy(auto_approve=True)).post("/Claim/$submit", json=bundle).json()
    assert body["identifier"] == {
        "system": "https://ehr.example.org/pas-transaction",
        "value": "txn-2",
    }
    assert body["timestamp"] == NOW.isoformat(timespec="seconds")
    decision = body["entry"][0]["resource"]["id"]
    assert _entries(body) == [
        (f"urn:uuid:{decision}", "ClaimResponse"),
        ("https://ehr.example.org/fhir/Patient/pat-1", "Patient"),
        ("https://ehr.example.org/fhir/Organization/payer-1", "Organization"),
        ("https://ehr.example.org/fhir/Organization/transplant-center-1", "Organization"),
    ]
    response = body["entry"][0]["resource"]
    assert response["identifier"][0]["system"].startswith("urn:trnorg:")
    first = response["item"][0]["extension"]
    assert first == [
        trace,
        {
            "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemPreAuthIssueDate",
            "valueDate": NOW.date().isoformat(),
        },
        {
            "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemPreAuthPeriod",
            "valuePeriod": {"start": NOW.date().isoformat()},
        },
    ]


@pytest.mark.requirement(
    "PAS Bundle",
    "A Claim addressed by `urn:uuid` (with or without an id) is answered as one addressed by `Claim/id`; `request` from its fullUrl",
)
def test_a_claim_addressed_by_urn_uuid_is_answered_alike(log: DecisionLog) -> None:
    # Every entry addressed by urn:uuid, every reference by it, and no resource with an id.
    text = json.dumps(pas_bundle(True))
    for entry in pas_bundle(True)["entry"]:
        resource = entry["resource"]
        local = f"{resource['resourceType']}/{resource['id']}"
        address = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, local)}"
        text = text.replace(f'"{entry["fullUrl"]}"', f'"{address}"')
        text = text.replace(local, address)  # references, and the answers' linkIds
    bundle = json.loads(text)
    for entry in bundle["entry"]:
        del entry["resource"]["id"]
    body = client(log, policy=Policy(auto_approve=True)).post("/Claim/$submit", json=bundle).json()
    assert review_actions(body) == ["A1", "A4"]
    response = body["entry"][0]["resource"]
    assert response["request"] == {"reference": bundle["entry"][0]["fullUrl"]}
    assert [url for url, _ in _entries(body)[1:]] == [
        e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] in ("Patient", "Organization")
    ]


def test_a_long_note_is_split_at_the_x12_limit(log: DecisionLog) -> None:
    bundle = pas_bundle(True)
    procedure = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"
    )
    procedure["code"]["coding"][0]["code"] = "38241"  # autologous: several criteria not met
    body = client(log).post("/Claim/$submit", json=bundle).json()
    response = body["entry"][0]["resource"]
    texts = [n["text"] for n in response["processNote"]]
    assert all(len(t) <= 264 for t in texts) and len(texts) > 2
    first_item = response["item"][0]["noteNumber"]
    assert first_item == list(range(1, len(first_item) + 1)) and len(first_item) > 1
    joined = " ".join(texts[i - 1] for i in first_item)
    assert joined.startswith("Pended for physician review: the CG-TRANS-03 pre-screen")
    assert joined.endswith("This is not a determination.")


@pytest.mark.requirement(
    "PAS \u00a73.5",
    "An item not found medically necessary is A4 for physician review, never A3",
)
def test_pas_not_medically_necessary_is_pended_never_a3(log: DecisionLog) -> None:
    bundle = pas_bundle(True)
    procedure = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"
    )
    procedure["code"]["coding"][0]["code"] = "38241"
    body = client(log).post("/Claim/$submit", json=bundle).json()
    assert review_actions(body) == ["A4", "A4"]
    assert '"A3"' not in json.dumps(body)
    response = body["entry"][0]["resource"]
    numbers = response["item"][0]["noteNumber"]
    note = " ".join(response["processNote"][n - 1]["text"] for n in numbers)
    assert note.startswith(
        "Pended for physician review: the CG-TRANS-03 pre-screen did not find these criteria met: transplant allogeneic: "
    )
    assert note.endswith("This is not a determination.")


def test_pas_before_the_first_version_is_pended_for_review(log: DecisionLog) -> None:
    bundle = pas_bundle(True)
    claim = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    for item in claim["item"]:
        item["servicedDate"] = "2023-06-27"
    body = client(log, policy=Policy(auto_approve=True)).post("/Claim/$submit", json=bundle).json()
    assert review_actions(body) == ["A4", "A4"]
    notes = [n["text"] for n in body["entry"][0]["resource"]["processNote"]]
    assert notes[0] == (
        "Pended for physician review: no version of CG-TRANS-03 in effect on this item's date of "
        "service is loaded. This is not a determination."
    )


def test_pas_items_have_the_shape_of_the_reference_examples(log: DecisionLog) -> None:
    path = INTEROP / "pas-claimresponse-a1.json"
    if not path.is_file():
        pytest.skip("the interop reference is not beside the checkout")
    example = json.loads(path.read_text())["item"][0]["adjudication"][0]
    service = client(log, policy=Policy(auto_approve=True))
    body = service.post("/Claim/$submit", json=pas_bundle(True)).json()
    ours = body["entry"][0]["resource"]["item"][0]["adjudication"][0]
    assert ours["category"] == example["category"]
    assert [e["url"] for e in ours["extension"]] == [e["url"] for e in example["extension"]]
    assert [e["url"] for e in ours["extension"][0]["extension"]] == [
        e["url"] for e in example["extension"][0]["extension"]
    ]
    assert ours["extension"][0]["extension"][0] == example["extension"][0]["extension"][0]


def test_evaluate_json(log: DecisionLog) -> None:
    case = (ROOT / "examples" / "cases" / "dli-relapsed-aml.json").read_bytes()
    response = client(log).post("/evaluate", content=case)
    assert response.status_code == 200
    expected = (ROOT / "examples" / "expected" / "dli-relapsed-aml.json").read_text()
    assert response.json() == json.loads(expected)
    assert log.get(response.headers["x-decision-id"]) is not None


ERRORS: list[tuple[str, str, Any, int, str]] = [
    (
        "not JSON",
        HOOK,
        b"{" + SECRET.encode(),
        400,
        "request:1:2: invalid JSON: Expecting property name enclosed in double quotes",
    ),
    (
        "no hookInstance",
        HOOK,
        {"hook": "order-sign", "context": {}},
        400,
        "hookInstance: required by CDS Hooks, missing or of the wrong type",
    ),
    (
        "the wrong hook",
        HOOK,
        order_sign_request() | {"hook": "order-select"},
        400,
        "hook: this service answers order-sign",
    ),
    (
        "a hookInstance that is not a UUID",
        HOOK,
        order_sign_request() | {"hookInstance": "not-a-uuid"},
        400,
        "hookInstance: must be a UUID (CDS Hooks)",
    ),
    (
        "fhirAuthorization without fhirServer",
        HOOK,
        {k: v for k, v in order_sign_request().items() if k != "fhirServer"}
        | {"fhirAuthorization": {"access_token": "x", "token_type": "Bearer", "expires_in": 30}},
        400,
        "fhirServer: required with fhirAuthorization (CDS Hooks)",
    ),
    (
        "feedback without its outcome",
        f"{HOOK}/feedback",
        {"feedback": [{"card": "c-1", "outcomeTimestamp": "2026-06-01T10:00:00Z"}]},
        400,
        "feedback[0].outcome: accepted or overridden",
    ),
    (
        "feedback without its timestamp",
        f"{HOOK}/feedback",
        {"feedback": [{"card": "c-1", "outcome": "accepted"}]},
        400,
        "feedback[0].outcomeTimestamp: required, a string",
    ),
    (
        "no coverage prefetch",
        HOOK,
        {**order_sign_request(), "prefetch": {}},
        412,
        "prefetch.coverage: omitted, and fhirServer is not a server this service may query "
        "(serve --fhir-server)",
    ),
    (
        "two coverages",
        HOOK,
        lambda: _two_coverages(),
        400,
        "prefetch.coverage: must hold exactly one Coverage, with an id",
    ),
    (
        "a bad FHIR value",
        HOOK,
        lambda: _bad_date(),
        400,
        "request: ServiceRequest/dli-order-1.occurrenceDateTime: is not a valid value of its FHIR "
        "R4 type",
    ),
    ("an unknown service", "/cds-services/nope", order_sign_request(), 404, "no such CDS service"),
    (
        "a PAS request without its Claim",
        "/Claim/$submit",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "identifier": {"system": "urn:x", "value": "t-1"},
            "timestamp": "2026-06-01T09:30:00-05:00",
            "entry": [],
        },
        400,
        "Bundle.entry[0]: a PAS request Bundle starts with its Claim",
    ),
    (
        "a PAS request without its identifier",
        "/Claim/$submit",
        {k: v for k, v in pas_bundle(True).items() if k != "identifier"},
        400,
        "Bundle.identifier: a PAS request Bundle needs one",
    ),
    (
        "a PAS request without its timestamp",
        "/Claim/$submit",
        {k: v for k, v in pas_bundle(True).items() if k != "timestamp"},
        400,
        "Bundle.timestamp: a PAS request Bundle needs one",
    ),
]


def _two_coverages() -> dict[str, Any]:
    request = order_sign_request()
    coverage = request["prefetch"]["coverage"]
    coverage["entry"] = coverage["entry"] * 2
    return request


def _bad_date() -> dict[str, Any]:
    request = order_sign_request()
    request["context"]["draftOrders"]["entry"][0]["resource"]["occurrenceDateTime"] = SECRET
    return request


@pytest.mark.requirement(
    "CDS Hooks \u00a7Errors",
    "Errors are OperationOutcomes naming the problem, never a value of the request",
)
@pytest.mark.parametrize(
    ("path", "body", "status", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_are_operation_outcomes_without_values(
    log: DecisionLog, path: str, body: Any, status: int, message: str
) -> None:
    if callable(body):
        body = body()
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client(log).post(path, content=content)
    assert response.status_code == status
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"] == message
    assert SECRET not in response.text and "Traceback" not in response.text
    assert list(log.entries()) == []


def test_a_request_over_a_mebibyte_is_413(log: DecisionLog) -> None:
    response = client(log).post(HOOK, content=b" " * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert (
        response.json()["issue"][0]["diagnostics"]
        == "the request is larger than the 1024 KiB limit"
    )


def test_evaluate_errors_are_plain_json(log: DecisionLog) -> None:
    response = client(log).post(
        "/evaluate", content=json.dumps({"case_id": SECRET, "services": []})
    )
    assert response.status_code == 400
    assert response.json() == {"error": "request:1:43: services: must not be empty"}


# --- client tokens -------------------------------------------------------------------


REPLAYED = token()
TOKENS: list[tuple[str, Any, int, str]] = [
    ("RS384, trusted issuer, this endpoint", lambda: token(), 200, ""),
    ("ES384 key", lambda: token(key=EC, alg="ES384", kid="ec-1"), 200, ""),
    ("no token", lambda: None, 401, "a bearer token is required"),
    ("not a JWT", lambda: "abc", 401, "the token is not a JWT"),
    (
        "HMAC",
        lambda: token(key="a-shared-secret-of-enough-length-for-hs256", alg="HS256"),
        401,
        "the token is not signed with an allowed asymmetric algorithm",
    ),
    (
        "unsigned",
        lambda: jwt.encode({"iss": ISSUER}, None, algorithm="none"),  # type: ignore[arg-type]
        401,
        "the token is not signed with an allowed asymmetric algorithm",
    ),
    ("an unknown key", lambda: token(kid="other"), 401, "the token's key is not in the JWKS"),
    (
        "signed by another key",
        lambda: token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        401,
        "the token's signature does not verify",
    ),
    (
        "an untrusted issuer",
        lambda: token(iss="https://evil.example"),
        401,
        "the token's issuer is not trusted",
    ),
    (
        "for another endpoint",
        lambda: token(aud="http://testserver/cds-services"),
        401,
        "the token is not for this endpoint (aud)",
    ),
    ("expired", lambda: token(exp=int(time.time()) - 60), 401, "the token has expired"),
    (
        "expires too far ahead",
        lambda: token(exp=int(time.time()) + 3600),
        401,
        "the token expires more than 300 s ahead",
    ),
    ("no jti", lambda: token(jti=None), 401, "the token lacks the jti claim"),
]


@pytest.mark.parametrize(
    ("make", "status", "message"), [t[1:] for t in TOKENS], ids=[t[0] for t in TOKENS]
)
def test_client_tokens(
    log: DecisionLog, tmp_path: Path, make: Any, status: int, message: str
) -> None:
    service = client(log, tokens=TokenChecker(jwks_file(tmp_path), [ISSUER]))
    made = make()
    headers = {"Authorization": f"Bearer {made}"} if made else {}
    response = service.post(HOOK, json=order_sign_request(), headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["issue"][0]["diagnostics"] == message
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_is_used_once(log: DecisionLog, tmp_path: Path) -> None:
    service = client(log, tokens=TokenChecker(jwks_file(tmp_path), [ISSUER]))
    headers = {"Authorization": f"Bearer {token()}"}
    assert service.post(HOOK, json=order_sign_request(), headers=headers).status_code == 200
    again = service.post(HOOK, json=order_sign_request(), headers=headers)
    assert again.status_code == 401
    assert again.json()["issue"][0]["diagnostics"] == "the token was used before (jti)"


def test_discovery_needs_a_token_too_but_health_does_not(log: DecisionLog, tmp_path: Path) -> None:
    service = client(log, tokens=TokenChecker(jwks_file(tmp_path), [ISSUER]))
    assert service.get("/cds-services").status_code == 401
    assert service.get("/healthz").status_code == 200


# --- the decision log ----------------------------------------------------------------


def test_every_decision_is_logged_with_its_rule_version(log: DecisionLog, tmp_path: Path) -> None:
    service = client(log)
    service.post(HOOK, json=order_sign_request())
    service.post("/Claim/$submit", json=pas_bundle(True))
    entries = list(log.entries())
    assert [(e.endpoint, e.decision, e.hook_instance) for e in entries] == [
        (
            "cds-services/cg-trans-03-order-sign",
            "insufficient_information",
            "3f1c7a52-6d0e-4b8e-9a51-2c1d6b0f9e47",
        ),
        ("Claim/$submit", "medically_necessary", None),
    ]
    assert Path(log.path).stat().st_mode & 0o777 == 0o600  # health information: owner only
    rules = load_rules()
    assert {(e.rules_sha256, e.guideline, e.guideline_version) for e in entries} == {
        (rules.sha256, "CG-TRANS-03", "2023-05-11")
    }
    assert entries[1].lines == [
        {
            "code": "38242",
            "service": "donor_lymphocyte_infusion",
            "decision": "medically_necessary",
            "action": "approve",
        },
        {"code": "99215", "service": None, "decision": "not_applicable", "action": "none"},
    ]
    runner = CliRunner()
    listed = runner.invoke(
        cli_app, ["log", "list", "--log", log.path, "--decision", "medically_necessary"]
    )
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [entries[1].id]
    shown = runner.invoke(cli_app, ["log", "show", f"{entries[0].id}.1", "--log", log.path])
    document = json.loads(shown.stdout)
    assert (
        document["id"] == entries[0].id
        and document["result"]["decision"] == "insufficient_information"
    )
    assert document["questionnaire"]["resourceType"] == "Questionnaire"
    missing = runner.invoke(cli_app, ["log", "show", "nope", "--log", log.path])
    assert (missing.exit_code, missing.stderr) == (
        2,
        f"dli-check: {log.path}: no decision 'nope'\n",
    )


def test_serve_refuses_to_bind_beyond_loopback_without_tokens() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert (result.exit_code, result.stderr) == (
        2,
        "dli-check: refusing to serve on 0.0.0.0 without --jwks (client tokens); --insecure to do so\n",
    )


def test_a_real_server(tmp_path: Path) -> None:
    """Start dli-check serve on a free loopback port, call each kind of endpoint, stop it."""
    log_path = tmp_path / "log.sqlite3"
    with running(tmp_path) as (base, server):
        bodies = [
            ("/cds-services/cg-trans-03-order-sign", json.dumps(order_sign_request()).encode()),
            ("/Claim/$submit", (FHIR / "pas-claim-dli-answered.json").read_bytes()),
            ("/evaluate", (ROOT / "examples" / "cases" / "dli-relapsed-aml.json").read_bytes()),
        ]
        for path, body in bodies:
            request = urllib.request.Request(
                base + path, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert b"Traceback" not in err
    assert [e.endpoint for e in DecisionLog(log_path).entries()] == [
        "cds-services/cg-trans-03-order-sign",
        "Claim/$submit",
        "evaluate",
    ]


@pytest.mark.requirement(
    "CRD hook-16, found-34",
    "An order no rule file governs (a LOINC lab order) gets no action and never makes the request fail",
)
@pytest.mark.parametrize(
    ("orders", "actions"),
    [
        ("beside", ["dli-order-1"]),  # the lab order beside the DLI order gets no action
        ("alone", []),  # nothing the guideline governs: no action, no error
    ],
)
def test_an_order_no_service_routes_never_breaks_a_request(
    log: DecisionLog, orders: str, actions: list[str]
) -> None:
    request = with_answers(order_sign_request())
    entries = request["context"]["draftOrders"]["entry"]
    lab = {"resource": copy.deepcopy(LAB_ORDER)}
    request["context"]["draftOrders"]["entry"] = [*entries, lab] if orders == "beside" else [lab]
    response = client(log).post(HOOK, json=request)
    assert response.status_code == 200
    body = response.json()
    assert_valid_crd(body)
    assert [a["resource"]["id"] for a in body.get("systemActions", [])] == actions


@pytest.mark.requirement(
    "CRD found-34",
    "The CRD guide's own requests (a SNOMED-coded order with billing options, a CommunicationRequest) get no action, with no query and nothing logged",
)
@pytest.mark.parametrize(
    "example",
    [
        # a mammography order CG-TRANS-03 does not govern, with three billing options
        "crd-CRDServiceRequest.json",
        # a referral (CommunicationRequest): no ServiceRequest at all
        "crd-CRDServiceRequest3.json",
    ],
)
def test_the_crd_guides_own_requests_get_no_action_not_an_error(
    log: DecisionLog, example: str
) -> None:
    """The CRD guide's unchanged examples: answered at once, with no action, nothing
    decided or logged, and no query of the EHR they name."""
    request = json.loads((ROOT / "tests" / "data" / "interop" / example).read_text())
    response = client(log).post(HOOK, json=request)
    assert (response.status_code, response.json()) == (200, {"cards": []})
    assert list(log.entries()) == []


def test_the_billing_code_keeps_the_system_the_order_sent(log: DecisionLog) -> None:
    hcpcs = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    request = with_answers(order_sign_request())
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    order["code"]["coding"][0]["system"] = hcpcs  # X12 returns CPT as HCPCS
    body = client(log).post(HOOK, json=request).json()
    parts = body["systemActions"][0]["resource"]["extension"][-1]["extension"]
    billing = next(p["valueCoding"] for p in parts if p["url"] == "billingCode")
    assert billing == {"system": hcpcs, "code": "38242"}


@pytest.mark.requirement(
    "CDS Hooks \u00a7CORS",
    "Preflight is answered for the configured origins (`--cors-origin`) only; none by default",
)
@pytest.mark.parametrize(
    ("origins", "origin", "status", "allowed"),
    [
        ((), "https://ehr.example.org", 405, None),  # none by default
        (("https://ehr.example.org",), "https://ehr.example.org", 200, "https://ehr.example.org"),
        (("https://ehr.example.org",), "https://evil.example.com", 400, None),
    ],
)
def test_cors_preflight_answers_the_configured_origins_only(
    log: DecisionLog, origins: tuple[str, ...], origin: str, status: int, allowed: str | None
) -> None:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    response = client(log, cors_origins=origins).options(HOOK, headers=headers)
    assert response.status_code == status
    assert response.headers.get("access-control-allow-origin") == allowed
    if allowed:
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.requirement(
    "CRD found-11, found-37",
    "The log keeps what was decided (no token), the response sent, the configuration in force, and every refusal without its body",
)
def test_the_log_keeps_the_configuration_in_force_and_every_refusal(log: DecisionLog) -> None:
    service = client(log, policy=Policy(payer="Example Health Plan", auto_approve=True))
    service.post(HOOK, json=with_answers(order_sign_request()))
    (entry,) = log.entries()
    decided = json.loads(entry.request or "{}")  # the Bundle decided, never the token
    assert decided["resourceType"] == "Bundle" and len(decided["entry"]) == 7
    assert "opaque-token" not in (entry.request or "")
    assert entry.summary()["configuration"] == {
        "payer": "Example Health Plan",
        "covered": "covered",
        "auto_approve": True,
        "policy_url": None,
        "payer_ids": [],
        "other_orders": None,
        "fhir_servers": [],
    }
    bad = order_sign_request() | {"hookInstance": "not-a-uuid"}
    service.post(HOOK, json=bad)
    service.post("/cds-services/nope", json=order_sign_request())
    refusals = [{k: r[k] for k in ("endpoint", "status", "reason")} for r in log.refusals()]
    assert refusals == [
        {"endpoint": HOOK, "status": 400, "reason": "hookInstance: must be a UUID (CDS Hooks)"},
        {"endpoint": "/cds-services/nope", "status": 404, "reason": "no such CDS service"},
    ]
    assert "pat-1" not in json.dumps(log.refusals())  # never the body


def test_a_log_made_before_0_4_reads_as_it_was(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    path.touch(mode=0o600)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE decisions (id TEXT PRIMARY KEY, time TEXT NOT NULL, endpoint TEXT NOT "
        "NULL, hook_instance TEXT, rules_sha256 TEXT NOT NULL, guideline TEXT NOT NULL, "
        "guideline_version TEXT NOT NULL, case_sha256 TEXT NOT NULL, decision TEXT NOT NULL, "
        "lines TEXT NOT NULL, result TEXT NOT NULL, questionnaire TEXT, response BLOB)"
    )
    db.execute(
        "INSERT INTO decisions VALUES ('d1', '2026-06-01T00:00:00', 'evaluate', NULL, 'r', "
        "'CG-TRANS-03', '2023-05-11', 'c', 'medically_necessary', '[]', '{}', NULL, NULL)"
    )
    db.commit()
    db.close()
    old = DecisionLog(path, writable=False)
    (entry,) = old.entries()
    assert (entry.id, entry.configuration, old.refusals()) == ("d1", None, [])


def _payor(request: dict[str, Any], payor: dict[str, Any]) -> dict[str, Any]:
    request = with_answers(request)
    coverage = request["prefetch"]["coverage"]
    coverage = (
        coverage["entry"][0]["resource"] if coverage["resourceType"] == "Bundle" else coverage
    )
    coverage["payor"] = [payor]
    return request


PAYER_ROWS = [
    # (the Coverage's payor, an Organization in the prefetch, answered)
    ({"identifier": {"system": "urn:oid:2.16.840.1.113883.6.300", "value": "60054"}}, None, True),
    ({"identifier": {"system": "urn:oid:2.16.840.1.113883.6.300", "value": "99999"}}, None, False),
    (
        {"reference": "Organization/payer-1"},
        {"resourceType": "Organization", "id": "payer-1", "identifier": [{"value": "60054"}]},
        True,
    ),
    ({"reference": "Organization/payer-1"}, None, False),  # whose it is cannot be told
    ({}, None, False),  # no payer at all
]


@pytest.mark.requirement(
    "CRD hook-13",
    "A Coverage whose payor is not one served (`--payer-id`) is a 400, and nothing of it is decided",
)
@pytest.mark.parametrize(("payor", "organization", "answered"), PAYER_ROWS)
def test_another_payers_coverage_is_a_400_as_crd_says(
    log: DecisionLog, payor: dict[str, Any], organization: dict[str, Any] | None, answered: bool
) -> None:
    request = _payor(order_sign_request(), payor)
    if organization is not None:
        request["prefetch"]["payer"] = organization
    service = client(log, policy=Policy(payer_ids=("60054",)))
    response = service.post(HOOK, json=request)
    if answered:
        assert response.status_code == 200 and "systemActions" in response.json()
    else:  # CRD hook-13: a payer this endpoint does not handle is a 400
        assert (response.status_code, response.json()["issue"][0]["diagnostics"]) == (
            400,
            "prefetch.coverage: its payor is not a payer this service answers for",
        )
    assert len(list(log.entries())) == (1 if answered else 0)  # nothing decided, nothing kept


@pytest.mark.requirement(
    "CRD found-33",
    "Elements FHIR R4 does not define in prefetched data are ignored with a logged warning, not a 400",
)
def test_elements_r4_does_not_define_in_prefetched_data_are_ignored(
    log: DecisionLog, caplog: pytest.LogCaptureFixture
) -> None:
    request = with_answers(order_sign_request())
    expected = client(log).post(HOOK, json=request).json()
    procedure = request["prefetch"]["transplants"]["entry"][0]["resource"]
    procedure["secretR5Element"] = {"x": "y"}  # an R5 element, say
    with caplog.at_level("WARNING", logger="dli_check.fhir"):
        body = client(log).post(HOOK, json=request).json()

    def said(response: dict[str, Any]) -> list[dict[str, Any]]:  # leaving the ids aside
        return [
            {k: v for k, v in i.items() if k != "coverage-assertion-id"}
            for i in coverage_information(response)
        ]

    assert said(body) == said(expected) and said(body)[0]["pa-needed"] == "auth-needed"
    warnings = [r.getMessage() for r in caplog.records if r.name == "dli_check.fhir"]
    assert len(warnings) == 1
    assert warnings[0].endswith(": an element FHIR R4 does not define here was ignored")
    assert "secretR5Element" not in warnings[0]  # its key may be content: never echoed
    # A PAS Bundle is the client's own: the same element there is refused.
    bundle = pas_bundle(True)
    bundle["entry"][3]["resource"]["secretR5Element"] = 1
    response = client(log).post("/Claim/$submit", json=bundle)
    assert response.status_code == 400
