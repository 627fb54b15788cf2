"""The case section of a rule file: each way a declaration, or a rule that uses one, can
be wrong gives a RuleFileError at its file:line:column; and the operators that compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import DATA, mutate
from dli_check import RuleFileError, evaluate, load_rules

CPAP = (DATA / "cpap.yaml").read_text(encoding="utf-8")
AHI_CONDITION = "at_least: {fact: study.ahi, value: 15}"

# (name, text replaced, replacement, expected message after "FILE:")
ROWS = [
    (
        "a choice without its choices",
        "          type: date\n          description: The night of the study.",
        "          type: choice\n          description: The night of the study.",
        "33:17: case.lists.sleep_studies.facts.date.type: a choice fact needs its choices",
    ),
    (
        "an option that does not fit the type",
        "        ahi:\n          type: number",
        "        ahi:\n          type: choice",
        "39:17: case.lists.sleep_studies.facts.ahi.unit: unit does not apply to a choice fact",
    ),
    (
        "a code fact without its system",
        "          type: codes\n          system: ICD-10-CM\n",
        "          type: codes\n",
        "22:17: case.records.patient.facts.diagnoses.type: a codes fact needs its system",
    ),
    (
        "a default without its reason",
        "          label: the study's AHI\n",
        "          label: the study's AHI\n          default: 0\n",
        "45:20: case.lists.sleep_studies.facts.ahi.default: a default goes with its default_reason",
    ),
    (
        "a list item named like a record",
        "      item: study",
        "      item: patient",
        "28:13: case.lists.sleep_studies.item: 'patient' names something else already",
    ),
    (
        "a fact no declaration names",
        "{fact: study.ahi, value: 15}",
        "{fact: study.rdi, value: 15}",
        "88:36: services[0].criteria[1].condition.some.where.all[0].at_least.fact: unknown fact "
        "'study.rdi'; facts are: patient.diagnoses, service.date, study.ahi, study.date",
    ),
    (
        "a comparison of a date with a number",
        "{fact: study.ahi, value: 15}",
        "{fact: study.date, value: 15}",
        "88:36: services[0].criteria[1].condition.some.where.all[0].at_least.fact: at_least does "
        "not apply to 'study.date', a date fact",
    ),
    (
        "a quantifier over an undeclared list",
        "            of: sleep_studies",
        "            of: studies",
        "85:17: services[0].criteria[1].condition.some.of: no list named 'studies' (declared: "
        "sleep_studies)",
    ),
    (
        "a comparison with neither a value nor a fact",
        "{fact: study.ahi, value: 15}",
        "{fact: study.ahi}",
        "88:29: services[0].criteria[1].condition.some.where.all[0].at_least: give a number as "
        "value, or a fact as other (one of them)",
    ),
    (
        "a range that runs backwards",
        AHI_CONDITION,
        "between: {fact: study.ahi, min: 30, max: 15}",
        "88:28: services[0].criteria[1].condition.some.where.all[0].between: max is less than min",
    ),
    (
        "a CPT code in an HCPCS set",
        "{codes: E0601,",
        "{codes: '94660',",
        "65:17: code_sets.cpap_devices.codes[0].codes: '94660' is not a HCPCS code",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_declaration_error(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in CPAP
    path = tmp_path / "rules.yaml"
    path.write_text(CPAP.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value.problems[0]) == f"{path}:{expected}"


def test_a_service_is_judged_on_one_list(tmp_path: Path) -> None:
    text = CPAP.replace(
        "  service:\n",
        "    devices:\n      item: device\n      description: Devices.\n      question: Which?\n"
        "      facts:\n        kind: {type: identifier, description: Kind., question: Which kind?}\n"
        "  service:\n",
    ).replace(
        "          in_code_set: {fact: patient.diagnoses, code_set: obstructive_sleep_apnea}",
        "          all:\n            - {present: study.date}\n            - {present: device.kind}",
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value.problems[0]).endswith(
        "services[0].criteria[0].condition.all[1].present: a service is judged on the records "
        "of one list: 'device.kind' is of devices, and sleep_studies is named already"
    )


def test_codes_route_to_one_service_only(tmp_path: Path) -> None:
    service = CPAP[CPAP.index("  - id: cpap_device") :]
    text = CPAP + service.replace("id: cpap_device", "id: cpap_again")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert "services[1].code_set: codes E0601 also route to service 'cpap_device'" in str(
        caught.value.problems[0]
    )


CASE: dict[str, Any] = {
    "case_id": "N-1",
    "patient": {"diagnoses": ["G47.33"]},
    "sleep_studies": [{"date": "2025-01-05", "ahi": 20}],
    "services": [{"code": "E0601", "date": "2025-02-01"}],
}


@pytest.mark.parametrize(
    ("condition", "ahi", "status"),
    [
        ("at_most: {fact: study.ahi, value: 15}", 15, "met"),
        ("at_most: {fact: study.ahi, value: 15}", 15.5, "not_met"),
        ("greater_than: {fact: study.ahi, value: 15}", 15, "not_met"),
        ("greater_than: {fact: study.ahi, value: 15}", 16, "met"),
        ("less_than: {fact: study.ahi, value: 15}", 14.9, "met"),
        ("between: {fact: study.ahi, min: 5, max: 15}", 5, "met"),
        ("between: {fact: study.ahi, min: 5, max: 15}", 15, "met"),
        ("between: {fact: study.ahi, min: 5, max: 15}", 4, "not_met"),
        ("at_least: {fact: study.ahi, other: study.ahi}", 7, "met"),
        ("greater_than: {fact: study.ahi, other: study.ahi}", 7, "not_met"),
    ],
)
def test_numeric_comparisons(tmp_path: Path, condition: str, ahi: float, status: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(CPAP.replace(AHI_CONDITION, condition), encoding="utf-8")
    rules = load_rules(path)
    line = evaluate(mutate({"sleep_studies.0.ahi": ahi}, CASE), rules).services[0]
    assert line.reasons[1].status == status
