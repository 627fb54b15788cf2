"""The fact types of the rule language, one row each: everything a type means, in one place.

A fact a rule file declares has one of these types. Its row says which declaration options
fit it and which it needs, how its default is checked, how a case's value is checked, its
JSON Schema, its Questionnaire item, how FHIR gives it, and its words. The compiler, the
schemas, the questionnaires and the FHIR reader read the row; none of them tests a type's
name. A test holds the table to the language's `FactTypeName` and every column filled.

>>> FACT_TYPES["date"].questionnaire_item, FACT_TYPES["date"].fhir_answers
('date', ('valueDate', 'valueDateTime'))
>>> FACT_TYPES["codes"].many, sorted(FACT_TYPES["codes"].required)
(True, ['system'])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from dli_check.values import case as values

if TYPE_CHECKING:
    from dli_check.language.model import FactDeclaration

_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Partials, not lambdas: compiled rules are cached with pickle, which names functions.
_PROCEDURE_CHECKERS: dict[str, Callable[[object], str]] = {
    "CPT": partial(values.procedure_code, system="CPT"),
    "HCPCS": partial(values.procedure_code, system="HCPCS"),
}


@dataclass(frozen=True)
class FactType:
    """One fact type, every column of it."""

    name: str
    words: str
    """What a value of the type is, for people (docs, messages)."""
    options: frozenset[str]
    """The declaration options that fit the type (``choices``, ``system``, ``unit``...)."""
    required: frozenset[str]
    """The options a declaration of the type must give."""
    default_kinds: tuple[type, ...]
    """The JSON kinds a declared default may be (a choice's must also be a choice)."""
    checker: Callable[[FactDeclaration], Callable[[object], Any]]
    """The check of a case's value: returns it normalised or raises `ValueProblem`."""
    json_schema: Callable[[FactDeclaration], dict[str, Any]]
    """The JSON Schema of a value (null aside)."""
    questionnaire_item: str
    """The FHIR Questionnaire item type that asks for it."""
    fhir_answers: tuple[str, ...]
    """The QuestionnaireResponse answer elements that give it, in order."""
    from_fhir: Callable[[Any], Any]
    """A FHIR value (primitive, Identifier, Quantity) as the fact's value, or None when it
    is no evidence for the fact."""
    coded: bool = False
    """Its FHIR values may be codings (a binding may name a code system)."""
    many: bool = False
    """A list of values (each checked as one)."""


def _number_checker(d: FactDeclaration) -> Callable[[object], Any]:
    return partial(values.number, minimum=d.minimum, maximum=d.maximum)


def _code_checker(d: FactDeclaration) -> Callable[[object], Any]:
    if d.system == "ICD-10-CM":
        return values.icd10cm_code
    return _PROCEDURE_CHECKERS.get(d.system or "") or partial(
        values.system_code, system=d.system or ""
    )


def _no_checker(d: FactDeclaration) -> Callable[[object], Any]:
    """Booleans and choices are checked in the generated validator itself."""
    return _identity


def _identity(value: object) -> object:
    return value


def _number_schema(d: FactDeclaration) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if d.minimum is not None:
        schema["minimum"] = d.minimum
    if d.maximum is not None:
        schema["maximum"] = d.maximum
    return schema


def _code_schema(d: FactDeclaration) -> dict[str, Any]:
    return {"type": "string", "description": f"A {d.system} code."}


def _date_from_fhir(value: Any) -> str | None:
    """The calendar day of a FHIR date or dateTime; None for a partial date (a year, a
    month), which cannot be compared with a day."""
    if isinstance(value, str) and _FULL_DATE.match(value):
        return value[:10]
    return None


def _boolean_from_fhir(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _number_from_fhir(value: Any) -> int | float | None:
    if isinstance(value, Mapping):  # a Quantity
        value = value.get("value")
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text_from_fhir(value: Any) -> str | None:
    if isinstance(value, Mapping):  # an Identifier
        value = value.get("value")
    return value if isinstance(value, str) else None


_CODE_ANSWERS = ("valueCoding", "valueString")

FACT_TYPES: dict[str, FactType] = {
    t.name: t
    for t in (
        FactType(
            "boolean",
            "true or false",
            frozenset(),
            frozenset(),
            (bool,),
            _no_checker,
            lambda d: {"type": "boolean"},
            "boolean",
            ("valueBoolean",),
            _boolean_from_fhir,
        ),
        FactType(
            "date",
            "a calendar date, YYYY-MM-DD",
            frozenset(),
            frozenset(),
            (str,),
            lambda d: values.iso_date,
            lambda d: {"type": "string", "format": "date"},
            "date",
            ("valueDate", "valueDateTime"),
            _date_from_fhir,
        ),
        FactType(
            "choice",
            "one of the declared choices",
            frozenset({"choices"}),
            frozenset({"choices"}),
            (str,),
            _no_checker,
            lambda d: {"enum": list(d.choices or ())},
            "choice",
            _CODE_ANSWERS,
            _text_from_fhir,
            coded=True,
        ),
        FactType(
            "identifier",
            "an identifier (a placeholder such as N/A is none)",
            frozenset(),
            frozenset(),
            (str,),
            lambda d: values.optional_identifier,
            lambda d: {"type": "string", "minLength": 1, "maxLength": values.MAX_TEXT},
            "string",
            ("valueString",),
            _text_from_fhir,
        ),
        FactType(
            "number",
            "a number, within its declared bounds",
            frozenset({"unit", "minimum", "maximum"}),
            frozenset(),
            (int, float),
            _number_checker,
            _number_schema,
            "decimal",
            ("valueDecimal", "valueInteger", "valueQuantity"),
            _number_from_fhir,
        ),
        FactType(
            "code",
            "a code of the declared system",
            frozenset({"system", "billable_only"}),
            frozenset({"system"}),
            (str,),
            _code_checker,
            _code_schema,
            "open-choice",
            _CODE_ANSWERS,
            _text_from_fhir,
            coded=True,
        ),
        FactType(
            "codes",
            "a list of codes of the declared system",
            frozenset({"system", "billable_only"}),
            frozenset({"system"}),
            (str,),
            _code_checker,
            lambda d: {
                "type": "array",
                "maxItems": values.MAX_ITEMS,
                "items": _code_schema(d),
            },
            "open-choice",
            _CODE_ANSWERS,
            _text_from_fhir,
            coded=True,
            many=True,
        ),
    )
}
"""Every fact type, by name."""

DECLARATION_OPTIONS = ("choices", "system", "unit", "minimum", "maximum", "billable_only")
"""The declaration options that depend on a fact's type."""
