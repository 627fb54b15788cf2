"""The rule-file language: pydantic models that say what a rule file may contain.

A rule file carries a guideline's metadata, named code sets exactly as the guideline prints
them, and the services it governs: each with its criteria (an id, a plain-language
explanation, a citation quoting the guideline, and a condition) and its two outcomes.

A condition is a mapping with exactly one operator::

    all: [COND, ...]            every one is met
    any: [COND, ...]            at least one is met
    not: COND                   the condition is not met
    equals: {fact: F, value: V} the fact equals V
    one_of: {fact: F, values: [V, ...]}
    is_true: F                  the fact is true
    present: F                  the fact is given (never unknown)
    in_code_set: {fact: F, code_set: NAME}   the code (or, for a list, any code) is in the set
    same_as: {fact: F, other: G}             two facts hold the same value
    before: {fact: F, other: G}              date F is before date G
    after: {fact: F, other: G}               date F is after date G
    constant: true|false        a fixed answer ("never medically necessary")

Cross-references (code-set names, fact types) are checked when the file is compiled.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    WithJsonSchema,
)

from dli_check.case import FACTS
from dli_check.codes import CptRange, IcdRange

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=False)

Decision = Literal["medically_necessary", "not_medically_necessary"]


def _known_fact(path: str) -> str:
    if path not in FACTS:
        raise ValueError(f"unknown fact {path!r}; facts are: {', '.join(sorted(FACTS))}")
    return path


def _not_a_boolean(value: object) -> object:
    # YAML's true is Python's True, which equals 1: a version number must be a number.
    if isinstance(value, bool):
        raise ValueError("must be the number 1, not a boolean")
    return value


def _icd_range(value: object) -> IcdRange:
    if not isinstance(value, str):
        raise ValueError("an ICD-10-CM code or range must be a string")
    return IcdRange.parse(value)


def _cpt_range(value: object) -> CptRange:
    if not isinstance(value, str):
        raise ValueError("a CPT code or range must be a quoted string, e.g. '38242'")
    return CptRange.parse(value)


FactPath = Annotated[str, AfterValidator(_known_fact)]
IcdRangeText = Annotated[
    IcdRange,
    PlainValidator(_icd_range),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "description": "An ICD-10-CM code or range CODE-CODE."}),
]
CptRangeText = Annotated[
    CptRange,
    PlainValidator(_cpt_range),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "description": "A CPT code or range CODE-CODE."}),
]
Text = Annotated[str, Field(min_length=1)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class Citation(BaseModel):
    """Where the guideline says it: a section path and its words, verbatim."""

    model_config = _STRICT
    section: Text
    quote: Text


class Guideline(BaseModel):
    """The guideline a rule file encodes."""

    model_config = _STRICT
    id: Text
    title: Text
    publish_date: dt.date
    last_review_date: dt.date
    status: Text


class IcdEntry(BaseModel):
    """One printed line of an ICD-10-CM code list."""

    model_config = _STRICT
    codes: IcdRangeText
    description: Text


class Caveat(BaseModel):
    """Codes a set does not list that a reviewer should be told about when a case has one."""

    model_config = _STRICT
    codes: list[IcdRangeText] = Field(min_length=1)
    note: Text


class IcdCodeSet(BaseModel):
    """A named set of ICD-10-CM codes and ranges."""

    model_config = _STRICT
    system: Literal["ICD-10-CM"]
    title: Text
    citation: Citation
    codes: list[IcdEntry] = Field(min_length=1)
    caveats: list[Caveat] = []


class CptEntry(BaseModel):
    """One printed line of a CPT code list."""

    model_config = _STRICT
    codes: CptRangeText
    description: Text


class CptCodeSet(BaseModel):
    """A named set of CPT codes."""

    model_config = _STRICT
    system: Literal["CPT"]
    title: Text
    citation: Citation
    codes: list[CptEntry] = Field(min_length=1)


CodeSet = Annotated[IcdCodeSet | CptCodeSet, Field(discriminator="system")]


class FactAndValue(BaseModel):
    """Arguments of `equals`."""

    model_config = _STRICT
    fact: FactPath
    value: str | bool


class FactAndValues(BaseModel):
    """Arguments of `one_of`."""

    model_config = _STRICT
    fact: FactPath
    values: list[str] = Field(min_length=1)


class FactAndCodeSet(BaseModel):
    """Arguments of `in_code_set`."""

    model_config = _STRICT
    fact: FactPath
    code_set: Name


class TwoFacts(BaseModel):
    """Arguments of `same_as`, `before` and `after`."""

    model_config = _STRICT
    fact: FactPath
    other: FactPath


class All(BaseModel):
    """Every condition is met."""

    model_config = _STRICT
    all: list[Condition] = Field(min_length=1)


class Any_(BaseModel):
    """At least one condition is met."""

    model_config = _STRICT
    any: list[Condition] = Field(min_length=1)


class Not(BaseModel):
    """The condition is not met."""

    model_config = _STRICT
    not_: Condition = Field(alias="not")


class Equals(BaseModel):
    """A fact equals a value."""

    model_config = _STRICT
    equals: FactAndValue


class OneOf(BaseModel):
    """A fact is one of several values."""

    model_config = _STRICT
    one_of: FactAndValues


class IsTrue(BaseModel):
    """A boolean fact is true."""

    model_config = _STRICT
    is_true: FactPath


class Present(BaseModel):
    """A fact is given; never unknown."""

    model_config = _STRICT
    present: FactPath


class InCodeSet(BaseModel):
    """A code (or, for a list of codes, any of them) is in a named code set."""

    model_config = _STRICT
    in_code_set: FactAndCodeSet


class SameAs(BaseModel):
    """Two facts hold the same value."""

    model_config = _STRICT
    same_as: TwoFacts


class Before(BaseModel):
    """One date is strictly before another."""

    model_config = _STRICT
    before: TwoFacts


class After(BaseModel):
    """One date is strictly after another."""

    model_config = _STRICT
    after: TwoFacts


class Constant(BaseModel):
    """A fixed answer, for what a guideline never (or always) allows."""

    model_config = _STRICT
    constant: bool


OPERATORS: dict[str, type[BaseModel]] = {
    "all": All,
    "any": Any_,
    "not": Not,
    "equals": Equals,
    "one_of": OneOf,
    "is_true": IsTrue,
    "present": Present,
    "in_code_set": InCodeSet,
    "same_as": SameAs,
    "before": Before,
    "after": After,
    "constant": Constant,
}
"""Operator name -> its model; the one key of a condition mapping picks the operator."""


def _operator_of(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    if isinstance(value, BaseModel):
        return next(k for k, m in OPERATORS.items() if isinstance(value, m))
    return None


Condition = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[Any_, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Equals, Tag("equals")]
    | Annotated[OneOf, Tag("one_of")]
    | Annotated[IsTrue, Tag("is_true")]
    | Annotated[Present, Tag("present")]
    | Annotated[InCodeSet, Tag("in_code_set")]
    | Annotated[SameAs, Tag("same_as")]
    | Annotated[Before, Tag("before")]
    | Annotated[After, Tag("after")]
    | Annotated[Constant, Tag("constant")],
    Discriminator(
        _operator_of,
        custom_error_type="condition_shape",
        custom_error_message="a condition is a mapping with exactly one operator",
    ),
]


class Criterion(BaseModel):
    """One criterion: what it checks, in plain words and in the guideline's words."""

    model_config = _STRICT
    id: Name
    explanation: Text
    citation: Citation
    also_cites: list[Citation] = Field(
        default=[], description="Further passages, e.g. definitions, that shape the reading."
    )
    condition: Condition


class Outcome(BaseModel):
    """A service's decision when its criteria are met, or otherwise, and where it is said."""

    model_config = _STRICT
    decision: Decision
    citation: Citation


class Service(BaseModel):
    """A service the guideline governs."""

    model_config = _STRICT
    id: Name
    title: Text
    cpt_code_set: Name | None = Field(
        default=None, description="CPT codes a case may give for this service; none if null."
    )
    criteria: list[Criterion] = Field(min_length=1)
    when_met: Outcome
    otherwise: Outcome


class RuleFile(BaseModel):
    """A whole rule file."""

    model_config = _STRICT
    rules_format: Annotated[Literal[1], BeforeValidator(_not_a_boolean)] = Field(
        description="Version of this rule language."
    )
    guideline: Guideline
    code_sets: dict[Name, CodeSet] = {}
    services: list[Service] = Field(min_length=1)


for _model in (All, Any_, Not):
    _model.model_rebuild()
