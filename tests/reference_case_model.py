"""A pydantic model of a rule file's case format, built from its declarations with
pydantic's own constraints: the reference the generated validator is tested against.

It is written apart from `dli_check.compiler.validator` and shares only data with it (the
placeholder words, the ICD-10-CM index, the limits), not checks."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    create_model,
)

from dli_check.language.model import CaseDeclaration, FactDeclaration
from dli_check.values.case import MAX_ITEMS, MAX_TEXT, PLACEHOLDERS
from dli_check.values.icd10cm import code_index

STRICT = ConfigDict(extra="forbid", strict=True)
PATTERNS = {"CPT": r"^[0-9]{4}[0-9FT]$", "HCPCS": r"^[A-V][0-9]{4}$"}


def _not_blank(text: str) -> str:
    if all(c.isspace() or unicodedata.category(c) in ("Cf", "Cc") for c in text):
        raise ValueError("blank")
    return text


def _placeholder_is_none(text: str) -> str | None:
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c for c in folded if c.isalnum() and c not in "\u115f\u1160\u3164\uffa0")
    return None if not kept or kept in PLACEHOLDERS else text


def _icd10cm(text: str) -> str:
    key = text.strip(" ")
    if not key.isascii():
        raise ValueError("not ASCII")
    key = key.upper()
    if len(key) > 4 and key[3] == ".":  # a dot after the category, and more after it
        key = key[:3] + key[4:]
    if "." in key or key not in code_index():
        raise ValueError("not an ICD-10-CM code")
    return key


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_not_blank)
]
IsoDate = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    AfterValidator(dt.date.fromisoformat),
]


def _code(system: str) -> Any:
    if system == "ICD-10-CM":
        return Annotated[str, AfterValidator(_icd10cm)]
    return Annotated[str, StringConstraints(pattern=PATTERNS[system])]


def fact_type(d: FactDeclaration) -> Any:
    """The pydantic type of one declared fact (absent and null are always allowed)."""
    kind: Any
    if d.type == "boolean":
        kind = StrictBool
    elif d.type == "choice":
        kind = Literal[tuple(d.choices or ())]
    elif d.type == "date":
        kind = IsoDate
    elif d.type == "identifier":
        kind = Annotated[Identifier, AfterValidator(_placeholder_is_none)]
    elif d.type == "number":
        kind = Annotated[float, Field(ge=d.minimum, le=d.maximum, allow_inf_nan=False)]
    elif d.type == "code":
        kind = _code(d.system or "")
    else:  # codes
        code: Any = _code(d.system or "")
        kind = Annotated[list[code], Field(max_length=MAX_ITEMS)]
    return kind | None


def _record(name: str, facts: dict[str, FactDeclaration], base: type[BaseModel]) -> Any:
    fields: Any = {field: (fact_type(d), None) for field, d in facts.items()}
    return create_model(name, __base__=base, **fields)


class _Strict(BaseModel):
    model_config = STRICT


# A code as billed: trimmed, any letter case, up to four two-character modifiers.
_BILLED = r"^[ \t]*(?:[0-9]{4}[0-9FTft]|[A-Va-v][0-9]{4})(?:[- \t]+[0-9A-Za-z]{2}){0,4}[ \t]*$"
_MODIFIER = Annotated[str, StringConstraints(pattern=r"^[ \t]*[0-9A-Za-z]{2}[ \t]*$")]


class _LineBase(_Strict):
    service: Identifier | None = None
    code: Annotated[str, StringConstraints(pattern=_BILLED)] | None = None
    modifiers: Annotated[list[_MODIFIER], Field(max_length=4)] | None = None


def reference_model(declaration: CaseDeclaration) -> type[BaseModel]:
    """The case model a rule file's case section declares."""
    line = _record("Line", declaration.service.facts, _LineBase)
    fields: Any = {
        "case_id": (Identifier, ...),
        "services": (
            Annotated[list[line], Field(min_length=1, max_length=MAX_ITEMS)],  # type: ignore[valid-type]
            ...,
        ),
    }
    for name, record in declaration.records.items():
        fields[name] = (_record(name, record.facts, _Strict) | None, None)
    for name, listed in declaration.lists.items():
        item = _record(listed.item, listed.facts, _Strict)
        items = Annotated[list[item], Field(max_length=listed.max_items)]  # type: ignore[valid-type]
        fields[name] = (items | None, None)
    return create_model("Case", __base__=_Strict, **fields)


def problem_paths(model: type[BaseModel], data: Any) -> set[tuple[str | int, ...]]:
    """Where the reference finds problems: each error's path, an unknown field's being the
    record that holds it. A line with neither a service nor a code is checked here: a
    pydantic model validator would not run beside the line's other errors."""
    found: set[tuple[str | int, ...]] = set()
    try:
        model.model_validate(data)
    except ValidationError as exc:
        found = {
            tuple(e["loc"][:-1] if e["type"] == "extra_forbidden" else e["loc"])
            for e in exc.errors()
        }
    lines = data.get("services") if isinstance(data, dict) else None
    if isinstance(lines, list) and len(lines) <= MAX_ITEMS:
        for i, line in enumerate(lines):
            if isinstance(line, dict) and line.get("service") is None and line.get("code") is None:
                found.add(("services", i))
    return found
