"""The code systems a rule file may name, one row each: the shape of a code, the form it is
kept in, whether its codes have an order (so that a code set may list a range), and the
URIs FHIR names it by. ICD-10-CM's codes are checked against its releases
(`dli_check.values.icd10cm`); the others by their shape and, where the system has one,
their check digit.

>>> normal("NDC", "0002-1433-80"), normal("NDC", "00002143380")
('00002143380', '00002143380')
>>> normal("LOINC", "2345-7"), normal("SNOMED-CT", "234336002")
('2345-7', '234336002')
>>> normal("LOINC", "2345-6")
Traceback (most recent call last):
...
dli_check.values.systems.CodeProblem: not a LOINC code: its check digit is 7, not 6
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


class CodeProblem(ValueError):
    """A code that is not one of its system's; the message names the system, never the
    code (which is a case's content)."""


@dataclass(frozen=True)
class CodeSystem:
    """One code system: its name, what a code looks like, and how FHIR names it."""

    name: str
    example: str
    uris: tuple[str, ...]
    """The URIs it goes by on the wire, the canonical one first."""
    ordered: bool
    """Whether its codes have an order a range may follow (``38240-38243``)."""
    normal: Callable[[str], str]
    """The code in the form it is kept in, or `CodeProblem`."""


def _shaped(pattern: str, system: str, upper: bool = False) -> Callable[[str], str]:
    compiled = re.compile(pattern, re.ASCII)

    def normal(text: str) -> str:
        code = text.strip().upper() if upper else text.strip()
        if not compiled.fullmatch(code):
            raise CodeProblem(f"not a {system} code (e.g. {CODE_SYSTEMS[system].example})")
        return code

    return normal


_NDC_FORMS = {(4, 4, 2): 0, (5, 3, 2): 1, (5, 4, 1): 2, (5, 4, 2): None}
"""The hyphenated forms of an NDC, and which segment gains a leading 0 to make 5-4-2."""


def _ndc(text: str) -> str:
    """An NDC as its 11 digits (5-4-2, the form claims use): a 10-digit code only with its
    hyphens, which say where the 0 goes."""
    code = text.strip()
    parts = code.split("-")
    if len(parts) == 1 and re.fullmatch(r"[0-9]{11}", code, re.ASCII):
        return code
    shape = tuple(len(p) for p in parts)
    if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts) and shape in _NDC_FORMS:
        pad = _NDC_FORMS[shape]
        if pad is not None:
            parts[pad] = "0" + parts[pad]
        return "".join(parts)
    if re.fullmatch(r"[0-9]{10}", code, re.ASCII):
        raise CodeProblem(
            "not an NDC as given: a 10-digit NDC needs its hyphens (4-4-2, 5-3-2 or 5-4-1) "
            "to be read as 11 digits"
        )
    raise CodeProblem("not an NDC (11 digits, or hyphenated 4-4-2, 5-3-2, 5-4-1 or 5-4-2)")


def _luhn_digit(digits: str) -> int:
    """LOINC's check digit (the mod 10 algorithm): every other digit from the right,
    starting with the last, doubled; the digits summed."""
    total = 0
    for k, char in enumerate(reversed(digits)):
        n = int(char) * (2 if k % 2 == 0 else 1)
        total += n // 10 + n % 10
    return (10 - total % 10) % 10


def _loinc(text: str) -> str:
    code = text.strip()
    if not re.fullmatch(r"[1-9][0-9]{0,6}-[0-9]", code, re.ASCII):
        raise CodeProblem("not a LOINC code (e.g. 2345-7: digits, a hyphen, a check digit)")
    body, check = code.split("-")
    wanted = _luhn_digit(body)
    if wanted != int(check):
        raise CodeProblem(f"not a LOINC code: its check digit is {wanted}, not {check}")
    return code


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_STEP = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)
"""Verhoeff's permutation of a digit; the k-th position uses it k times."""
_VERHOEFF_P = [list(range(10))]
for _ in range(7):
    _VERHOEFF_P.append([_VERHOEFF_STEP[n] for n in _VERHOEFF_P[-1]])


def verhoeff_valid(digits: str) -> bool:
    """Whether a number ends in its Verhoeff check digit (as a SNOMED CT id does).

    >>> verhoeff_valid("73211009"), verhoeff_valid("73211008")
    (True, False)
    """
    check = 0
    for k, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[k % 8][int(char)]]
    return check == 0


def _snomed(text: str) -> str:
    code = text.strip()
    if not re.fullmatch(r"[1-9][0-9]{5,17}", code, re.ASCII):
        raise CodeProblem("not a SNOMED CT id (6 to 18 digits, e.g. 73211009)")
    if not verhoeff_valid(code):
        raise CodeProblem("not a SNOMED CT id: its check digit (Verhoeff) does not match")
    return code


_HCPCS_URIS = (
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
)

CODE_SYSTEMS: dict[str, CodeSystem] = {
    s.name: s
    for s in (
        CodeSystem("ICD-10-CM", "C92.00", ("http://hl7.org/fhir/sid/icd-10-cm",), True, str),
        # X12 may return CPT codes as HCPCS, under either spelling of the HCPCS URI.
        CodeSystem(
            "CPT",
            "38242",
            ("http://www.ama-assn.org/go/cpt", *_HCPCS_URIS),
            True,
            _shaped(r"[0-9]{4}[0-9FT]", "CPT"),
        ),
        CodeSystem("HCPCS", "E0601", _HCPCS_URIS, True, _shaped(r"[A-V][0-9]{4}", "HCPCS")),
        CodeSystem(
            "ICD-10-PCS",
            "30233N1",
            ("http://www.cms.gov/Medicare/Coding/ICD10",),
            True,
            _shaped(r"[0-9A-HJ-NP-Z]{7}", "ICD-10-PCS", upper=True),
        ),
        CodeSystem("NDC", "00002-1433-80", ("http://hl7.org/fhir/sid/ndc",), False, _ndc),
        CodeSystem(
            "RxNorm",
            "1191",
            ("http://www.nlm.nih.gov/research/umls/rxnorm",),
            False,
            _shaped(r"[1-9][0-9]{0,9}", "RxNorm"),
        ),
        CodeSystem("LOINC", "2345-7", ("http://loinc.org",), False, _loinc),
        CodeSystem("SNOMED-CT", "73211009", ("http://snomed.info/sct",), False, _snomed),
    )
}
"""Every code system, by the name rule files use."""


def normal(system: str, text: str) -> str:
    """A code of `system` in the form it is kept in; `CodeProblem` says what is wrong."""
    return CODE_SYSTEMS[system].normal(text)
