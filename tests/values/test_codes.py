"""Code ranges follow ICD-10-CM tabular order and take in the descendants of both ends."""

from __future__ import annotations

import pytest

from dli_check.values.codes import IcdRange, ProcedureRange, procedure_system

RANGE_CASES = [
    # range, code, inside?
    ("C81.00-C81.99", "C81.00", True),  # first code
    ("C81.00-C81.99", "C81.99", True),  # last code
    ("C81.00-C81.99", "C81.0A", True),  # a letter code between the ends
    ("C81.00-C81.99", "C81.9A", False),  # in remission: sorts after C81.99
    ("C81.00-C81.99", "C81", False),  # heading whose subtree has C81.9A
    ("C81.00-C81.99", "C82.00", False),  # just after
    ("C84.00-C84.99", "C84.A0", True),  # letter subcategory before .9
    ("C84.00-C84.99", "C84.Z9", True),
    ("C84.00-C84.99", "C84.9A", False),
    ("C85.10-C85.99", "C85.10", True),
    ("C85.10-C85.99", "C85.1", True),  # heading: all its descendants lie inside
    ("C85.10-C85.99", "C85.9A", False),
    ("C86.0-C86.6", "C86.0", True),
    ("C86.0-C86.6", "C86.60", True),  # descendant of the end
    ("C86.0-C86.6", "C86.61", True),
    ("C86.0-C86.6", "C88.0", False),
    ("C88.0-C88.9", "C88.4", True),
    ("C90.00-C90.32", "C90.32", True),
    ("C90.00-C90.32", "C91.00", False),
    ("C91.00-C91.92", "C91.A0", True),
    ("C91.00-C91.92", "C91.Z2", True),
    ("C91.00-C91.92", "C90.32", False),  # just before
    ("C92.00-C92.92", "C92.A0", True),
    ("C92.00-C92.92", "C92.Z2", True),
    ("C92.00-C92.92", "C92.92", True),
    ("C92.00-C92.92", "C92.0", True),
    ("C92.00-C92.92", "C93.00", False),
    ("Z85.6-Z85.79", "Z85.6", True),
    ("Z85.6-Z85.79", "Z85.71", True),
    ("Z85.6-Z85.79", "Z85.79", True),
    ("Z85.6-Z85.79", "Z85.59", False),
    ("Z85.6-Z85.79", "Z85.810", False),
    ("Z94.81", "Z94.81", True),
    ("Z94.81", "Z94.84", False),
    ("C93-C96", "C96.Z", True),
    ("C93-C96", "C93.10", True),
    ("D45-D47", "D47.Z9", True),
    ("C92.00-C92.92", "c9202", True),  # any letter case, no dot
]


@pytest.mark.parametrize(("text", "code", "inside"), RANGE_CASES)
def test_icd_range_contains(text: str, code: str, inside: bool) -> None:
    assert IcdRange.parse(text).contains(code) is inside


def test_icd_range_keeps_its_printed_ends() -> None:
    r = IcdRange.parse("c9200-C92.92")
    assert (r.first, r.last, str(r)) == ("C92.00", "C92.92", "c9200-C92.92")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("C81.00-C81.99-C82.00", "is not an ICD-10-CM code or a range CODE-CODE"),
        ("C81.00-", "is not an ICD-10-CM code or a range CODE-CODE"),
        ("C8.100", "'C8.100' is not shaped like an ICD-10-CM code"),
        ("C81.00-C81.9Q", "C81.9Q is not a code in ICD-10-CM FY2026"),
        ("C92.92-C92.00", "ends before it starts in ICD-10-CM tabular order"),
    ],
)
def test_icd_range_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        IcdRange.parse(text)


@pytest.mark.parametrize(
    ("text", "code", "inside"),
    [
        ("38242", "38242", True),
        ("38242", "38243", False),
        ("38240-38243", "38241", True),
        ("E0601", "E0601", True),
        ("E0600-E0602", "E0601", True),
        ("E0600-E0602", "38241", False),
        ("0537T", "0537T", True),
    ],
)
def test_procedure_range_contains(text: str, code: str, inside: bool) -> None:
    assert ProcedureRange.parse(text).contains(code) is inside


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3824", "'3824' is not a CPT or HCPCS code"),
        ("38242-", "'' is not a CPT or HCPCS code"),
        ("3824X2", "'3824X2' is not a CPT or HCPCS code"),
        ("38243-38242", "range '38243-38242' ends before it starts"),
        ("1-2-3", "'1-2-3' is not a code or a range CODE-CODE"),
        ("38242-E0601", "range '38242-E0601' mixes CPT and HCPCS codes"),
        ("W0601", "'W0601' is not a CPT or HCPCS code"),
    ],
)
def test_procedure_range_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        ProcedureRange.parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("38242", "CPT"),
        ("0537T", "CPT"),
        ("3341F", "CPT"),
        ("E0601", "HCPCS"),
        ("J1100", "HCPCS"),
        ("e0601", None),
        ("38242 ", None),
        ("X1234", None),
        ("12345A", None),
    ],
)
def test_procedure_system(code: str, system: str | None) -> None:
    assert procedure_system(code) == system
