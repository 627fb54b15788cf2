"""FHIR R4 in, questions out: Bundles decide cases through the bindings of the rule file,
every fact read names its place, disagreeing places leave a fact unknown, and the
Questionnaire of the missing facts, once answered, completes the decision."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir_bundles import LAB_ORDER, bundle_from_case
from typer.testing import CliRunner

from conftest import DATA, ROOT
from dli_check import (
    CaseError,
    DliCheckError,
    case_from_fhir,
    evaluate,
    load_rules,
    questionnaire,
    read_case,
)
from dli_check.cli.commands import app
from dli_check.engine.rules import case_from_data
from dli_check.errors import RuleFileError

FHIR = ROOT / "examples" / "fhir"
EXAMPLES = sorted(FHIR.glob("*.json"))
ORDER = json.loads((FHIR / "order-sign-dli.json").read_text())
CLAIM = json.loads((FHIR / "pas-claim-dli.json").read_text())
SECRET = "Jane Q Patient"
runner = CliRunner()

# What a Bundle without answers lacks: the facts with no FHIR element (the genetic
# modification's default does not hold in FHIR).
ASKED = [
    "transplants[0].medically_necessary",
    "services[0].lymphocyte_donor_id",
    "transplants[0].donor_id",
    "services[0].genetically_modified",
]
"""What the example Bundles leave unknown, as case paths."""
ASKED_PAS = [
    "transplants[Procedure/hct-1].medically_necessary",
    "services[Claim/pa-request-1#item1].lymphocyte_donor_id",
    "transplants[Procedure/hct-1].donor_id",
    "services[Claim/pa-request-1#item1].genetically_modified",
]
"""The same, as the Questionnaire asks for them: each record by the resource it is."""

# (example, case decision, each line: (code, decision, missing))
OUTCOMES: list[tuple[str, str, list[tuple[str, str, list[str]]]]] = [
    (
        "order-sign-dli",
        "insufficient_information",
        [
            (
                "38242",
                "insufficient_information",
                ASKED,
            )
        ],
    ),
    ("order-sign-dli-answered", "medically_necessary", [("38242", "medically_necessary", [])]),
    (
        "order-sign-dli-autologous",
        "not_medically_necessary",
        [("38242", "not_medically_necessary", [])],
    ),
    (
        "order-sign-dli-conflicting-indication",
        "insufficient_information",
        [("38242", "insufficient_information", ["transplants[0].indication"])],
    ),
    (
        "pas-claim-dli",
        "insufficient_information",
        [
            (
                "38242",
                "insufficient_information",
                ASKED,
            ),
            ("99215", "not_applicable", []),  # CPT sent under the HCPCS URI, not governed
        ],
    ),
    (
        "pas-claim-dli-answered",
        "medically_necessary",
        [("38242", "medically_necessary", []), ("99215", "not_applicable", [])],
    ),
]


@pytest.mark.parametrize(("name", "decision", "lines"), OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_example_bundles(name: str, decision: str, lines: list[tuple[str, str, list[str]]]) -> None:
    path = FHIR / f"{name}.json"
    result = evaluate(path)
    assert result.decision == decision
    assert [(s.code, s.decision, list(s.missing)) for s in result.services] == lines
    expected = (ROOT / "examples" / "expected" / "fhir" / path.name).read_text(encoding="utf-8")
    assert result.to_json() + "\n" == expected


def test_every_example_bundle_is_in_the_table() -> None:
    assert sorted(p.stem for p in EXAMPLES) == sorted(o[0] for o in OUTCOMES)


def test_each_fact_names_where_it_came_from() -> None:
    result = evaluate(FHIR / "order-sign-dli-answered.json")
    assert [(s.fact, s.places, s.agree) for s in result.sources] == [
        (
            "patient.diagnoses",
            (
                "ServiceRequest/dli-order-1.reasonCode.coding",
                "Condition/cond-aml.code.coding",
                "Condition/cond-sct-status.code.coding",
            ),
            True,
        ),
        ("services[0]", ("ServiceRequest/dli-order-1",), True),
        ("services[0].code", ("ServiceRequest/dli-order-1.code.coding",), True),
        ("services[0].date", ("ServiceRequest/dli-order-1.occurrenceDateTime",), True),
        (
            "services[0].genetically_modified",
            ("QuestionnaireResponse/qr-1 item services[0].genetically_modified",),
            True,
        ),
        (
            "services[0].lymphocyte_donor_id",
            ("QuestionnaireResponse/qr-1 item services[0].lymphocyte_donor_id",),
            True,
        ),
        ("transplants[0]", ("Procedure/hct-1",), True),
        ("transplants[0].date", ("Procedure/hct-1.performedDateTime",), True),
        (
            "transplants[0].donor_id",
            ("QuestionnaireResponse/qr-1 item transplants[0].donor_id",),
            True,
        ),
        ("transplants[0].indication", ("Procedure/hct-1.reasonCode.coding",), True),
        (
            "transplants[0].medically_necessary",
            ("QuestionnaireResponse/qr-1 item transplants[0].medically_necessary",),
            True,
        ),
        ("transplants[0].status", ("Procedure/hct-1.status",), True),
        ("transplants[0].type", ("Procedure/hct-1.code.coding",), True),
    ]


def test_places_that_disagree_leave_the_fact_unknown_and_say_so() -> None:
    result = evaluate(FHIR / "order-sign-dli-conflicting-indication.json")
    (line,) = result.services
    assert line.notes == (
        "CG-TRANS-03 was last reviewed on 2023-05-11, more than 12 months before this date of "
        "service: it may have been revised since; check that this version is the one in effect",
        "transplants[0].indication is taken as unknown: Procedure/hct-1.reasonCode.coding and "
        "QuestionnaireResponse/qr-1 item transplants[0].indication disagree",
    )
    (conflict,) = [s for s in result.sources if not s.agree]
    assert conflict.fact == "transplants[0].indication"


def answer_for(item: dict[str, Any]) -> dict[str, Any]:
    """A reviewer's answer to one generated question, by the item's type."""
    kind = item["type"]
    if kind == "boolean":
        return {"valueBoolean": item["linkId"].endswith("medically_necessary")}
    if kind == "string":
        return {"valueString": "D-4471"}
    if kind == "date":
        return {"valueDate": "2025-03-14"}
    if kind == "choice":
        return {"valueCoding": item["answerOption"][0]["valueCoding"]}
    raise AssertionError(kind)


@pytest.mark.parametrize("start", [ORDER, CLAIM], ids=["order-sign", "pas-claim"])
def test_the_questionnaire_loop_completes_the_decision(start: dict[str, Any]) -> None:
    """Bundle -> insufficient information -> Questionnaire -> filled response -> decision."""
    rules = load_rules()
    first = evaluate(copy.deepcopy(start), rules)
    assert first.decision == "insufficient_information"
    form = questionnaire(rules, first)
    Questionnaire.model_validate(form)
    asked = [item["linkId"] for item in form["item"]]
    records = {s.fact: s.places[0] for s in first.sources if "." not in s.fact}
    missing = dict.fromkeys(m for s in first.services for m in s.missing)
    assert asked == [
        f"{head.split('[')[0]}[{records[head]}].{tail}"
        for head, _, tail in (m.partition(".") for m in missing)
    ]
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "answers",
        "questionnaire": form["url"],
        "status": "completed",
        "item": [{"linkId": i["linkId"], "answer": [answer_for(i)]} for i in form["item"]],
    }
    QuestionnaireResponse.model_validate(response)
    bundle = copy.deepcopy(start)
    bundle["entry"].append({"resource": response})
    second = evaluate(bundle, rules)
    assert second.decision == "medically_necessary"
    assert questionnaire(rules, second)["item"] == []


def test_the_whole_questionnaire() -> None:
    form = questionnaire(load_rules(), base_url="https://payer.example.org/fhir/")
    Questionnaire.model_validate(form)
    assert form["url"] == "https://payer.example.org/fhir/Questionnaire/cg-trans-03"
    items = [(i["linkId"], i["type"], i["required"]) for g in form["item"] for i in g["item"]]
    assert items == [
        ("patient.diagnoses", "open-choice", True),
        ("transplants[0]:record", "string", False),
        ("transplants[0].type", "choice", True),
        ("transplants[0].conditioning", "choice", True),
        ("transplants[0].status", "choice", True),
        ("transplants[0].date", "date", True),
        ("transplants[0].medically_necessary", "boolean", True),
        ("transplants[0].indication", "open-choice", True),
        ("transplants[0].donor_id", "string", True),
        ("services[0]:record", "string", False),
        ("services[0].service", "choice", True),
        ("services[0].date", "date", True),
        ("services[0].lymphocyte_donor_id", "string", True),
        ("services[0].genetically_modified", "boolean", True),
    ]
    diagnoses = form["item"][0]["item"][0]
    assert diagnoses["answerValueSet"] == (
        "https://payer.example.org/fhir/ValueSet/cg-trans-03-patient-diagnoses|" + form["version"]
    )
    assert diagnoses["repeats"] is True


@pytest.mark.parametrize(
    ("rule_file", "required"),
    [
        (
            "cpap.yaml",
            {
                "patient.diagnoses": True,
                "sleep_studies[0].date": True,
                "sleep_studies[0].ahi": True,
                "services[0].date": True,
            },
        ),
        (
            "made-up-guideline.yaml",
            {
                "patient.diagnoses": True,
                "transplants[0].type": True,
                "transplants[0].date": True,
                "transplants[0].medically_necessary": False,  # no criterion reads it
                "transplants[0].indication": True,
                "services[0].date": True,
            },
        ),
    ],
)
def test_required_where_a_criterion_reads_the_fact(
    rule_file: str, required: dict[str, bool]
) -> None:
    form = questionnaire(load_rules(DATA / rule_file))
    Questionnaire.model_validate(form)
    asked = {i["linkId"]: i["required"] for g in form["item"] for i in g["item"]}
    assert {k: v for k, v in asked.items() if not k.endswith(":record")} == required


CASES = sorted((ROOT / "examples" / "cases").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_round_trip_through_fhir(path: Path) -> None:
    """A case written as a Bundle (Conditions, Procedures, draft orders and answers) reads
    back as the same case, and gets the same decision, criterion by criterion. A draft
    order (ServiceRequest) has no element for a code's modifiers: they are not sent; and
    the Bundle states every fact, defaults included, so none is held by default."""
    rules = load_rules()
    case = read_case(path, rules)
    bundle = bundle_from_case(case, rules)
    back = case_from_data(case_from_fhir(bundle, rules).data, rules, read_from_fhir=True)
    sent = tuple(s._replace(modifiers=(), defaulted=()) for s in case.services)
    assert back == case._replace(services=sent)

    def outcome(result: Any) -> list[Any]:
        return [
            (s.decision, s.action, [(r.criterion, r.status) for r in s.reasons])
            for s in result.services
        ]

    # The Bundle states every fact, defaults included: decide the case so written.
    stated = json.loads(path.read_text())
    for written, line in zip(stated["services"], case.services, strict=True):
        written.update({name: line.facts[name] for name in line.defaulted})
    expected = outcome(evaluate(stated, rules))
    assert outcome(evaluate(bundle, rules)) == expected


def mutated(change: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    bundle = copy.deepcopy(base or json.loads((FHIR / "order-sign-dli-answered.json").read_text()))
    change(bundle)
    return bundle


def resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def set_key(target: dict[str, Any], key: str, value: Any) -> None:
    target[key] = value


def _active_order_and_no_last_entry(bundle: dict[str, Any]) -> None:
    set_key(resource(bundle, "ServiceRequest"), "status", "completed")
    bundle["entry"].pop()


BAD: list[tuple[str, Any, str]] = [
    (
        "a number where FHIR wants a string",
        lambda b: set_key(resource(b, "ServiceRequest")["code"]["coding"][0], "system", 5),
        "<bundle>: Bundle.entry[0].resource.code.coding[0].system: must be a string",
    ),
    (
        "an element FHIR does not define, named by a patient's name",
        lambda b: set_key(resource(b, "Procedure"), SECRET.replace(" ", ""), SECRET),
        "<bundle>: Bundle.entry[5].resource: has an element FHIR R4 does not define here",
    ),
    (
        "a date that is no date",
        lambda b: set_key(resource(b, "ServiceRequest"), "occurrenceDateTime", SECRET),
        "<bundle>: Bundle.entry[0].resource.occurrenceDateTime: is not a valid value of its "
        "FHIR R4 type",
    ),
    (
        "an answer of the wrong type",
        lambda b: set_key(
            resource(b, "QuestionnaireResponse")["item"][0], "answer", [{"valueString": SECRET}]
        ),
        "<bundle>: Bundle.entry[6].resource.item[0].answer[0]: is not an answer of the type "
        "transplants[0].medically_necessary needs (valueBoolean)",
    ),
    (
        "an answer for a line the Bundle does not have",
        lambda b: resource(b, "QuestionnaireResponse")["item"].append(
            {"linkId": "services[3].date", "answer": [{"valueDate": "2026-01-01"}]}
        ),
        "<bundle>: Bundle.entry[6].resource.item[4]: answers for service line 3, which the "
        "Bundle does not have",
    ),
    (
        "no id to name the case by",
        lambda b: b.pop("id"),
        "<bundle>: Bundle.identifier: has no id or identifier to name the case by",
    ),
    (
        "no service line the rule file reads",
        lambda b: _active_order_and_no_last_entry(b),
        "<bundle>: Bundle: holds no service line that the rule file's FHIR sources read",
    ),
    (
        "a diagnosis that is not an ICD-10-CM code",
        lambda b: set_key(resource(b, "Condition")["code"]["coding"][0], "code", "C92.9X"),
        "<bundle>: Condition/cond-aml.code.coding: not a code in any ICD-10-CM release here "
        "(FY2021, FY2025, FY2026) (read as patient.diagnoses[1])",
    ),
    (
        "an order whose CPT code is not one",
        lambda b: set_key(resource(b, "ServiceRequest")["code"]["coding"][0], "code", "3824"),
        "<bundle>: ServiceRequest/dli-order-1.code.coding: not a CPT or HCPCS procedure code "
        "(e.g. 38242 or E0601) (read as services[0].code)",
    ),
]


@pytest.mark.parametrize(("change", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_bundles_name_the_element_never_the_value(change: Any, message: str) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(mutated(change), source="<bundle>")
    assert str(caught.value) == message
    assert SECRET not in str(caught.value) and SECRET.replace(" ", "") not in str(caught.value)


def test_a_rule_file_binding_must_name_a_source_of_its_entity(tmp_path: Path) -> None:
    text = (ROOT / "rules" / "cg-trans-03.yaml").read_text()
    broken = text.replace(
        "transplants: {path: [performedDateTime, performedPeriod.start]}",
        "surgeries: {path: [performedDateTime, performedPeriod.start]}",
    )
    assert broken != text
    path = tmp_path / "rules.yaml"
    path.write_text(broken)
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value).endswith(
        "case.lists.transplants.facts.date.fhir.surgeries: 'surgeries' is not a FHIR source of "
        "transplants (see its fhir)"
    )


def test_a_fhirpath_that_does_not_compile_is_the_rule_file_s_fault(tmp_path: Path) -> None:
    text = (ROOT / "rules" / "cg-trans-03.yaml").read_text()
    path = tmp_path / "rules.yaml"
    broken = "where: (status = 'draft' or status = 'active') and doNotPerform.where($this = true).empty()"
    assert broken in text
    path.write_text(text.replace(broken, "where: status = ("))
    with pytest.raises(DliCheckError) as caught:
        evaluate(FHIR / "order-sign-dli.json", load_rules(path))
    assert str(caught.value) == "the rule file's FHIRPath 'status = (' does not compile (KeyError)"


def test_batch_reads_directories_and_json_lines_of_bundles(tmp_path: Path) -> None:
    lines = tmp_path / "bundles.jsonl"
    lines.write_text("".join(json.dumps(json.loads(p.read_text())) + "\n" for p in EXAMPLES))
    for source in (FHIR, lines):
        result = runner.invoke(app, ["batch", str(source), "-q", "--detail", "decisions"])
        records = [json.loads(line) for line in result.stdout.splitlines()]
        decisions = {o[0]: o[1] for o in OUTCOMES}
        assert [r["decision"] for r in records] == [decisions[p.stem] for p in EXAMPLES]


def test_the_command_line_prints_questionnaires() -> None:
    result = runner.invoke(app, ["questionnaire"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == questionnaire(load_rules())
    result = runner.invoke(app, [str(FHIR / "pas-claim-dli.json"), "--format", "questionnaire"])
    assert result.exit_code == 0
    assert [i["linkId"] for i in json.loads(result.stdout)["item"]] == ASKED_PAS
    text = runner.invoke(app, [str(FHIR / "order-sign-dli-conflicting-indication.json")]).stdout
    assert (
        "   transplants[0].indication: unknown, the places disagree: Procedure/hct-1.reasonCode"
        ".coding; QuestionnaireResponse/qr-1 item transplants[0].indication" in text
    )


def test_plain_cases_do_not_load_fhir() -> None:
    """Start-up of a case-JSON run does not pay for the FHIR packages."""
    probe = (
        "import sys, dli_check\n"
        f"dli_check.evaluate({str(ROOT / 'examples/cases/dli-relapsed-aml.json')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fhir', 'fhirpathpy')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "[]\n")


def test_no_public_name_is_shadowed_by_a_module_of_the_same_name() -> None:
    """``from dli_check import questionnaire`` is the function even after every module
    loaded (a submodule of that name would replace it on the package)."""
    import importlib
    import types

    import dli_check

    for module in set(dli_check._PUBLIC.values()):
        importlib.import_module(module)
    for name in dli_check.__all__:
        assert not isinstance(getattr(dli_check, name), types.ModuleType), name


def _two_transplants(order: list[int], link_ids: list[str]) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((FHIR / "order-sign-dli-answered.json").read_text())
    entries = bundle["entry"]
    (first,) = [e for e in entries if e["resource"]["resourceType"] == "Procedure"]
    second = copy.deepcopy(first)
    second["resource"]["id"] = "hct-2"
    second["fullUrl"] = first["fullUrl"].replace("hct-1", "hct-2")
    second["resource"]["performedDateTime"] = "2024-01-10"
    procedures = [first, second]
    others = [e for e in entries if e["resource"]["resourceType"] != "Procedure"]
    response = others[-1]["resource"]
    response["item"] = [
        {"linkId": link_ids[0], "answer": [{"valueBoolean": False}]},
        {"linkId": link_ids[1], "answer": [{"valueBoolean": True}]},
    ]
    bundle["entry"] = others[:-1] + [procedures[i] for i in order] + others[-1:]
    return bundle


@pytest.mark.parametrize("order", [[0, 1], [1, 0]], ids=["as listed", "reordered"])
def test_answers_stay_with_the_record_they_name_whatever_the_order(order: list[int]) -> None:
    """A clinician's "no" about one transplant never becomes another's (by position)."""
    links = [
        "transplants[Procedure/hct-1].medically_necessary",
        "transplants[Procedure/hct-2].medically_necessary",
    ]
    read = case_from_fhir(_two_transplants(order, links), load_rules())
    by_procedure = {
        read.sources[f"transplants[{i}]"][0]: record.get("medically_necessary")
        for i, record in enumerate(read.data["transplants"])
    }
    assert by_procedure == {"Procedure/hct-1": False, "Procedure/hct-2": True}


def test_an_answer_by_position_about_a_record_a_resource_gave_is_not_used() -> None:
    links = [
        "transplants[0].medically_necessary",
        "transplants[Procedure/nowhere].medically_necessary",
    ]
    result = evaluate(_two_transplants([0, 1], links), load_rules())
    (line,) = result.services
    assert "transplants[0].medically_necessary" in line.missing or any(
        "transplants[0].medically_necessary" in r.missing for r in line.reasons
    )
    read = case_from_fhir(_two_transplants([0, 1], links), load_rules())
    assert [r.get("medically_necessary") for r in read.data["transplants"]] == [None, None]


def _answered() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((FHIR / "order-sign-dli-answered.json").read_text())
    return bundle


def _with_entry(resource: dict[str, Any]) -> dict[str, Any]:
    bundle = _answered()
    bundle["entry"].append({"resource": resource})
    return bundle


def _nested_extension(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "x"}
    for _ in range(depth):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    bundle = _answered()
    bundle["entry"][0]["resource"]["extension"] = [extension]
    return bundle


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: _with_entry(
                {"resourceType": "ActorDefinition", "id": "r5", "status": "active"}
            ),
            "Bundle.entry[{n}].resource.resourceType: is not a FHIR R4 resource type",
        ),
        (
            lambda: _with_entry({"resourceType": "Extension", "url": "http://x"}),
            "Bundle.entry[{n}].resource.resourceType: is not a FHIR R4 resource type",
        ),
        (
            lambda: _with_entry({"resourceType": 7}),
            "Bundle.entry[{n}].resource.resourceType: is not a FHIR R4 resource type",
        ),
        (
            lambda: _with_entry(
                {
                    "resourceType": "Patient",
                    "id": "p",
                    "contained": [{"resourceType": "Secret Type"}],
                }
            ),
            "Bundle.entry[{n}].resource.contained[0].resourceType: is not a FHIR R4 resource type",
        ),
        (
            lambda: _nested_extension(150),
            "Bundle.entry[0].resource.extension[0]"
            + ".extension[0]" * 29
            + ".extension: nested more than 64 levels deep",
        ),
    ],
    ids=["R5 only", "a data type", "not a string", "contained", "extensions 150 deep"],
)
def test_fhir_that_cannot_be_read_is_a_located_error(make: Any, message: str) -> None:
    bundle = make()
    with pytest.raises(CaseError) as caught:
        evaluate(bundle)
    n = len(bundle["entry"]) - 1
    assert str(caught.value) == "<case>: " + message.format(n=n)
    assert "ActorDefinition" not in str(caught.value) and "Secret" not in str(caught.value)


def test_a_resource_twice_with_other_content_is_refused_and_the_same_content_read_once() -> None:
    bundle = _answered()
    order = copy.deepcopy(bundle["entry"][0]["resource"])
    bundle["entry"].append({"resource": copy.deepcopy(order)})
    again = evaluate(bundle)
    assert [s.code for s in again.services] == ["38242"]
    order["code"]["coding"][0]["code"] = "38243"
    bundle["entry"].append({"resource": order})
    with pytest.raises(CaseError) as caught:
        evaluate(bundle)
    n = len(bundle["entry"]) - 1
    assert str(caught.value) == (
        f"<case>: Bundle.entry[{n}].resource.id: ServiceRequest/dli-order-1 appears twice, "
        "with different content"
    )


def test_an_order_no_service_routes_is_no_line() -> None:
    bundle = json.loads((FHIR / "order-sign-dli-answered.json").read_text())
    bundle["entry"].insert(1, {"resource": LAB_ORDER})
    result = evaluate(bundle)
    assert [(s.service, s.decision) for s in result.services] == [
        ("donor_lymphocyte_infusion", "medically_necessary")
    ]


def test_a_bundle_of_orders_no_service_routes_is_an_error_or_no_lines() -> None:
    from dli_check.api import decide_data

    bundle = json.loads((FHIR / "order-sign-dli-answered.json").read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "ServiceRequest":
            entry["resource"]["code"] = {"coding": [{"system": "http://loinc.org", "code": "1-8"}]}
    with pytest.raises(CaseError):
        evaluate(bundle)  # a reader asked for a decision: say there is nothing to decide
    result = decide_data(bundle, load_rules(), "request", allow_no_lines=True)
    assert (result.decision, result.services) == ("not_applicable", ())


BILLING_OPTIONS = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-billing-options"


def test_an_order_coded_only_in_ext_billing_options_is_routed() -> None:
    """The CRD guide's own pattern: a SNOMED CT order code, the CPT code in the
    ext-billing-options extension on it."""
    bundle = json.loads((FHIR / "order-sign-dli-answered.json").read_text())
    for entry in bundle["entry"]:
        order = entry["resource"]
        if order["resourceType"] == "ServiceRequest":
            order["code"] = {
                "extension": [
                    {
                        "url": BILLING_OPTIONS,
                        "valueCodeableConcept": {"coding": order["code"]["coding"]},
                    }
                ],
                "coding": [{"system": "http://snomed.info/sct", "code": "180325003"}],
            }
    result = evaluate(bundle)
    assert [(s.service, s.code, s.decision) for s in result.services] == [
        ("donor_lymphocyte_infusion", "38242", "medically_necessary")
    ]


@pytest.mark.parametrize(
    ("changes", "lines"),
    [
        ({"status": "draft"}, 1),
        ({"status": "active"}, 1),  # signed already: still an order to pre-screen
        ({"status": "completed"}, 0),
        ({"doNotPerform": True}, 0),  # an order not to be done is no line
        ({"doNotPerform": False}, 1),
    ],
)
def test_which_orders_are_lines(changes: dict[str, Any], lines: int) -> None:
    from dli_check.api import decide_data

    bundle = json.loads((FHIR / "order-sign-dli-answered.json").read_text())
    resource(bundle, "ServiceRequest").update(changes)
    result = decide_data(bundle, load_rules(), "request", allow_no_lines=True)
    assert len(result.services) == lines


PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
SNOMED = "http://snomed.info/sct"


@pytest.mark.requirement(
    "FHIR bindings",
    "A transplant coded in ICD-10-PCS counts by its qualifier, one coded in SNOMED CT with its type asked (rule-file bindings)",
)
@pytest.mark.parametrize(
    ("system", "code", "decision", "unsettled"),
    [
        ("http://www.ama-assn.org/go/cpt", "38240", "medically_necessary", []),
        (PCS, "30233Y2", "medically_necessary", []),  # allogeneic related stem cells
        (PCS, "30243G3", "medically_necessary", []),  # allogeneic unrelated marrow, central
        (PCS, "30233Y0", "not_medically_necessary", ["transplant-allogeneic"]),  # autologous
        (PCS, "30233H1", "insufficient_information", ["transplants"]),  # whole blood: none
        # SNOMED CT's hemopoietic stem cell transplant: a transplant whose type is asked
        (SNOMED, "234336002", "insufficient_information", ["transplants[0].type"]),
    ],
)
def test_a_transplant_coded_in_icd_10_pcs_or_snomed_ct_is_read(
    system: str, code: str, decision: str, unsettled: list[str]
) -> None:
    """What is not met, or, when the line is unknown, whether the transplant or its type
    is what is missing."""

    def recode(bundle: dict[str, Any]) -> None:
        resource(bundle, "Procedure")["code"] = {"coding": [{"system": system, "code": code}]}

    (line,) = evaluate(mutated(recode), source="<bundle>").services
    not_met = [r.criterion for r in line.reasons if r.status == "not_met"]
    missing = [m for m in line.missing if m.startswith("transplants")][:1]
    assert (line.decision, not_met or missing) == (decision, unsettled)
