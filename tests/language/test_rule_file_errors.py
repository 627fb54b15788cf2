"""Every kind of bad rule file gives a RuleFileError naming file, line, column and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA
from dli_check import RuleFileError, load_rules

VALID = (DATA / "made-up-guideline.yaml").read_text(encoding="utf-8")

# (name, text replaced, replacement, expected message after "FILE:")
ROWS = [
    (
        "unknown key",
        "    title: Booster infusion\n",
        "    title: Booster infusion\n    colour: red\n",
        "29:5: services[0].colour: is not a known field",
    ),
    (
        "unknown operator",
        "{before: {fact: transplant.date",
        "{earlier: {fact: transplant.date",
        "38:20: services[0].criteria[1].condition: unknown operator 'earlier'; operators are: all, any, not, equals, at_least_of, one_of, is_true, present, stated, in_code_set, same_as, before, after, on_or_before, on_or_after, within, duration, age, at_least, at_most, greater_than, less_than, between, some, none, every, count, other_line, use, constant",
    ),
    (
        "two operators in one condition",
        "condition: {present: transplant.indication}",
        "condition: {present: transplant.indication, constant: true}",
        "46:20: services[0].criteria[3].condition: a condition is a mapping with exactly one operator (all, any, not, equals, at_least_of, one_of, is_true, present, stated, in_code_set, same_as, before, after, on_or_before, on_or_after, within, duration, age, at_least, at_most, greater_than, less_than, between, some, none, every, count, other_line, use, constant)",
    ),
    (
        "unknown fact",
        "{present: transplant.indication}",
        "{present: transplant.indicaton}",
        "46:30: services[0].criteria[3].condition.present: unknown fact 'transplant.indicaton'; facts are: patient.diagnoses, service.date, transplant.date, transplant.indication, transplant.medically_necessary, transplant.type",
    ),
    (
        "undefined code set",
        "code_set: booster_diagnoses}",
        "code_set: boster_diagnoses}",
        "42:70: services[0].criteria[2].condition.in_code_set.code_set: no code set named 'boster_diagnoses' (defined: booster_diagnoses, booster_procedures)",
    ),
    (
        "undefined procedure code set",
        "code_set: booster_procedures",
        "code_set: booster_diagnoses",
        "29:15: services[0].code_set: no CPT or HCPCS code set named 'booster_diagnoses' (defined: booster_procedures)",
    ),
    (
        "a routing code set without a citation",
        '    citation: {section: Coding, quote: "CPT"}\n',
        "",
        "28:15: services[0].code_set: routes lines, so its code set quotes where the guideline "
        "prints it (citation)",
    ),
    (
        "expected codes beside routing codes",
        "    code_set: booster_procedures\n",
        "    code_set: booster_procedures\n    expected_codes: {code_set: booster_procedures, "
        "note: usual codes}\n",
        "30:21: services[0].expected_codes: is for a service the guideline lists no code for "
        "(code_set: null)",
    ),
    (
        "expected codes of no code set",
        "    code_set: booster_procedures\n",
        "    code_set: null\n    expected_codes: {code_set: booster_codes, note: usual codes}\n",
        "30:32: services[0].expected_codes.code_set: no CPT or HCPCS code set named "
        "'booster_codes' (defined: booster_procedures)",
    ),
    (
        "a record choice without its order",
        "    code_set: booster_procedures\n",
        "    code_set: booster_procedures\n    record_choice: {name: the one, explanation: it, "
        "among: {present: transplant.date}}\n",
        "30:20: services[0].record_choice: among and latest_by go together",
    ),
    (
        "a record choice ordered by a fact that is not a date of the list",
        "    code_set: booster_procedures\n",
        "    code_set: booster_procedures\n    record_choice: {name: the one, explanation: it, "
        "among: {present: transplant.date}, latest_by: transplant.type}\n",
        "30:99: services[0].record_choice.latest_by: must be a date fact of the list's records",
    ),
    (
        "other_line naming no service",
        "condition: {present: transplant.indication}",
        "condition: {other_line: {service: boost, where: {present: other.date}, note: n}}",
        "46:43: services[0].criteria[3].condition.other_line.service: no service named 'boost' "
        "(services: booster_infusion)",
    ),
    (
        "another line's fact outside other_line",
        "condition: {present: transplant.indication}",
        "condition: {present: other.date}",
        "46:30: services[0].criteria[3].condition.present: 'other.date': other.* facts are "
        "another line's, in an other_line condition",
    ),
    (
        "a list's fact in other_line",
        "condition: {present: transplant.indication}",
        "condition: {other_line: {service: booster_infusion, where: {present: transplant.date}, "
        "note: n}}",
        "46:78: services[0].criteria[3].condition.other_line.where.present: 'transplant.date': "
        "an other_line condition reads lines, not transplants's records",
    ),
    (
        "malformed code range",
        "C90.00-C90.02",
        "C90.00-C90.0Q",
        "16:17: code_sets.booster_diagnoses.codes[0].codes: C90.0Q is not a code in ICD-10-CM FY2026 (April 1, 2026 update)",
    ),
    (
        "range that runs backwards",
        "C90.00-C90.02",
        "C90.02-C90.00",
        "16:17: code_sets.booster_diagnoses.codes[0].codes: range 'C90.02-C90.00' ends before it starts in ICD-10-CM tabular order",
    ),
    (
        "unquoted CPT code",
        "{codes: 38240-38241,",
        "{codes: 38240,",
        "25:17: code_sets.booster_procedures.codes[0].codes: a code or range must be a quoted string, e.g. '38242'",
    ),
    (
        "criterion without a citation",
        '        citation: {section: Indications, quote: "documented"}\n',
        "",
        "43:9: services[0].criteria[3].citation: is required but missing",
    ),
    (
        "empty quote",
        'quote: "documented"',
        'quote: ""',
        "45:49: services[0].criteria[3].citation.quote: must not be empty",
    ),
    (
        "value the fact cannot take",
        "values: [autologous, syngeneic]",
        "values: [autologous, syngenic]",
        "34:74: services[0].criteria[0].condition.one_of.values[1]: 'syngenic' is not a value of 'transplant.type' (one of: allogeneic, autologous, syngeneic)",
    ),
    (
        "operator that does not suit the fact",
        "{before: {fact: transplant.date, other: service.date}}",
        "{before: {fact: transplant.type, other: service.date}}",
        "38:36: services[0].criteria[1].condition.before.fact: before does not apply to 'transplant.type', a choice fact",
    ),
    (
        "unknown decision",
        "decision: not_medically_necessary",
        "decision: denied",
        "51:17: services[0].otherwise.decision: must be one of: 'medically_necessary', 'not_medically_necessary'",
    ),
    (
        "unknown code system",
        "system: CPT",
        "system: MedDRA",
        "21:5: code_sets.booster_procedures: system must be one of: ICD-10-CM, CPT, HCPCS, "
        "ICD-10-PCS, NDC, RxNorm, LOINC, SNOMED-CT",
    ),
    (
        "duplicate key",
        "    title: Booster infusion\n",
        "    title: Booster infusion\n    title: Again\n",
        "29:5: duplicate key 'title'",
    ),
    (
        "duplicate criterion id",
        "- id: myeloma",
        "- id: autologous",
        "39:13: services[0].criteria[2].id: criterion 'autologous' is defined twice",
    ),
    (
        "bad YAML",
        "  id: TEST-BOOST-01\n",
        "  id: [TEST-BOOST-01\n",
        "5:8: YAML: did not find expected ',' or ']'",
    ),
    (
        "python object tag",
        "status: New",
        "status: !!python/object/apply:os.system [echo]",
        "8:11: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    (
        "wrong format version",
        "rules_format: 2",
        "rules_format: 1",
        "2:15: rules_format: rules_format 1 is no longer read: a rule file now declares its case (rules_format: 2, with a case section; see the README)",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_rule_file_error(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in VALID
    path = tmp_path / "rules.yaml"
    path.write_text(VALID.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value.problems[0]) == f"{path}:{expected}"
    assert "\n" not in str(caught.value)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        VALID.replace("transplant.indication}", "nope}")
        .replace("colour", "x")
        .replace("decision: medically_necessary", "decision: fine"),
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert [(p.line, p.column) for p in caught.value.problems] == [(46, 30), (48, 17)]
    assert str(caught.value).endswith("(and 1 more problem)")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "1:1: the rule file is empty"),
        (b"- a list\n", "1:1: must be an object"),
        (b"\xff\xfe", "1:1: not UTF-8 (byte 0)"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n".encode()
                for i in range(8)
            ),
            "too many YAML nodes (aliases expanding?)",
        ),
    ],
    ids=["empty", "not a mapping", "not UTF-8", "billion laughs"],
)
def test_unusable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content)
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="cannot read: No such file or directory"):
        load_rules(tmp_path / "absent.yaml")


def test_every_declaration_problem_is_reported(tmp_path: Path) -> None:
    """Declarations that cannot work are all reported at once, each at its place."""
    text = (DATA / "made-up-guideline.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "date: {type: date, description: The date., question: When?}",
        "date: {type: date, unit: days, description: The date., question: When?}",
    ).replace(
        "medically_necessary: {type: boolean, description: Needed., question: Was it needed?}",
        "medically_necessary: {type: boolean, choices: [a], description: Needed., question: Was it needed?}",
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert [p.message for p in caught.value.problems] == [
        "unit does not apply to a date fact",
        "choices does not apply to a boolean fact",
    ]
