"""The rule-file language: pydantic models that say what a rule file may contain.

A rule file carries a guideline's metadata; the case it reads (`case`: the facts a case
holds, each with its type, meaning and the question to ask when it is missing); named code
sets exactly as the guideline prints them; and the services it governs: each with its
procedure codes, its criteria (an id, a plain-language explanation, a citation quoting the
guideline, and a condition: see `operators`) and its two outcomes.

Cross-references (fact paths, code-set names, fact types) are checked when the file is
compiled.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    WithJsonSchema,
    model_validator,
)

from dli_check.language.operators import STRICT, Condition, FactPath, Name
from dli_check.values.codes import IcdRange

Decision = Literal["medically_necessary", "not_medically_necessary"]
RULES_FORMAT = 2
"""The version of this rule language."""


def _rules_format(value: object) -> object:
    # YAML's true is Python's True, which equals 1: a version number must be a number.
    if isinstance(value, bool):
        raise ValueError(f"must be the number {RULES_FORMAT}, not a boolean")
    if value == 1:
        raise ValueError(
            "rules_format 1 is no longer read: a rule file now declares its case "
            f"(rules_format: {RULES_FORMAT}, with a case section; see the README)"
        )
    return value


def _icd_range(value: object) -> IcdRange:
    if not isinstance(value, str):
        raise ValueError("an ICD-10-CM code or range must be a string")
    return IcdRange.parse(value)


def _code_range(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a code or range must be a quoted string, e.g. '38242'")
    return value


IcdRangeText = Annotated[
    IcdRange,
    PlainValidator(_icd_range),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "description": "An ICD-10-CM code or range CODE-CODE."}),
]
CodeRangeText = Annotated[
    str,
    PlainValidator(_code_range),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A code of the set's system, or a range CODE-CODE of a system "
            "whose codes have an order (CPT, HCPCS, ICD-10-PCS).",
        }
    ),
]
Text = Annotated[str, Field(min_length=1)]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Citation(BaseModel):
    """Where the guideline says it: a section path and its words, verbatim."""

    model_config = STRICT
    section: Text
    quote: Text


class Guideline(BaseModel):
    """The guideline a rule file encodes."""

    model_config = STRICT
    id: Text
    title: Text
    publish_date: dt.date
    last_review_date: dt.date
    status: Text
    scope: Citation = Field(
        description="What the guideline addresses, in its words: cited for a line whose code "
        "no service of the rule file governs."
    )


FactTypeName = Literal["boolean", "date", "choice", "identifier", "number", "code", "codes"]
CodeSystem = Literal[
    "ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS", "NDC", "RxNorm", "LOINC", "SNOMED-CT"
]
"""The code systems of `dli_check.values.systems`: of a code fact, a code set, or the
codings a FHIR binding keeps (and may translate, with ``map``, into a fact's words)."""
BindingSystem = CodeSystem


FhirPathText = Annotated[str, Field(min_length=1, max_length=1000)]
ResourceType = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z]{1,63}$")]
ElementName = Annotated[str, Field(pattern=r"^[a-z][A-Za-z0-9]{0,63}$")]


def _narrows_only(text: str) -> str:
    """Search parameters may narrow a prefetch query, never widen or redirect it."""
    for part in text.split("&"):
        name = part.split("=", 1)[0].split(":", 1)[0]
        if name in ("patient", "subject", "_id") or name in ("_include", "_revinclude", "_has"):
            raise ValueError(
                f"{name}: the prefetch query names the patient itself, and a "
                "search may only narrow it"
            )
    return text


SearchParameters = Annotated[
    str,
    Field(
        max_length=1000,
        pattern=r"^[a-z_][a-z0-9_:.-]*=[^&{}\s#]+(&[a-z_][a-z0-9_:.-]*=[^&{}\s#]+)*$",
    ),
    AfterValidator(_narrows_only),
]


