"""Querying the EHR for what a CDS Hooks prefetch omits (CDS Hooks §Prefetch, CRD found-5):
against a FHIR server started here on loopback, which serves resources from the
reference's request and checks the bearer token."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest
from fhir_bundles import LAB_ORDER
from service_support import HOOK, assert_valid_crd, client, order_sign_request

from dli_check import load_rules
from dli_check.interop.crd import Policy, prefetch_templates
from dli_check.service.ehr import Ehr
from dli_check.service.log import DecisionLog

TOKEN = "opaque-token"


class FhirServer:
    """A FHIR server on 127.0.0.1: answers the queries in `answers` (query → JSON, or an
    HTTP status) for the bearer `TOKEN`, 401 otherwise; keeps each query it was sent."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.queries: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = unquote(self.path.removeprefix("/fhir/"))
                owner.queries.append(query)
                found = owner.answers.get(query, 404)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    found = 401
                status, body = (found, b"{}") if isinstance(found, int) else (200, found)
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}/fhir"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def __enter__(self) -> FhirServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(timeout=5)


CONDITIONS = "Condition?patient=pat-1"
TRANSPLANTS = prefetch_templates(load_rules())["transplants"].replace(
    "{{context.patientId}}", "pat-1"
)


def _ehr_data() -> dict[str, Any]:
    """The reference request's conditions and transplants, as the EHR's searches answer."""
    prefetch = order_sign_request()["prefetch"]
    return {CONDITIONS: prefetch["conditions"], TRANSPLANTS: prefetch["transplants"]}


def _omitting(*keys: str, server: str, scope: str | None = None) -> dict[str, Any]:
    request = order_sign_request()
    for key in keys:
        del request["prefetch"][key]
    request["fhirServer"] = server
    if scope is not None:
        request["fhirAuthorization"]["scope"] = scope
    return request


@pytest.fixture
def log(tmp_path: Any) -> DecisionLog:
    return DecisionLog(tmp_path / "decisions.sqlite3")


@pytest.fixture
def ehr() -> Iterator[FhirServer]:
    with FhirServer(_ehr_data()) as server:
        yield server


def _decision(log: DecisionLog) -> Any:
    (entry,) = list(log.entries())
    return json.loads(entry.result)["services"][0]["decision"]


@pytest.mark.requirement(
    "CRD found-5",
    "What a prefetch omits is queried on the EHR (`--fhir-server`) with the request's token, for the omitted keys only",
)
def test_what_the_prefetch_omits_is_queried_and_decides_as_if_sent(
    ehr: FhirServer, log: DecisionLog, tmp_path: Any
) -> None:
    request = _omitting("conditions", "transplants", server=ehr.base)
    service = client(log, ehr=Ehr((ehr.base,)))
    response = service.post(HOOK, json=request)
    assert response.status_code == 200
    assert ehr.queries == [CONDITIONS, TRANSPLANTS]  # the omitted keys only, narrowed
    queried = response.json()
    assert_valid_crd(queried)
    sent = client(DecisionLog(tmp_path / "sent.sqlite3")).post(HOOK, json=order_sign_request())
    assert (
        queried["systemActions"][0]["resource"]["extension"][-1]["extension"][2:6]
        == (sent.json()["systemActions"][0]["resource"]["extension"][-1]["extension"][2:6])
    )


