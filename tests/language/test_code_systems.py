"""Code sets and code facts of every system beyond ICD-10-CM: NDC, RxNorm, LOINC, SNOMED
CT and ICD-10-PCS (and CPT or HCPCS tested by a criterion), with notes naming the entry
that lists a code, and errors that name the system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from made_up_rules import loaded, refused, rule_file

from dli_check import CaseError, evaluate

RULES = rule_file(
    "TEST-SYSTEMS-01",
    "Code systems",
    """\
      - id: drug
        explanation: The drug dispensed is adalimumab.
        citation: {section: Criteria, quote: "adalimumab"}
        condition: {in_code_set: {fact: patient.ndc, code_set: adalimumab_ndcs}}
      - id: ingredient
        explanation: The ingredient is listed.
        citation: {section: Criteria, quote: "ingredient"}
        condition: {in_code_set: {fact: patient.ingredients, code_set: ingredients}}
      - id: test
        explanation: A TB test.
        citation: {section: Criteria, quote: "TB test"}
        condition: {in_code_set: {fact: patient.test, code_set: tb_tests}}
      - id: finding
        explanation: A finding of psoriasis.
        citation: {section: Criteria, quote: "psoriasis"}
        condition: {in_code_set: {fact: patient.finding, code_set: psoriasis}}
      - id: procedure
        explanation: A transfusion procedure.
        citation: {section: Criteria, quote: "transfusion"}
        condition: {in_code_set: {fact: patient.procedure, code_set: transfusions}}
""",
    """\
case:
  records:
    patient:
      description: The patient.
      facts:
        ndc: {type: code, system: NDC, description: NDC., question: Which NDC?}
        ingredients: {type: codes, system: RxNorm, description: Ingredients., question: Which ingredients?}
        test: {type: code, system: LOINC, description: Test., question: Which test?}
        finding: {type: code, system: SNOMED-CT, description: Finding., question: Which finding?}
        procedure: {type: code, system: ICD-10-PCS, description: Procedure., question: Which procedure?}
""",
    code_sets="""\
  adalimumab_ndcs:
    system: NDC
    title: Adalimumab packages
    codes:
      - {codes: "0074-0554-02", description: Made-up package one}
      - {codes: "00074433902", description: Made-up package two}
  ingredients:
    system: RxNorm
    title: Listed ingredients
    codes:
      - {codes: "327361", description: adalimumab}
  tb_tests:
    system: LOINC
    title: TB tests
    codes:
      - {codes: "71773-6", description: A made-up name for a TB test}
  psoriasis:
    system: SNOMED-CT
    title: Psoriasis findings
    codes:
      - {codes: "9014002", description: Psoriasis}
  transfusions:
    system: ICD-10-PCS
    title: Transfusions
    codes:
      - {codes: "30233N1-30233N9", description: Made-up transfusion range}
""",
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _reason(rules: Any, criterion: str, **patient: Any) -> Any:
    case = {"case_id": "S-1", "patient": patient, "services": [{"code": "J3590"}]}
    (result,) = evaluate(case, rules).services
    return next(r for r in result.reasons if r.criterion == criterion)


@pytest.mark.parametrize(
    ("criterion", "patient", "status", "notes"),
    [
        (
            "drug",
            {"ndc": "00074-0554-02"},
            "met",
            ("00074055402 is listed: 0074-0554-02 Made-up package one",),
        ),
        (  # a 4-4-2 form, read as the 11 digits the set keeps
            "drug",
            {"ndc": "0074-4339-02"},
            "met",
            ("00074433902 is listed: 00074433902 Made-up package two",),
        ),
        (
            "drug",
            {"ndc": "00074-9999-02"},
            "not_met",
            ("00074999902 is not in Adalimumab packages",),
        ),
        (
            "ingredient",
            {"ingredients": ["1191", "327361"]},
            "met",
            ("327361 is listed: 327361 adalimumab",),
        ),
        (
            "ingredient",
            {"ingredients": ["1191"]},
            "not_met",
            ("1191 is not in Listed ingredients",),
        ),
        (
            "test",
            {"test": "71773-6"},
            "met",
            ("71773-6 is listed: 71773-6 A made-up name for a TB test",),
        ),
        ("finding", {"finding": "9014002"}, "met", ("9014002 is listed: 9014002 Psoriasis",)),
        (
            "procedure",
            {"procedure": "30233n5"},
            "met",
            ("30233N5 is listed: 30233N1-30233N9 Made-up transfusion range",),
        ),
        ("procedure", {}, "unknown", ()),
    ],
)
def test_code_sets_of_each_system(
    rules: Any, criterion: str, patient: dict[str, Any], status: str, notes: tuple[str, ...]
) -> None:
    reason = _reason(rules, criterion, **patient)
    assert (reason.status, reason.notes) == (status, notes)


@pytest.mark.parametrize(
    ("patient", "message"),
    [
        (
            {"ndc": "0074055402"},
            "patient.ndc: not an NDC as given: a 10-digit NDC needs its hyphens",
        ),
        ({"test": "71773-5"}, "patient.test: not a LOINC code: its check digit is 6, not 5"),
        ({"finding": "9014003"}, "patient.finding: not a SNOMED CT id: its check digit"),
        ({"procedure": "30233I1"}, "patient.procedure: not a ICD-10-PCS code (e.g. 30233N1)"),
    ],
)
def test_a_case_code_of_the_wrong_shape_names_the_system(
    rules: Any, patient: dict[str, Any], message: str
) -> None:
    case = {"case_id": "S-2", "patient": patient, "services": [{"code": "J3590"}]}
    with pytest.raises(CaseError) as caught:
        evaluate(case, rules)
    assert message in str(caught.value)
    assert next(iter(patient.values())) not in str(caught.value)  # the case's content is not echoed


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '{codes: "71773-6", description',
            '{codes: "71773-5", description',
            "code_sets.tb_tests.codes[0].codes: '71773-5' is not a LOINC code: its check digit "
            "is 6, not 5",
        ),
        (
            '{codes: "327361", description',
            '{codes: "327361-327370", description',
            "code_sets.ingredients.codes[0].codes: '327361-327370' is not a RxNorm code",
        ),
        (
            "{in_code_set: {fact: patient.test, code_set: tb_tests}}",
            "{in_code_set: {fact: patient.test, code_set: psoriasis}}",
            "in_code_set.code_set: 'patient.test' holds LOINC codes, and 'psoriasis' is a "
            "SNOMED-CT code set",
        ),
        (
            "code_set: drug_codes\n",
            "code_set: tb_tests\n",
            "services[0].code_set: no CPT or HCPCS code set named 'tb_tests'",
        ),
    ],
)
def test_rule_file_errors_name_the_system(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in RULES
    assert message in refused(RULES.replace(old, new), tmp_path)
