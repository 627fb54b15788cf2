"""JSON Schemas for integrators: of case files, of results, of batch records and of rule
files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from dli_check.engine.decider import Decider
from dli_check.language.fact_types import FACT_TYPES
from dli_check.language.facts import Fact
from dli_check.language.model import RuleFile
from dli_check.results import (
    Action,
    CaseAudit,
    CaseResult,
    Decision,
    FactSource,
    Provenance,
    ServiceResult,
)
from dli_check.values.case import MAX_ITEMS, MAX_MODIFIERS, MAX_TEXT

ErrorKind = Literal[
    "invalid_json",
    "invalid_case",
    "encoding",
    "too_large",
    "unreadable",
    "worker_died",
    "internal_error",
    "unsupported",
]


_DECISION_ID = "A UUID (version 5) of the case's sha256, the rule files' and the engine version."
_CASE_SHA256 = "The sha256 of the case's bytes as read (a dict's: of its canonical JSON)."


class RecordProblem(BaseModel):
    """One problem of a case that gave no decision."""

    path: str = Field(description="The field path (services[0].cpt); empty for the whole case.")
    message: str = Field(description="The problem in words; never the value given.")
    line: int | None
    column: int | None


class RecordError(BaseModel):
    """Why an input gave no decision."""

    kind: ErrorKind
    message: str = Field(description="The most relevant problem, and how many more.")
    problems: list[RecordProblem]


class ErrorRecord(BaseModel):
    """The record of an input that gave no decision."""

    source: str = Field(description="The file, or path:line of a JSON Lines input.")
    case_id: str | None
    error: RecordError
    rules_sha256: str


class ResultRecord(BaseModel):
    """The record of an evaluated case: the result, with its source first."""

    source: str = Field(description="The file, or path:line of a JSON Lines input.")
    case_id: str
    decision: Decision
    decision_id: str | None = Field(description=_DECISION_ID)
    case_sha256: str | None = Field(description=_CASE_SHA256)
    services: tuple[ServiceResult, ...]
    provenance: Provenance
    sources: tuple[FactSource, ...] = ()
    audit: CaseAudit | None


class DecisionsLine(BaseModel):
    """One service line of a decisions record: every criterion not met or unknown (for a
    line no service governs, the guideline's own). Every other criterion of a governed
    line's service was met."""

    model_config = ConfigDict(extra="forbid")
    service: str | None
    code: str | None
    decision: Decision
    action: Action
    not_met: list[str]
    unknown: list[str]
    missing: list[str] = Field(description="Fact paths that were absent.")
    rules_sha256: str | None = Field(description="The rule file that decided the line.")
    code_set_release: str | None = Field(
        default=None, description="The ICD-10-CM release the line's codes were read in."
    )


class DecisionsRecord(BaseModel):
    """The record of an evaluated case with ``--detail decisions``: no reasons, no quotes."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="The file, or path:line of a JSON Lines input.")
    case_id: str
    decision: Decision
    decision_id: str | None = Field(description=_DECISION_ID)
    case_sha256: str | None = Field(description=_CASE_SHA256)
    services: list[DecisionsLine]
    rules_sha256: str
    engine_version: str


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file."""
    return RuleFile.model_json_schema()


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of an evaluation result."""
    return TypeAdapter(CaseResult).json_schema(mode="serialization")


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of one line of ``dli-check batch`` output (JSON Lines), full or
    ``--detail decisions``."""
    records = ResultRecord | DecisionsRecord | ErrorRecord
    schema = TypeAdapter(records).json_schema(mode="serialization")
    schema["title"] = "dli-check batch record"
    return schema


def case_json_schema(rules: Decider) -> dict[str, Any]:
    """The JSON Schema of a case file for a rule file: its declared facts, and services
    narrowed to those the rule file governs."""
    case_format = rules.case_format
    d = case_format.declaration

    def fact_schema(fact: Fact) -> dict[str, Any]:
        decl = fact.declaration
        one = FACT_TYPES[decl.type].json_schema(decl)
        description = decl.description
        if decl.unit:
            description += f" ({decl.unit})"
        if decl.default is not None:
            description += f" Absent or null: {decl.default} ({decl.default_reason})"
        return {"anyOf": [one, {"type": "null"}], "description": description}

    def record_schema(description: str, facts: list[Fact]) -> dict[str, Any]:
        return {
            "type": "object",
            "description": description,
            "additionalProperties": False,
            "properties": {f.field: fact_schema(f) for f in facts},
        }

    properties: dict[str, Any] = {
        "case_id": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
    }
    for name, record in d.records.items():
        facts = [case_format.facts[f"{name}.{f}"] for f in record.facts]
        properties[name] = {"anyOf": [record_schema(record.description, facts), {"type": "null"}]}
    for name, listed in d.lists.items():
        facts = [case_format.facts[f"{listed.item}.{f}"] for f in listed.facts]
        items = record_schema(listed.description, facts)
        properties[name] = {
            "anyOf": [
                {"type": "array", "maxItems": listed.max_items, "items": items},
                {"type": "null"},
            ]
        }
    line = record_schema(
        "A requested service line: a service of the rule file, a procedure code, or both.",
        [case_format.facts[f"service.{f}"] for f in d.service.facts],
    )
    line["properties"] = {
        "service": {"enum": list(rules.services)},
        "code": {
            "type": "string",
            "description": "A CPT or HCPCS code, as billed: modifiers may follow it "
            "(38242-59, 38242 59).",
            "pattern": "^[ \\t]*([0-9]{4}[0-9FTft]|[A-Va-v][0-9]{4})"
            "([- \\t]+[0-9A-Za-z]{2}){0,4}[ \\t]*$",
        },
        "modifiers": {
            "type": "array",
            "description": "The code's modifiers (two letters or digits each).",
            "maxItems": MAX_MODIFIERS,
            "items": {"type": "string", "pattern": "^[ \\t]*[0-9A-Za-z]{2}[ \\t]*$"},
        },
        **line["properties"],
    }
    line["anyOf"] = [{"required": ["service"]}, {"required": ["code"]}]
    properties["services"] = {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": line}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"A case for {rules.guideline_id}",
        "type": "object",
        "additionalProperties": False,
        "required": ["case_id", "services"],
        "properties": properties,
    }
