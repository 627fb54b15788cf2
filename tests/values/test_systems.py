"""The code systems beyond ICD-10-CM: each code's shape, its normal form (an NDC as 11
digits), its check digit (LOINC's mod 10, SNOMED CT's Verhoeff), and errors that name the
system, never the code."""

from __future__ import annotations

import pytest

from dli_check.inputs.fhir import SYSTEM_URIS
from dli_check.values.codes import ProcedureRange
from dli_check.values.systems import CODE_SYSTEMS, CodeProblem, normal, verhoeff_valid


@pytest.mark.parametrize(
    ("system", "written", "kept"),
    [
        ("NDC", "00002-1433-80", "00002143380"),  # 5-4-2
        ("NDC", "0002-1433-80", "00002143380"),  # 4-4-2
        ("NDC", "50090-347-01", "50090034701"),  # 5-3-2
        ("NDC", "12345-6789-1", "12345678901"),  # 5-4-1
        ("NDC", "00002143380", "00002143380"),
        ("NDC", " 00002-1433-80 ", "00002143380"),
        ("RxNorm", "1191", "1191"),
        ("LOINC", "2345-7", "2345-7"),
        ("LOINC", "2160-0", "2160-0"),
        ("LOINC", "94500-6", "94500-6"),
        ("SNOMED-CT", "73211009", "73211009"),
        ("SNOMED-CT", "234336002", "234336002"),
        ("ICD-10-PCS", "30233n1", "30233N1"),
        ("CPT", "38242", "38242"),
        ("HCPCS", "J3590", "J3590"),
    ],
)
def test_codes_are_kept_in_their_normal_form(system: str, written: str, kept: str) -> None:
    assert normal(system, written) == kept


@pytest.mark.parametrize(
    ("system", "written", "message"),
    [
        (
            "NDC",
            "0002143380",
            "not an NDC as given: a 10-digit NDC needs its hyphens (4-4-2, 5-3-2 or 5-4-1) "
            "to be read as 11 digits",
        ),
        (
            "NDC",
            "00002-143-3",
            "not an NDC (11 digits, or hyphenated 4-4-2, 5-3-2, 5-4-1 or 5-4-2)",
        ),
        (
            "NDC",
            "\uff100002143380",  # a full-width digit
            "not an NDC (11 digits, or hyphenated 4-4-2, 5-3-2, 5-4-1 or 5-4-2)",
        ),
        ("RxNorm", "01191", "not a RxNorm code (e.g. 1191)"),
        ("LOINC", "2345-6", "not a LOINC code: its check digit is 7, not 6"),
        ("LOINC", "2345", "not a LOINC code (e.g. 2345-7: digits, a hyphen, a check digit)"),
        ("SNOMED-CT", "73211008", "not a SNOMED CT id: its check digit (Verhoeff) does not match"),
        ("SNOMED-CT", "12345", "not a SNOMED CT id (6 to 18 digits, e.g. 73211009)"),
        ("ICD-10-PCS", "30233I1", "not a ICD-10-PCS code (e.g. 30233N1)"),  # no I or O in PCS
        ("ICD-10-PCS", "30233N", "not a ICD-10-PCS code (e.g. 30233N1)"),
    ],
)
def test_bad_codes_name_the_system_not_the_code(system: str, written: str, message: str) -> None:
    with pytest.raises(CodeProblem) as caught:
        normal(system, written)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("73211009", True), ("73211008", False), ("404684003", True), ("404684004", False)],
)
def test_verhoeff(digits: str, valid: bool) -> None:
    assert verhoeff_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "system", "code", "inside"),
    [
        ("30233N1-30233N9", "ICD-10-PCS", "30233N5", True),
        ("30233N1-30233N9", "ICD-10-PCS", "30233P1", False),
        ("0002-1433-80", "NDC", "00002143380", True),
        ("2345-7", "LOINC", "2345-7", True),
    ],
)
def test_code_set_entries_of_each_system(text: str, system: str, code: str, inside: bool) -> None:
    assert ProcedureRange.parse(text, system).contains(code) is inside


@pytest.mark.parametrize(
    ("text", "system", "message"),
    [
        ("00002143380-00002143399", "NDC", "is not an NDC"),
        ("1191-1200", "RxNorm", "is not a RxNorm code"),
        ("30233N9-30233N1", "ICD-10-PCS", "range '30233N9-30233N1' ends before it starts"),
    ],
)
def test_ranges_only_where_the_system_has_an_order(text: str, system: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProcedureRange.parse(text, system)


def test_every_system_has_its_fhir_uri() -> None:
    assert {name: uris[0] for name, uris in SYSTEM_URIS.items()} == {
        "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
        "CPT": "http://www.ama-assn.org/go/cpt",
        "HCPCS": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "ICD-10-PCS": "http://www.cms.gov/Medicare/Coding/ICD10",
        "NDC": "http://hl7.org/fhir/sid/ndc",
        "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
        "LOINC": "http://loinc.org",
        "SNOMED-CT": "http://snomed.info/sct",
    }
    assert set(CODE_SYSTEMS) == set(SYSTEM_URIS)
