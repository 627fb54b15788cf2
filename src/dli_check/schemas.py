"""JSON Schemas for integrators: of case files, of results and of rule files."""

from __future__ import annotations

from typing import Any

from dli_check.case import Case
from dli_check.results import CaseResult
from dli_check.rules_model import RuleFile


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file."""
    return RuleFile.model_json_schema()


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of an evaluation result."""
    return CaseResult.model_json_schema(mode="serialization")


def case_json_schema(services: list[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of a case file; `services` narrows each line's ``service`` to the
    services a rule file governs."""
    schema = Case.model_json_schema()
    if services is not None:
        schema["$defs"]["ServiceLine"]["properties"]["service"]["enum"] = list(services)
    return schema
