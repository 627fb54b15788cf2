"""The fact-type table is complete: one row per type the rule language declares, every
column filled, and each column consistent with the others. Adding a fact type ends here
(see CONTRIBUTING.md)."""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import pytest

from dli_check.language.fact_types import DECLARATION_OPTIONS, FACT_TYPES, FactType
from dli_check.language.model import FactDeclaration, FactTypeName

QUESTIONNAIRE_ITEM_TYPES = {
    "boolean",
    "decimal",
    "integer",
    "date",
    "string",
    "choice",
    "open-choice",
}
ANSWER_ELEMENTS = {
    "valueBoolean",
    "valueDecimal",
    "valueInteger",
    "valueDate",
    "valueDateTime",
    "valueString",
    "valueCoding",
    "valueQuantity",
}


def _declaration(kind: str, **options: Any) -> FactDeclaration:
    base: dict[str, Any] = {"type": kind, "label": "x", "question": "x?", "description": "x"}
    if "choices" in FACT_TYPES[kind].required:
        base["choices"] = ["a", "b"]
    if "system" in FACT_TYPES[kind].required:
        base["system"] = "ICD-10-CM"
    return FactDeclaration.model_validate({**base, **options})


def test_one_row_per_declared_type() -> None:
    assert sorted(FACT_TYPES) == sorted(get_args(FactTypeName))
    assert all(row.name == name for name, row in FACT_TYPES.items())


@pytest.mark.parametrize("name", sorted(FACT_TYPES))
def test_every_column_is_filled_and_fits(name: str) -> None:
    row = FACT_TYPES[name]
    for column in dataclasses.fields(FactType):
        value = getattr(row, column.name)
        assert value is not None, column.name
    assert row.words and row.default_kinds
    assert row.options <= set(DECLARATION_OPTIONS) and row.required <= row.options
    assert row.questionnaire_item in QUESTIONNAIRE_ITEM_TYPES
    assert row.fhir_answers and set(row.fhir_answers) <= ANSWER_ELEMENTS
    assert row.coded == ("valueCoding" in row.fhir_answers)
    declaration = _declaration(name)
    assert callable(row.checker(declaration))
    schema = row.json_schema(declaration)
    assert schema and isinstance(schema, dict)
    assert (schema.get("type") == "array") == row.many


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("boolean", True, True),
        ("boolean", "true", None),
        ("date", "2025-03-14T10:00:00Z", "2025-03-14"),
        ("date", "2025-03", None),
        ("number", 3, 3),
        ("number", {"value": 2.5, "unit": "mg"}, 2.5),
        ("number", True, None),
        ("identifier", {"system": "x", "value": "D-1"}, "D-1"),
        ("identifier", "D-1", "D-1"),
        ("code", "C92.00", "C92.00"),
        ("choice", 7, None),
    ],
)
def test_values_from_fhir(kind: str, value: Any, expected: Any) -> None:
    assert FACT_TYPES[kind].from_fhir(value) == expected
