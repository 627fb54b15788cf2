"""What every case is, whatever the guideline: a ``case_id`` and the ``services`` requested,
each line decided on its own. Everything else a case holds is declared by the rule file
(see `case_format`); a validated case keeps it as plain data.

This module also holds the checks of single values that every case format shares: an
identifier that is not blank, an ISO date, an ICD-10-CM code, a procedure code.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, NamedTuple

from dli_check.values.codes import procedure_system
from dli_check.values.icd10cm import dotted, in_any_release, releases, undotted
from dli_check.values.systems import CodeProblem, normal

MAX_ITEMS = 1000
"""At most this many codes in a list, or service lines, in a case (claims carry far fewer)."""
MAX_TEXT = 256
"""At most this many characters in an identifier."""

PLACEHOLDERS = frozenset(
    ["na", "none", "null", "nil", "unknown", "unk", "notknown", "notavailable", "tbd"]
)
"""Words that systems write where they have no identifier, read as absent rather than as
an id: compared after `identifier_key` (``n / a`` and ``N.A.`` read ``na``)."""

_IGNORABLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
"""Hangul fillers: letters to Unicode, blank to a reader."""
_ASCII_NOT_ALNUM = {c: None for c in range(128) if not chr(c).isalnum()}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ASCII_INVISIBLE = "".join(map(chr, range(0x21))) + "\x7f"


class Line(NamedTuple):
    """One requested service line: the service it names and its procedure code (either may
    be absent, not both), the facts the rule file declares for a line, and the code's
    modifiers as billed (``38242-59``: ``("59",)``)."""

    service: str | None
    code: str | None
    facts: Mapping[str, Any]
    modifiers: tuple[str, ...] = ()
    defaulted: tuple[str, ...] = ()
    """The facts the line holds by their declared default, not because the case gave them."""


class Case(NamedTuple):
    """A validated case. `records` holds each declared record (None when absent), `lists`
    each declared list (empty when absent), both with normalised values: dates as
    `datetime.date`, codes in their printed form, absent facts as None or their default."""

    case_id: str
    records: Mapping[str, Mapping[str, Any] | None]
    lists: Mapping[str, tuple[Mapping[str, Any], ...]]
    services: tuple[Line, ...]
    given: frozenset[str] = frozenset()
    """The lists declared ``complete_when_given`` that the case gives (empty or not)."""
    doubts: tuple[str, ...] = ()
    """What declared checks (``failing: unknown``) set aside, said on every line."""


class ValueProblem(ValueError):
    """A value that breaks its type; the message never repeats the value."""


def _blank(text: str) -> bool:
    # Blank: nothing but white space, format characters (zero-width space, joiners, BOM)
    # and controls. ASCII, the usual case, is answered without looking at each character.
    if text.isascii():
        return not text.strip(ASCII_INVISIBLE)
    return all(c.isspace() or unicodedata.category(c) in ("Cf", "Cc") for c in text)


def identifier(value: object) -> str:
    """A string that is not empty, not blank and at most `MAX_TEXT` characters."""
    if type(value) is not str:
        raise ValueProblem("must be a string")
    if not value:
        raise ValueProblem("must not be empty")
    if len(value) > MAX_TEXT:
        raise ValueProblem(f"must be at most {MAX_TEXT} characters")
    if _blank(value):
        raise ValueProblem("must not be blank")
    return value


def identifier_key(value: str) -> str:
    """The letters and digits of an identifier, case folded (NFKC; Hangul fillers are
    not letters here).

    >>> identifier_key(" n / A ")
    'na'
    >>> identifier_key("\u3164")
    ''
    """
    if value.isascii():
        return value.lower().translate(_ASCII_NOT_ALNUM)
    text = unicodedata.normalize("NFKC", value).casefold()
    return "".join(c for c in text if c.isalnum() and c not in _IGNORABLE_LETTERS)


_REGISTRY_PREFIX = re.compile(r"\s*([A-Za-z]{2,12})\s*:\s*")
"""A registry's prefix written before an id: ``NMDP:``, ``BMDW: ``."""


