"""The case format: what a case file may say, and the facts a rule can ask about.

Every field but ``case_id``, ``services`` and each line's ``service`` may be absent (or
null): a criterion that needs an absent fact is *unknown*, which is how the engine asks for
more information instead of guessing. Values are strict: JSON booleans, ISO dates,
enumerated words, real ICD-10-CM codes. Unknown fields are errors, so that a misspelt
field is never read as an absent one.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from dli_check.icd10cm import code_index, dotted, undotted

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=65536)
def _icd10cm(value: str) -> str:
    key = undotted(value)
    if key is None:
        raise ValueError("not shaped like an ICD-10-CM code (e.g. C92.00)")
    index = code_index()
    if key not in index:
        raise ValueError(f"not a code in ICD-10-CM {index.release}")
    return dotted(key)


def _iso_date(value: object) -> object:
    if isinstance(value, str):
        if not _ISO_DATE.fullmatch(value):
            raise ValueError("not an ISO date (YYYY-MM-DD)")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("not a calendar date") from None
    return value


PLACEHOLDERS = frozenset(
    [
        "n/a",
        "na",
        "none",
        "null",
        "nil",
        "unknown",
        "unk",
        "not known",
        "not available",
        "tbd",
        "-",
        "?",
    ]
)
"""Words that systems write where they have no identifier: read as absent, not as an id."""


VISIBLE = r"[^\s\p{Cf}\p{Cc}]"
"""The pattern every identifier matches: at least one character that is not white space, a
format character (zero-width space, joiners, BOM) or a control. pydantic-core checks it
natively."""
_LONGEST_PLACEHOLDER = 32


def _placeholder_is_absent(value: object) -> object:
    if type(value) is not str or len(value) > _LONGEST_PLACEHOLDER:
        return value
    text = (
        value if value.isascii() else "".join(c for c in value if unicodedata.category(c) != "Cf")
    )
    return None if " ".join(text.split()).casefold() in PLACEHOLDERS else value


def _absent_is_false(value: object) -> object:
    return False if value is None else value


IcdCode = Annotated[
    str,
    AfterValidator(_icd10cm),
    Field(description="An ICD-10-CM code, with or without the dot, in any letter case."),
]
"""An ICD-10-CM code, normalised to its printed form (``C92.00``)."""

IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A calendar date written ``YYYY-MM-DD``."""

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
MAX_ITEMS = 1000
"""At most this many diagnoses, or service lines, in a case (claims carry far fewer)."""
MAX_TEXT = 256
"""At most this many characters in an identifier."""

Identifier = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=VISIBLE)]
"""An identifier: not blank (white space and invisible characters alone are refused)."""

OptionalIdentifier = Annotated[Identifier | None, BeforeValidator(_placeholder_is_absent)]
"""An identifier that may be absent; a placeholder word (``N/A``, ``unknown``) is absent."""


class Patient(BaseModel):
    """What the claim says about the patient."""

    model_config = _STRICT
    diagnoses: list[IcdCode] | None = Field(
        default=None, max_length=MAX_ITEMS, description="The claim's ICD-10-CM diagnosis codes."
    )


class Transplant(BaseModel):
    """The prior or planned hematopoietic progenitor cell transplant."""

    model_config = _STRICT
    type: Literal["allogeneic", "autologous", "syngeneic"] | None = None
    conditioning: Literal["myeloablative", "non_myeloablative", "reduced_intensity"] | None = None
    status: Literal["completed", "planned"] | None = None
    date: IsoDate | None = None
    medically_necessary: bool | None = None
    indication: IcdCode | None = Field(
        default=None, description="ICD-10-CM code of the disease the transplant treats."
    )
    donor_id: OptionalIdentifier = None


class ServiceLine(BaseModel):
    """One requested service."""

    model_config = _STRICT
    service: str = Field(
        min_length=1, max_length=MAX_TEXT, description="A service the rule file governs."
    )
    cpt: str | None = Field(default=None, pattern=r"^[0-9]{4}[0-9A-Z]$")
    date: IsoDate | None = None
    lymphocyte_donor_id: OptionalIdentifier = Field(default=None, min_length=1, max_length=MAX_TEXT)
    genetically_modified: Annotated[bool, BeforeValidator(_absent_is_false)] = Field(
        default=False, description="Absent or null means false."
    )


class Case(BaseModel):
    """A patient case: the transplant and the services requested."""

    model_config = _STRICT
    case_id: Identifier
    patient: Patient | None = None
    transplant: Transplant | None = None
    services: list[ServiceLine] = Field(min_length=1, max_length=MAX_ITEMS)


@dataclass(frozen=True)
class FactType:
    """What kind of value a fact holds, for checking the rules that use it."""

    kind: Literal["str", "bool", "date", "code", "codes", "choice"]
    choices: tuple[str, ...] = ()


def _fact_type(annotation: Any) -> FactType:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation == IcdCode:
        return FactType("code")
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if item == IcdCode:
            return FactType("codes")
    if typing.get_origin(annotation) is Literal:
        return FactType("choice", typing.get_args(annotation))
    if annotation == IsoDate:
        return FactType("date")
    if annotation is bool:
        return FactType("bool")
    if annotation is str or annotation == Identifier:
        return FactType("str")
    raise TypeError(f"no fact type for {annotation!r}")  # pragma: no cover - model bug


SERVICE_PREFIX = "service"
"""Facts of the service line under evaluation are named ``service.<field>``."""


def _fact_types() -> dict[str, FactType]:
    facts: dict[str, FactType] = {}
    groups: dict[str, type[BaseModel]] = {
        "patient": Patient,
        "transplant": Transplant,
        SERVICE_PREFIX: ServiceLine,
    }
    for prefix, model in groups.items():
        for name, field in model.model_fields.items():
            facts[f"{prefix}.{name}"] = _fact_type(field.annotation)
    return facts


FACTS: dict[str, FactType] = _fact_types()
"""Every fact path a rule may name, with its type."""

FIELD_NAMES: frozenset[str] = frozenset(
    name for model in (Case, Patient, Transplant, ServiceLine) for name in model.model_fields
)
"""Every field name the case format declares: the only key names errors may repeat."""
