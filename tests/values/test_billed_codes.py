"""Procedure codes as billed: trimmed, upper-cased, modifiers split off; and what a code
that still fails says, never repeating the value."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import mutate
from dli_check import CaseError, evaluate
from dli_check.values.case import ValueProblem, billed_code, modifier

BILLED: list[tuple[Any, tuple[str, tuple[str, ...]] | str]] = [
    ("38242", ("38242", ())),
    (" 38242 ", ("38242", ())),
    ("38242-59", ("38242", ("59",))),
    ("38242 59", ("38242", ("59",))),
    ("38242 - 59", ("38242", ("59",))),
    ("38242-59-XS", ("38242", ("59", "XS"))),
    ("38242-xs", ("38242", ("XS",))),
    ("j9999", ("J9999", ())),
    ("0001f", ("0001F", ())),
    ("38242-59-XS-76-77", ("38242", ("59", "XS", "76", "77"))),
    ("38242-59-XS-76-77-78", "has more than 4 modifiers"),
    ("38242-5", "its modifier 1 must be two letters or digits (e.g. 38242-59)"),
    ("38242-59-X", "its modifier 2 must be two letters or digits (e.g. 38242-59)"),
    ("38242--", "its modifier 1 must be two letters or digits (e.g. 38242-59)"),
    ("38242\n59", "not a CPT or HCPCS procedure code (e.g. 38242 or E0601)"),
    ("3824259", "not a CPT or HCPCS procedure code (e.g. 38242 or E0601)"),
    ("38242\u00a059", "not a CPT or HCPCS procedure code (e.g. 38242 or E0601)"),
    ("", "not a CPT or HCPCS procedure code (e.g. 38242 or E0601)"),
    (38242, "must be a string"),
]


@pytest.mark.parametrize(("value", "expected"), BILLED)
def test_billed_codes(value: Any, expected: tuple[str, tuple[str, ...]] | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueProblem) as caught:
            billed_code(value)
        assert str(caught.value) == expected
    else:
        assert billed_code(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("59", "59"), (" xs", "XS"), ("5", None), ("595", None), ("5\u00a0", None), (59, None)],
)
def test_modifiers(value: Any, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueProblem):
            modifier(value)
    else:
        assert modifier(value) == expected


NOTE_59 = (
    "38242 was billed with modifier 59; a modifier does not change how CG-TRANS-03 reads the line"
)


@pytest.mark.parametrize(
    ("line", "code", "notes"),
    [
        ({"code": "38242"}, "38242", ()),
        ({"code": "38242-59"}, "38242", (NOTE_59,)),
        ({"code": "38242", "modifiers": ["59"]}, "38242", (NOTE_59,)),
        ({"code": "38242-59", "modifiers": ["59"]}, "38242", (NOTE_59,)),
        (
            {"code": "38242 59", "modifiers": ["xs"]},
            "38242",
            (
                "38242 was billed with modifiers 59, XS; a modifier does not change how "
                "CG-TRANS-03 reads the line",
            ),
        ),
    ],
)
def test_a_billed_code_is_decided_as_usual(
    line: dict[str, Any], code: str, notes: tuple[str, ...]
) -> None:
    case = mutate({"services": [{**line, "lymphocyte_donor_id": "D-1"}]})
    result = evaluate(case).services[0]
    assert (result.code, result.decision, result.notes) == (code, "medically_necessary", notes)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"code": "38242-5"},
            "<case>: services[0].code: its modifier 1 must be two letters or digits (e.g. 38242-59)",
        ),
        (
            {"code": "38242", "modifiers": ["5"]},
            "<case>: services[0].modifiers[0]: a modifier must be two letters or digits (e.g. 59)",
        ),
        (
            {"code": "38242", "modifiers": ["59", "XS", "76", "77", "78"]},
            "<case>: services[0].modifiers: must have at most 4 items",
        ),
    ],
)
def test_a_code_that_still_fails_says_why(line: dict[str, Any], message: str) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(mutate({"services": [{**line, "lymphocyte_donor_id": "D-1"}]}))
    assert str(caught.value) == message