def loosely_same(first: str, other: str) -> str | None:
    """Whether two identifiers differ only in writing: the same letters and digits once
    punctuation, white space and a leading registry prefix (``NAME:``) are left out, and
    the prefix, if both have one, the same. Returns the note that says what was ignored,
    or None when they are different identifiers.

    >>> loosely_same("1234-5678-9", "123456789")
    '1234-5678-9 and 123456789 match once hyphens are ignored'
    >>> loosely_same("NMDP:1234 5678", "12345678")
    'NMDP:1234 5678 and 12345678 match once the registry prefix NMDP: and spaces are ignored'
    >>> print(loosely_same("NMDP:1234", "BMDW:1234"), loosely_same("D-1", "D-2"))
    None None
    """
    matches = [_REGISTRY_PREFIX.match(text) for text in (first, other)]
    prefixes = {m.group(1).casefold() for m in matches if m}
    if len(prefixes) > 1:
        return None  # two registries' numbers
    rests = [
        text[m.end() :] if m else text for text, m in zip((first, other), matches, strict=True)
    ]
    key = identifier_key(rests[0])
    if not key or key != identifier_key(rests[1]):
        return None
    removed = {c for rest in rests for c in unicodedata.normalize("NFKC", rest) if not c.isalnum()}
    named = next((m.group(1) for m in matches if m), None)
    ignored = [] if named is None else [f"the registry prefix {named}:"]
    kinds = (("hyphens", {"-", "\u2010", "\u2011", "\u2012", "\u2013"}), ("spaces", None))
    for word, chars in kinds:
        found = {c for c in removed if c.isspace()} if chars is None else removed & chars
        if found:
            ignored.append(word)
            removed -= found
    if removed:
        ignored.append("other punctuation")
    if not ignored:
        return None  # they differ in letter case or width only: the same as people read them
    said = ignored[0] if len(ignored) == 1 else ", ".join(ignored[:-1]) + " and " + ignored[-1]
    verb = "is" if len(ignored) == 1 and ignored[0] not in ("hyphens", "spaces") else "are"
    return f"{first} and {other} match once {said} {verb} ignored"


def is_placeholder(value: str) -> bool:
    """Whether an identifier stands for none: it has no letter or digit (``--``, ``??``),
    or it is a placeholder word (``N/A``, `` unknown ``, ``n / a``)."""
    key = identifier_key(value)
    return not key or key in PLACEHOLDERS


_KNOWN_DATES: dict[str, dt.date] = {}
_KNOWN_CODES: dict[str, str] = {}
_KNOWN_LIMIT = 65536
"""Values checked once and remembered: dates and codes recur across cases."""


def iso_date(value: object) -> dt.date:
    """A calendar date written ``YYYY-MM-DD``."""
    if type(value) is not str:
        raise ValueProblem("must be an ISO date (YYYY-MM-DD)")
    known = _KNOWN_DATES.get(value)
    if known is not None:
        return known
    if not _ISO_DATE.fullmatch(value):
        raise ValueProblem("not an ISO date (YYYY-MM-DD)")
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueProblem("not a calendar date") from None
    if len(_KNOWN_DATES) < _KNOWN_LIMIT:
        _KNOWN_DATES[value] = date
    return date


def _icd10cm(value: str) -> str:
    key = undotted(value)
    if key is None:
        raise ValueProblem("not shaped like an ICD-10-CM code (e.g. C92.00)")
    if not in_any_release(key):
        said = ", ".join(r.name.split(" ")[0] for r in releases())
        raise ValueProblem(f"not a code in any ICD-10-CM release here ({said})")
    return dotted(key)


