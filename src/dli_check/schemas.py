"""JSON Schemas for integrators: of case files, of results, of batch records and of rule
files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from dli_check.engine import Rules
from dli_check.results import CaseResult
from dli_check.rules_model import RuleFile

ErrorKind = Literal[
    "invalid_json",
    "invalid_case",
    "encoding",
    "too_large",
    "unreadable",
    "worker_died",
    "internal_error",
]


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


class ResultRecord(CaseResult):
    """The record of an evaluated case: the result, with its source first."""

    source: str = Field(description="The file, or path:line of a JSON Lines input.")


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file."""
    return RuleFile.model_json_schema()


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of an evaluation result."""
    return CaseResult.model_json_schema(mode="serialization")


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of one line of ``dli-check batch`` output (JSON Lines)."""
    schema = TypeAdapter(ResultRecord | ErrorRecord).json_schema(mode="serialization")
    schema["title"] = "dli-check batch record"
    return schema


def case_json_schema(rules: Rules) -> dict[str, Any]:
    """The JSON Schema of a case file for a rule file: its declared facts, and services
    narrowed to those the rule file governs."""
    from dli_check.case_format import case_json_schema as schema

    title = f"A case for {rules.guideline_id}"
    return schema(rules.case_format, list(rules.services), title)