class FhirValue(BaseModel):
    """Where one fact is in one source's element: FHIRPath expressions relative to it,
    each tried (a value found by two that disagree makes the fact unknown), optionally
    keeping codings of some code systems, or translating codes into the fact's words."""

    model_config = STRICT
    path: FhirPathText | list[FhirPathText] = Field(
        description="FHIRPath from the source's element, or several, e.g. [performedDateTime, "
        "performedPeriod.start]."
    )
    system: list[BindingSystem] | None = Field(
        default=None,
        description="The values are Codings: keep those of these systems, and read their code.",
    )
    map: dict[Annotated[str, Field(min_length=1)], bool | str | int | float] | None = Field(
        default=None,
        description="FHIR code -> the fact's value; a value not in the map is not evidence.",
    )

    @property
    def paths(self) -> list[str]:
        """The expressions, as a list."""
        return [self.path] if isinstance(self.path, str) else list(self.path)


class FhirSource(BaseModel):
    """Where an entity's records come from in a FHIR R4 Bundle: the resources of one type
    (that pass `where`), or each element `elements` of them (``Claim.item``). For a list,
    each one is a record; for a record, all of them together are the one record; for
    service lines, each one is a line."""

    model_config = STRICT
    resource: ResourceType
    where: FhirPathText | None = Field(
        default=None, description="A FHIRPath condition on the resource: only those it holds for."
    )
    elements: ElementName | None = Field(
        default=None, description="A repeating element of the resource whose each is a record."
    )
    search: SearchParameters | None = Field(
        default=None,
        description="FHIR search parameters that narrow the prefetch query for the resource "
        "to what `where` keeps (minimum necessary), e.g. "
        "'code=http://www.ama-assn.org/go/cpt|38240'. The patient is always searched by.",
    )
    code: FhirValue | None = Field(
        default=None, description="Service lines only: where the line's procedure code is."
    )
    service: FhirValue | None = Field(
        default=None,
        description="Service lines only: where the line names its service (for a service "
        "the guideline gives no procedure code).",
    )


FhirSources = Annotated[
    dict[FieldName, FhirSource],
    Field(description="Named sources of the entity's records in a FHIR Bundle."),
]


class FactDeclaration(BaseModel):
    """One fact a case may hold: its type, what it means, and how to ask for it."""

    model_config = STRICT
    type: FactTypeName
    description: Text
    question: Text = Field(description="The plain words a nurse would use to ask for it.")
    label: Text | None = Field(
        default=None,
        description='A short noun phrase for the fact in reasons ("the visit\'s date"); '
        "{service} stands for the service's label.",
    )
    choices: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, description="For a choice: the words it may hold."
    )
    system: CodeSystem | None = Field(default=None, description="For a code or codes.")
    billable_only: bool = Field(
        default=False,
        description="For ICD-10-CM codes billed on a claim: a heading code (one with more "
        "specific codes) is not billable, does not count, and asks for the billable code.",
    )
    unit: Text | None = Field(default=None, description="For a number, e.g. events/hour.")
    minimum: int | float | None = None
    maximum: int | float | None = None
    default: bool | str | int | float | None = Field(
        default=None, description="The value when the case does not give one."
    )
    default_reason: Text | None = Field(default=None, description="Why the default holds.")
    default_for_fhir: bool = Field(
        default=False,
        description="Whether the default also holds for a case read from FHIR, where a missing "
        "element is no evidence (it does not, unless this says so).",
    )
    fhir: dict[FieldName, FhirValue] = Field(
        default={},
        description="Where the fact is in each FHIR source of its entity (by the source's "
        "name). A fact without one is read only from a QuestionnaireResponse.",
    )


class DerivedDeclaration(BaseModel):
    """A number the engine computes from number facts (and numbers) by a formula, never
    given by a case: ``dose.mg * 28 days / dose.every_days``. Rules name it as they name a
    fact (``dose.per_28_days``); reasons show the computation."""

    model_config = STRICT
    description: Text
    label: Text | None = Field(
        default=None, description='A short noun phrase for it in reasons ("the dose per 28 days").'
    )
    formula: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Numbers (with a unit word: 28 days), facts, + - * /, parentheses, "
        "min(...), max(...), round(x) or round(x, digits)."
    )
    unit: Text | None = Field(
        default=None,
        description="The unit the formula gives (checked: mg * days / days is mg); a "
        "formula that gives none may say %.",
    )