def icd10cm_code(value: object) -> str:
    """An ICD-10-CM code (with or without the dot, any letter case, ASCII only), in its
    printed form: ``c9200`` -> ``C92.00``."""
    if type(value) is not str:
        raise ValueProblem("must be a string")
    known = _KNOWN_CODES.get(value)
    if known is not None:
        return known
    code = _icd10cm(value)
    if len(_KNOWN_CODES) < _KNOWN_LIMIT:
        _KNOWN_CODES[value] = code
    return code


def procedure_code(value: object, system: str | None = None) -> str:
    """A CPT or HCPCS procedure code (of `system`, when given)."""
    if type(value) is not str:
        raise ValueProblem("must be a string")
    found = procedure_system(value)
    if found is None or (system is not None and found != system):
        example = {"CPT": "38242", "HCPCS": "E0601"}.get(system or "", "38242 or E0601")
        wanted = system or "CPT or HCPCS"
        raise ValueProblem(f"not a {wanted} procedure code (e.g. {example})")
    return value


def system_code(value: object, system: str) -> str:
    """A code of a system of `dli_check.values.systems` other than ICD-10-CM, in the form
    it is kept in (an NDC as its 11 digits)."""
    if type(value) is not str:
        raise ValueProblem("must be a string")
    try:
        return normal(system, value)
    except CodeProblem as exc:
        raise ValueProblem(str(exc)) from None


MAX_MODIFIERS = 4
"""Modifiers a claim line may carry (X12 837: SV101-3 to SV101-6)."""
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_BILLED_PARTS = re.compile(r"[- \t]+")


def modifier(value: object) -> str:
    """A procedure code modifier: two letters or digits, upper-cased (``59``, ``XS``)."""
    if type(value) is not str:
        raise ValueProblem("must be a string")
    text = value.strip(" \t").upper()
    if not (text.isascii() and _MODIFIER.fullmatch(text)):
        raise ValueProblem("a modifier must be two letters or digits (e.g. 59)")
    return text


def billed_code(value: object) -> tuple[str, tuple[str, ...]]:
    """A procedure code as billed: trimmed, upper-cased, and its modifiers split off.

    >>> billed_code(" 38242-59 ")
    ('38242', ('59',))
    >>> billed_code("j9999 xs 59")
    ('J9999', ('XS', '59'))
    >>> billed_code("38242-5")
    Traceback (most recent call last):
    ...
    dli_check.values.case.ValueProblem: its modifier 1 must be two letters or digits (e.g. 38242-59)
    """
    if type(value) is not str:
        raise ValueProblem("must be a string")
    if procedure_system(value) is not None:  # the usual case: a code alone, as it should be
        return value, ()
    text = value.strip(" \t").upper()
    if not text.isascii():
        raise ValueProblem("not a CPT or HCPCS procedure code (e.g. 38242 or E0601)")
    code, *rest = _BILLED_PARTS.split(text)
    code = procedure_code(code)
    if len(rest) > MAX_MODIFIERS:
        raise ValueProblem(f"has more than {MAX_MODIFIERS} modifiers")
    for i, part in enumerate(rest, start=1):
        if not _MODIFIER.fullmatch(part):
            raise ValueProblem(f"its modifier {i} must be two letters or digits (e.g. 38242-59)")
    return code, tuple(rest)


def number(value: object, minimum: float | None, maximum: float | None) -> float | int:
    """A JSON number within bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem("must be a finite number")
    if minimum is not None and value < minimum:
        raise ValueProblem(f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValueProblem(f"must be at most {maximum}")
    return value


def optional_identifier(value: object) -> str | None:
    """An identifier, where a placeholder word is no identifier."""
    if (
        type(value) is str
        and 0 < len(value) <= MAX_TEXT
        and value.isascii()
        and value.strip(ASCII_INVISIBLE)
    ):  # the usual case, answered in a few string operations
        return None if is_placeholder(value) else value
    text = identifier(value)
    return None if is_placeholder(text) else text
