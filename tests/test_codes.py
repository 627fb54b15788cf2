"""Code ranges follow ICD-10-CM tabular order and take in the descendants of both ends."""

from __future__ import annotations

import pytest

from dli_check.codes import CptRange, IcdRange

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
    [("38242", "38242", True), ("38242", "38243", False), ("38240-38243", "38241", True)],
)
def test_cpt_range_contains(text: str, code: str, inside: bool) -> None:
    assert CptRange.parse(text).contains(code) is inside


@pytest.mark.parametrize("text", ["3824", "38242-", "3824X2", "38243-38242", "1-2-3"])
def test_cpt_range_errors(text: str) -> None:
    with pytest.raises(ValueError):
        CptRange.parse(text)