class CaseCheck(BaseModel):
    """What a case's values must satisfy beyond each fact's own type and bounds, where a
    bound depends on another fact: "when the test's kind is spo2, its value is at most
    100". Run on each record (or line) once the case is valid; a check an absent fact
    leaves unknown passes."""

    model_config = STRICT
    when: Condition | None = Field(
        default=None, description="The records the check applies to (all, without it)."
    )
    require: Condition = Field(description="What those records must meet.")
    says: Text = Field(description='Why, in words: "an SpO2 is a percentage, at most 100".')
    failing: Literal["error", "unknown"] = Field(
        default="error",
        description="error: the case is refused, naming the fact; unknown: the facts the "
        "check reads are not used for that record (criteria ask for them), and every line "
        "says why.",
    )


Checks = Annotated[
    list[CaseCheck],
    Field(description="Checks of the entity's values that depend on each other (CaseCheck)."),
]


Derived = Annotated[
    dict[FieldName, DerivedDeclaration],
    Field(description="Numbers computed from the entity's number facts (see DerivedDeclaration)."),
]


class RecordDeclaration(BaseModel):
    """A one-record entity of a case (``patient``)."""

    model_config = STRICT
    description: Text
    fhir: FhirSources = {}
    facts: dict[FieldName, FactDeclaration] = Field(min_length=1)
    derived: Derived = {}
    checks: Checks = []


class ListDeclaration(BaseModel):
    """A named list of records (``visits``), each record with the same facts."""

    model_config = STRICT
    item: FieldName = Field(description="What one record is called in fact paths.")
    description: Text
    question: Text = Field(description="How to ask for a record when the list is empty.")
    replaces: FieldName | None = Field(
        default=None, description="An older key of the case format that this list replaces."
    )
    max_items: int = Field(default=100, ge=1, le=1000)
    complete_when_given: bool = Field(
        default=False,
        description="Whether a list the case gives is the whole truth: then `some` over an "
        "empty one is not met, `none` met and `every` met; absent, the list is unknown "
        "either way. Otherwise (the default) an empty list is unknown too, and asks for a "
        "record. A list read from FHIR is given only when it has a record.",
    )
    fhir: FhirSources = {}
    facts: dict[FieldName, FactDeclaration] = Field(min_length=1)
    derived: Derived = {}
    checks: Checks = []


class ServiceLineDeclaration(BaseModel):
    """The facts of a requested service line, beyond its ``service`` and ``code``."""

    model_config = STRICT
    fhir: FhirSources = {}
    facts: dict[FieldName, FactDeclaration] = {}
    derived: Derived = {}
    checks: Checks = []


class CaseDeclaration(BaseModel):
    """Everything a case may hold beyond its ``case_id`` and its ``services``."""

    model_config = STRICT
    received: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")] | None = Field(
        default=None,
        description="A record's date fact: when the request was received, which picks the "
        "guideline version for a line without a date of service.",
    )
    records: dict[FieldName, RecordDeclaration] = {}
    lists: dict[FieldName, ListDeclaration] = {}
    service: ServiceLineDeclaration = ServiceLineDeclaration()


class IcdEntry(BaseModel):
    """One printed line of an ICD-10-CM code list."""

    model_config = STRICT
    codes: IcdRangeText
    description: Text


class Caveat(BaseModel):
    """Codes a set does not list that a reviewer should be told about when a case has one."""

    model_config = STRICT
    codes: list[IcdRangeText] = Field(min_length=1)
    note: Text


class CodeGroup(BaseModel):
    """Codes a set treats one way, and why (our words, which a reason note shows)."""

    model_config = STRICT
    codes: list[IcdRangeText] = Field(min_length=1)
    reason: Text


