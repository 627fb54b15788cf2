"""Turning pydantic's validation errors into short messages for people.

The messages name what was expected, never the value that was given: case files carry
health information, and errors end up in logs.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

from dli_check.errors import PathKey
from dli_check.language.operators import FACT_PATH, OPERATORS

_TYPES = {
    "bool_type": "must be a JSON boolean (true or false)",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "date_type": "must be an ISO date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be an ISO date (YYYY-MM-DD)",
    "missing": "is required but missing",
    "extra_forbidden": "is not a known field",
    "string_pattern_mismatch": "does not have the required form",
}


def describe(error: ErrorDetails) -> str:
    """A one-line message for one pydantic error, without the offending value."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of: {ctx.get('expected', '').replace(' or ', ', ')}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"{ctx.get('discriminator')} must be one of: {ctx.get('expected_tags')}"
    if kind == "condition_shape":
        given = error.get("input")
        if isinstance(given, dict) and len(given) == 1:
            return f"unknown operator {next(iter(given))!r}; operators are: {_operators()}"
        return f"{error['msg']} ({_operators()})"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == FACT_PATH:
        return "not a fact: facts are named record.field, e.g. patient.diagnoses"
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        return f"does not match the pattern {ctx['pattern']}"
    return _TYPES.get(kind, error["msg"])


def _operators() -> str:
    return ", ".join(OPERATORS)


def data_path(data: Any, loc: tuple[int | str, ...], *, missing: bool = False) -> PathKey:
    """Map a pydantic error location onto the data it came from.

    Pydantic puts union tags (``'equals'``, ``'ICD-10-CM'``) and markers such as
    ``'[key]'`` into locations; where they are not keys of the data they are dropped.
    For a `missing` field, the last part of the location is kept: its parent locates it.
    """
    path: list[str | int] = []
    node = data
    for k, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (missing and k == len(loc) - 1 and isinstance(node, dict) and part != "[key]"):
            continue
        path.append(part)
    return tuple(path)