@pytest.mark.requirement(
    "CRD found-5",
    "A search's pages are followed on the same server; its OperationOutcome entries are not data",
)
def test_a_search_is_read_page_by_page(log: DecisionLog) -> None:
    data = _ehr_data()
    first, second = copy.deepcopy(data[CONDITIONS]), copy.deepcopy(data[CONDITIONS])
    first["entry"], second["entry"] = first["entry"][1:], second["entry"][:1]
    first["link"] = [{"relation": "next", "url": "Condition?patient=pat-1&page=2"}]
    outcome = {"resourceType": "OperationOutcome", "issue": []}
    second["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
    data[CONDITIONS] = first
    data["Condition?patient=pat-1&page=2"] = second
    with FhirServer(data) as ehr:
        request = _omitting("conditions", server=ehr.base)
        order = request["context"]["draftOrders"]["entry"][0]["resource"]
        del order["reasonCode"]  # the leukemia is known from the Conditions alone
        response = client(log, ehr=Ehr((ehr.base,))).post(HOOK, json=request)
        assert response.status_code == 200
        assert ehr.queries == [CONDITIONS, "Condition?patient=pat-1&page=2"]
    (entry,) = list(log.entries())
    (line,) = json.loads(entry.result)["services"]
    assert line["not_met"] == []  # the leukemia, on page 2, was read


@pytest.mark.requirement(
    "CDS Hooks \u00a7Prefetch",
    "A key that cannot be queried (no token, a server not allowed, a scope not granted, a refused query) is a 412 naming it",
)
@pytest.mark.parametrize(
    ("change", "allowed", "message"),
    [
        (
            lambda r: r.pop("fhirAuthorization"),
            True,
            "prefetch.conditions: omitted, and the request gives no fhirServer and "
            "fhirAuthorization to query",
        ),
        (
            lambda r: None,
            False,
            "prefetch.conditions: omitted, and fhirServer is not a server this service may "
            "query (serve --fhir-server)",
        ),
        (
            lambda r: r["fhirAuthorization"].update(scope="user/Condition.read"),
            True,
            "prefetch.transplants: omitted, and the token's scope does not grant searching "
            "Procedure",
        ),
        (
            lambda r: r["fhirAuthorization"].update(access_token="another-token"),
            True,
            "prefetch.conditions: omitted, and the FHIR server answered HTTP 401 to its query",
        ),
    ],
)
def test_what_cannot_be_queried_is_a_412_naming_the_key(
    ehr: FhirServer, log: DecisionLog, change: Any, allowed: bool, message: str
) -> None:
    request = _omitting("conditions", "transplants", server=ehr.base)
    change(request)
    service = client(log, ehr=Ehr((ehr.base,) if allowed else ()))
    response = service.post(HOOK, json=request)
    assert (response.status_code, response.json()["issue"][0]["diagnostics"]) == (412, message)
    assert TOKEN not in response.text and not list(log.entries())


@pytest.mark.requirement(
    "CDS Hooks \u00a7Prefetch",
    "SMART v1 and v2 scopes grant searching",
)
def test_v2_scopes_grant_searching(ehr: FhirServer, log: DecisionLog) -> None:
    request = _omitting(
        "conditions", "transplants", server=ehr.base, scope="patient/Condition.rs patient/*.s"
    )
    response = client(log, ehr=Ehr((ehr.base,))).post(HOOK, json=request)
    assert response.status_code == 200 and len(ehr.queries) == 2


@pytest.mark.requirement(
    "CRD found-27",
    "A request about no governed order is answered at once: no query (minimum necessary)",
)
def test_a_request_about_no_governed_order_is_answered_at_once_with_no_query(
    ehr: FhirServer, log: DecisionLog
) -> None:
    request = _omitting("conditions", "transplants", "coverage", server=ehr.base)
    request["context"]["draftOrders"]["entry"] = [{"resource": copy.deepcopy(LAB_ORDER)}]
    response = client(log, ehr=Ehr((ehr.base,))).post(HOOK, json=request)
    assert (response.status_code, response.json()) == (200, {"cards": []})
    assert ehr.queries == [] and not list(log.entries())


@pytest.mark.requirement(
    "CRD found-32",
    "A key sent as `null` is never queried: the questionnaire asks for what it lacks",
)
def test_a_key_sent_as_null_is_never_queried(ehr: FhirServer, log: DecisionLog) -> None:
    request = order_sign_request()
    request["prefetch"]["transplants"] = None  # "no data": the questionnaire asks
    request["fhirServer"] = ehr.base
    response = client(log, ehr=Ehr((ehr.base,))).post(HOOK, json=request)
    assert response.status_code == 200 and ehr.queries == []
    assert _decision(log) == "insufficient_information"


@pytest.mark.requirement(
    "CRD hook-16",
    "With `--coverage-for-other-orders`, an order no rule file governs gets the configured coverage-information; `doNotPerform` orders none",
)
def test_other_orders_get_the_configured_coverage_information(log: DecisionLog) -> None:
    request = order_sign_request()
    lab = copy.deepcopy(LAB_ORDER)
    visit = copy.deepcopy(LAB_ORDER) | {"id": "visit-1"}
    visit["code"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99215"}]}
    skipped = copy.deepcopy(visit) | {"id": "skip-1", "doNotPerform": True}
    request["context"]["draftOrders"]["entry"] += [{"resource": r} for r in (lab, visit, skipped)]
    policy = Policy(other_orders="no-auth", covered="conditional")
    body = client(log, policy=policy).post(HOOK, json=request).json()
    assert_valid_crd(body)
    answered = {a["resource"]["id"]: a["resource"]["extension"][-1] for a in body["systemActions"]}
    assert list(answered) == ["dli-order-1", lab["id"], "visit-1"]  # never doNotPerform

    def parts(order: str) -> dict[str, Any]:
        return {
            p["url"]: p.get("valueCode") or p.get("valueCoding")
            for p in answered[order]["extension"]
            if p["url"] in ("covered", "pa-needed", "billingCode", "info-needed")
        }

    assert parts("dli-order-1")["pa-needed"] == "auth-needed"
    assert parts(lab["id"]) == {
        "covered": "conditional",
        "pa-needed": "no-auth",
        "info-needed": "OTH",
    }
    assert parts("visit-1")["billingCode"] == {
        "system": "http://www.ama-assn.org/go/cpt",
        "code": "99215",
    }
    detail = [p for p in answered[lab["id"]]["extension"] if p["url"] == "detail"]
    assert detail[0]["extension"][2]["valueString"].startswith("Covered only if conditions")