class IcdCodeSet(BaseModel):
    """A named set of ICD-10-CM codes and ranges."""

    model_config = STRICT
    system: Literal["ICD-10-CM"]
    title: Text
    citation: Citation
    codes: list[IcdEntry] = Field(min_length=1)
    also_includes: list[CodeGroup] = Field(
        default=[],
        description="Codes the set counts beyond its printed entries (codes newer than the "
        "guideline that refine a listed category), each group with its reason.",
    )
    ask_instead: list[CodeGroup] = Field(
        default=[],
        description="Codes that leave a criterion unknown, asking for the fact again (a "
        "history code where the disease is needed), each group with its reason.",
    )
    caveats: list[Caveat] = []


class ProcedureEntry(BaseModel):
    """One printed line of a code list (of a system other than ICD-10-CM)."""

    model_config = STRICT
    codes: CodeRangeText
    description: Text


class ProcedureCodeSet(BaseModel):
    """A named set of codes of a system other than ICD-10-CM: CPT or HCPCS procedure
    codes (which may route lines), ICD-10-PCS, NDC, RxNorm, LOINC or SNOMED CT codes (which
    criteria test with in_code_set)."""

    model_config = STRICT
    system: Literal["CPT", "HCPCS", "ICD-10-PCS", "NDC", "RxNorm", "LOINC", "SNOMED-CT"]
    title: Text
    citation: Citation | None = Field(
        default=None,
        description="Where the guideline prints these codes. Required for a set that routes "
        "lines (a service's code_set); a service's expected_codes may have none.",
    )
    codes: list[ProcedureEntry] = Field(min_length=1)


def _code_set_system(value: Any) -> str | None:
    if isinstance(value, dict):
        system = value.get("system")
        if system == "ICD-10-CM":
            return "ICD-10-CM"
        return "procedures" if system in get_args(CodeSystem) else str(system)
    return "ICD-10-CM" if isinstance(value, IcdCodeSet) else "procedures"


CodeSet = Annotated[
    Annotated[IcdCodeSet, Tag("ICD-10-CM")] | Annotated[ProcedureCodeSet, Tag("procedures")],
    Discriminator(
        _code_set_system,
        custom_error_type="code_set_system",
        custom_error_message="system must be one of: ICD-10-CM, CPT, HCPCS, ICD-10-PCS, NDC, "
        "RxNorm, LOINC, SNOMED-CT",
    ),
]


class Criterion(BaseModel):
    """One criterion: what it checks, in plain words and in the guideline's words."""

    model_config = STRICT
    id: Name
    label: Text | None = Field(
        default=None,
        description="The criterion as a short statement that is true when it is met "
        "(`visit not billed twice`): a report shows it with yes, no or unknown, "
        "never a double negative such as 'not met: not-genetically-modified'.",
    )
    explanation: Text
    aside: Text | None = Field(
        default=None,
        description="A remark that only bears on a criterion that is met (what else counts): "
        "added to the explanation when it is met, left out when it is not.",
    )
    citation: Citation
    also_cites: list[Citation] = Field(
        default=[], description="Further passages, e.g. definitions, that shape the reading."
    )
    condition: Condition


class Outcome(BaseModel):
    """A service's decision when its criteria are met, or otherwise, and where it is said:
    the guideline's sentence, or, where it states none, the `basis` in our words."""

    model_config = STRICT
    decision: Decision
    citation: Citation | None = None
    basis: Text | None = Field(
        default=None,
        description="Where the guideline states no sentence for this outcome: why it holds.",
    )

    @model_validator(mode="after")
    def _said_somewhere(self) -> Outcome:
        if (self.citation is None) == (self.basis is None):
            raise ValueError("give the guideline's sentence as citation, or a basis (one of them)")
        return self


class LineNote(BaseModel):
    """A note a line gets when a condition holds: what a reviewer should know about a fact
    the criteria do not use."""

    model_config = STRICT
    when: Condition
    note: Text


class NotGoverned(BaseModel):
    """When a line routed to a service is not what the guideline governs after all (an
    unlisted-procedure code the line says is another procedure): the line is then not
    applicable, with this explanation and the guideline's words that bound the service."""

    model_config = STRICT
    when: Condition
    explanation: Text
    citation: Citation


