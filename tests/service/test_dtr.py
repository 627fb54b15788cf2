"""DTR as a DTR client uses it: the Questionnaire a coverage-information names, at its
stable canonical URL; the ValueSets it binds; ``$questionnaire-package``; and the answers
of its draft response deciding the order when they come back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.questionnaire import Questionnaire
from service_support import HOOK, client, jwks_file, order_sign_request

from dli_check import load_rules
from dli_check.interop.questionnaires import form_version, questionnaire
from dli_check.service.auth import TokenChecker
from dli_check.service.log import DecisionLog

BASE = "http://testserver"
CANONICAL = f"{BASE}/Questionnaire/cg-trans-03"


@pytest.fixture
def log(tmp_path: Path) -> DecisionLog:
    return DecisionLog(tmp_path / "decisions.sqlite3")


def _info(body: dict[str, Any]) -> dict[str, Any]:
    parts = body["systemActions"][0]["resource"]["extension"][-1]["extension"]
    return {p["url"]: p.get("valueCanonical", p.get("valueString")) for p in parts}


def _package_input(context: str | None = None, **named: Any) -> dict[str, Any]:
    request = order_sign_request()
    coverage = request["prefetch"]["coverage"]["entry"][0]["resource"]
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    parameters: list[dict[str, Any]] = [{"name": "coverage", "resource": coverage}]
    if named.get("order", True):
        parameters.append({"name": "order", "resource": order})
    if "questionnaire" in named:
        parameters.append({"name": "questionnaire", "valueCanonical": named["questionnaire"]})
    if context is not None:
        parameters.append({"name": "context", "valueString": context})
    return {"resourceType": "Parameters", "parameter": parameters}


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(x for v in value.values() for x in _walk(v))]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value]


@pytest.mark.requirement(
    "DTR oper-16",
    "The questionnaire a response names is version-specific and stable per rule file, served at its canonical; no placeholders, codings with systems, repeating groups, enableWhen",
)
def test_the_form_a_response_names_is_the_rule_files_at_its_canonical(log: DecisionLog) -> None:
    service = client(log)
    info = _info(service.post(HOOK, json=order_sign_request()).json())
    version = form_version(load_rules())
    assert info["questionnaire"] == f"{CANONICAL}|{version}"  # never a decision id
    form = service.get("/Questionnaire/cg-trans-03").json()
    Questionnaire.model_validate(form)
    assert (form["url"], form["version"]) == (CANONICAL, version)
    text = json.dumps(form)
    assert "{service}" not in text  # no placeholder left unfilled
    codings = [x["valueCoding"] for x in _walk(form) if isinstance(x, dict) and "valueCoding" in x]
    assert codings and all("system" in c for c in codings)
    groups = {g["linkId"]: g for g in form["item"]}
    assert groups["transplants[0]"]["repeats"] is True
    line = {i["linkId"]: i for i in groups["services[0]"]["item"]}
    assert line["services[0].genetically_modified"]["enableWhen"] == [
        {
            "question": "services[0].service",
            "operator": "=",
            "answerCoding": {
                "system": "urn:dli-check:service",
                "code": "donor_lymphocyte_infusion",
            },
        }
    ]
    assert "enableWhen" not in line["services[0].date"]  # every line's date decides its version


@pytest.mark.requirement(
    "DTR oper-14, oper-15",
    "A coded question binds a ValueSet that resolves, expanded with each code's words",
)
def test_a_coded_question_binds_a_value_set_that_resolves_expanded(log: DecisionLog) -> None:
    service = client(log)
    form = service.get("/Questionnaire/cg-trans-03").json()
    diagnoses = form["item"][0]["item"][0]
    url, _, version = diagnoses["answerValueSet"].partition("|")
    assert (url, version) == (f"{BASE}/ValueSet/cg-trans-03-patient-diagnoses", form["version"])
    value_set = service.get(url.removeprefix(BASE)).json()
    codes = [c["code"] for c in value_set["expansion"]["contains"]]
    assert value_set["expansion"]["total"] == len(codes) > 100
    assert "C92.00" in codes and "C92.0" not in codes  # billable codes only
    assert value_set["expansion"]["contains"][codes.index("C92.00")]["display"] == (
        "Acute myeloblastic leukemia, not having achieved remission"
    )


def test_a_terminology_server_replaces_the_packaged_value_sets(log: DecisionLog) -> None:
    server = "https://tx.example.org/fhir"
    form = questionnaire(load_rules(), base_url=BASE, terminology_server=server)
    diagnoses = form["item"][0]["item"][0]
    assert diagnoses["answerValueSet"] == "http://hl7.org/fhir/sid/icd-10-cm?fhir_vs"
    assert diagnoses["extension"] == [
        {
            "url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
            "sdc-questionnaire-preferredTerminologyServer",
            "valueUrl": server,
        }
    ]


@pytest.mark.requirement(
    "DTR oper-12, oper-18",
    "`$questionnaire-package` returns the Questionnaire first, a draft QuestionnaireResponse naming the records asked about, and the ValueSets",
)
def test_the_package_names_the_records_its_decision_asked_about(log: DecisionLog) -> None:
    service = client(log)
    info = _info(service.post(HOOK, json=order_sign_request()).json())
    context = info["coverage-assertion-id"]
    answer = service.post(
        "/Questionnaire/$questionnaire-package",
        json=_package_input(context, questionnaire=info["questionnaire"]),
    )
    assert answer.status_code == 200
    Parameters.model_validate(answer.json())
    (package,) = answer.json()["parameter"]
    assert package["name"] == "packagebundle"
    Bundle.model_validate(package["resource"])
    kinds = [e["resource"]["resourceType"] for e in package["resource"]["entry"]]
    assert kinds == ["Questionnaire", "QuestionnaireResponse", "ValueSet", "ValueSet"]
    draft = package["resource"]["entry"][1]["resource"]
    assert draft["questionnaire"] == info["questionnaire"] and draft["status"] == "in-progress"
    assert draft["subject"] == {"reference": "Patient/pat-1"}
    assert [(g["linkId"], g["item"][0]["answer"][0]["valueString"]) for g in draft["item"]] == [
        ("transplants[0]", "Procedure/hct-1"),
        ("services[0]", "ServiceRequest/dli-order-1"),
    ]


def _answered(draft: dict[str, Any]) -> dict[str, Any]:
    """The draft response as a DTR client completes it."""
    answers = {
        "transplants[0].medically_necessary": {"valueBoolean": True},
        "transplants[0].donor_id": {"valueString": "D-4471"},
        "services[0].lymphocyte_donor_id": {"valueString": "D-4471"},
        "services[0].genetically_modified": {"valueBoolean": False},
    }
    done = copy.deepcopy(draft) | {"status": "completed", "id": "qr-dtr"}
    for group in done["item"]:
        group["item"] += [
            {"linkId": link, "answer": [value]}
            for link, value in answers.items()
            if link.startswith(group["linkId"] + ".")
        ]
    return done


@pytest.mark.requirement(
    "DTR oper-19",
    "The completed draft response, sent back, decides the order",
)
def test_the_completed_draft_decides_the_order(log: DecisionLog) -> None:
    service = client(log)
    info = _info(service.post(HOOK, json=order_sign_request()).json())
    package = service.post(
        "/Questionnaire/$questionnaire-package",
        json=_package_input(info["coverage-assertion-id"]),
    ).json()
    draft = package["parameter"][0]["resource"]["entry"][1]["resource"]
    request = order_sign_request()
    request["prefetch"]["questionnaireResponse"] = _answered(draft)
    decided = service.post(HOOK, json=request).json()
    parts = decided["systemActions"][0]["resource"]["extension"][-1]["extension"]
    assert [p.get("valueCode") for p in parts if p["url"] == "pa-needed"] == ["auth-needed"]
    assert [p for p in parts if p["url"] == "doc-needed"] == []  # nothing left to ask


def test_a_repeated_group_without_a_record_is_the_next_new_record() -> None:
    from dli_check.inputs.fhir import _items

    group = {"linkId": "transplants[0]", "item": [{"linkId": "transplants[0].type", "answer": [1]}]}
    found = [link for link, _, _ in _items([group, copy.deepcopy(group)], ())]
    assert found == ["transplants[0].type", "transplants[1].type"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"resourceType": "Bundle"}, 400, "the body must be a FHIR Parameters resource"),
        (
            {"resourceType": "Parameters", "parameter": [{"name": "context", "valueString": "x"}]},
            400,
            "Parameters.parameter: exactly one coverage is required",
        ),
    ],
)
def test_a_package_request_the_profile_does_not_allow_is_a_400(
    log: DecisionLog, body: Any, status: int, message: str
) -> None:
    answer = client(log).post("/Questionnaire/$questionnaire-package", json=body)
    assert (answer.status_code, answer.json()["issue"][0]["diagnostics"]) == (status, message)


@pytest.mark.requirement(
    "DTR oper-9",
    "A questionnaire or version not served is a warning in `outcome`",
)
def test_an_unknown_form_or_version_is_a_warning_not_a_package(log: DecisionLog) -> None:
    body = _package_input(None, order=False, questionnaire=f"{CANONICAL}|1999-01-01+old")
    answer = client(log).post("/Questionnaire/$questionnaire-package", json=body).json()
    (outcome,) = answer["parameter"]
    assert outcome["name"] == "outcome"
    assert outcome["resource"]["issue"][0]["diagnostics"].startswith(
        f"questionnaire {CANONICAL}: version 1999-01-01+old is not served"
    )


@pytest.mark.requirement(
    "DTR",
    "The form is reachable by a DTR app without a client token; the package needs one",
)
def test_the_form_needs_no_client_token_and_the_package_does(
    log: DecisionLog, tmp_path: Path
) -> None:
    service = client(log, tokens=TokenChecker(jwks_file(tmp_path), ["https://ehr.example.org"]))
    assert service.get("/Questionnaire/cg-trans-03").status_code == 200
    package = service.post("/Questionnaire/$questionnaire-package", json=_package_input())
    assert package.status_code == 401


@pytest.mark.requirement(
    "DTR oper-15",
    "`ValueSet/$expand` by canonical (with or without its version) filters by code or words, "
    "pages with offset and count, as a form renderer asks",
)
@pytest.mark.parametrize(
    ("query", "status", "total", "first"),
    [
        ("filter=myeloblastic&count=2", 200, 3, "C92.00"),
        ("filter=C92.0&offset=1&count=1", 200, 3, "C92.01"),
        ("filter=no+such+words", 200, 0, None),
        ("count=0", 400, None, None),
    ],
)
def test_expand_filters_and_pages(
    log: DecisionLog, query: str, status: int, total: int | None, first: str | None
) -> None:
    url = f"{BASE}/ValueSet/cg-trans-03-patient-diagnoses|{form_version(load_rules())}"
    answer = client(log).get(f"/ValueSet/$expand?url={quote(url)}&{query}")
    assert answer.status_code == status
    if status == 200:
        expansion = answer.json()["expansion"]
        assert expansion["total"] == total
        assert [c["code"] for c in expansion["contains"]][:1] == ([first] if first else [])