class RecordChoice(BaseModel):
    """Which record of its list a service is judged on, when the list holds several. By
    default, the first record that meets every criterion, else the one that comes closest.
    With `among` and `latest_by`, the latest record that meets `among` is the one, whatever
    the criteria say of it or of the others; `prefer` picks among records that come
    equally close (when no record is the chosen one), and names the records that would have
    met a criterion the chosen one does not."""

    model_config = STRICT
    name: Text = Field(description='What the chosen record is called: "the current plan".')
    explanation: Text = Field(
        description='What makes it the one: "the latest plan signed before the service".'
    )
    among: Condition | None = Field(
        default=None, description="The records that can be the chosen one (met, not unknown)."
    )
    latest_by: FactPath | None = Field(
        default=None,
        description="A date fact of the list's item: of the records `among` admits, the latest "
        "is chosen. When a missing date decides which, criteria that depend on it are unknown "
        "and ask for it.",
    )
    prefer: Condition | None = Field(
        default=None,
        description="Records to judge on first when none is chosen and none meets every "
        "criterion (the record that names the line's own provider, say).",
    )


class Route(BaseModel):
    """When a line whose procedure code several services list is this service's: an
    initial and a continuation authorization of the same drug code, told apart by a
    condition on the line or the case. Consulted only among the services that list the
    line's code; a line the routes of two of them take is an error naming both."""

    model_config = STRICT
    when: Condition
    explanation: Text = Field(description='What makes a line this service: "a first request".')


class ExpectedCodes(BaseModel):
    """The procedure codes a line naming a service is expected to carry, where the guideline
    prints none: a code set of the rule file, and why these codes."""

    model_config = STRICT
    code_set: Name
    note: Text = Field(description='Why these codes: "the guideline prints no code for ..."')


class Service(BaseModel):
    """A service the guideline governs."""

    model_config = STRICT
    id: Name
    title: Text
    label: Text | None = Field(
        default=None, description='A short noun phrase for the service: "the infusion".'
    )
    code_set: Name | None = Field(
        default=None,
        description="The procedure codes that route a line to this service; none if the "
        "guideline lists none (a line then names the service).",
    )
    expected_codes: ExpectedCodes | None = Field(
        default=None,
        description="For a service the guideline lists no code for (code_set: null): the "
        "codes a line naming it is expected to carry. They route nothing; a line with another "
        "code is still judged as this service, with a note naming the code.",
    )
    criteria: list[Criterion] = Field(min_length=1)
    when_met: Outcome
    otherwise: Outcome
    line_notes: list[LineNote] = []
    record_choice: RecordChoice | None = Field(
        default=None, description="How the record of a list the service is judged on is chosen."
    )
    not_governed_when: list[NotGoverned] = Field(
        default=[],
        description="Conditions under which a line routed to this service is not governed "
        "by the guideline (not applicable), each with its explanation and citation.",
    )
    route: Route | None = Field(
        default=None,
        description="For services that list the same procedure codes: the condition that "
        "routes a line to this one.",
    )


class Effective(BaseModel):
    """When a version of a guideline is in effect, by date of service: both ends included,
    either open."""

    model_config = STRICT
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    gap_before: bool = Field(
        default=False, description="The previous version ends before this one starts, on purpose."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise ValueError("to is before from")
        return self


class RuleFile(BaseModel):
    """A whole rule file."""

    model_config = STRICT
    rules_format: Annotated[Literal[2], BeforeValidator(_rules_format)] = Field(
        description="Version of this rule language."
    )
    guideline: Guideline
    effective: Effective | None = None
    case: CaseDeclaration = CaseDeclaration()
    code_sets: dict[Name, CodeSet] = {}
    conditions: dict[Name, Condition] = Field(
        default={},
        description="Conditions defined once by name, and used in criteria as `use: NAME`: "
        "`rules show` prints the name, not the expansion.",
    )
    services: list[Service] = Field(min_length=1)
