"""dli-check: applies a clinical utilization-management guideline to patient cases and says,
for every requested service, whether it is medically necessary, citing the guideline.

Public names are imported on first use, so that a command that needs little (``dli-check
--version``) starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dli_check._version import __version__

_PUBLIC = {
    "Case": "dli_check.values.case",
    "Line": "dli_check.values.case",
    "ProcedureRange": "dli_check.values.codes",
    "IcdRange": "dli_check.values.codes",
    "CaseProblem": "dli_check.errors",
    "Rules": "dli_check.engine.rules",
    "RuleSet": "dli_check.engine.versions",
    "evaluate": "dli_check.api",
    "load_rules": "dli_check.api",
    "read_case": "dli_check.api",
    "CaseError": "dli_check.errors",
    "DliCheckError": "dli_check.errors",
    "Problem": "dli_check.errors",
    "RuleFileError": "dli_check.errors",
    "FhirCase": "dli_check.inputs.fhir",
    "case_from_fhir": "dli_check.inputs.fhir",
    "questionnaire": "dli_check.interop.questionnaires",
    "CaseResult": "dli_check.results",
    "FactSource": "dli_check.results",
    "Citation": "dli_check.results",
    "Reason": "dli_check.results",
    "ServiceResult": "dli_check.results",
    "case_json_schema": "dli_check.outputs.schemas",
    "result_json_schema": "dli_check.outputs.schemas",
    "rules_json_schema": "dli_check.outputs.schemas",
}

__all__ = [
    "Case",
    "CaseError",
    "CaseProblem",
    "CaseResult",
    "Citation",
    "DliCheckError",
    "FactSource",
    "FhirCase",
    "IcdRange",
    "Line",
    "Problem",
    "ProcedureRange",
    "Reason",
    "RuleFileError",
    "RuleSet",
    "Rules",
    "ServiceResult",
    "__version__",
    "case_from_fhir",
    "case_json_schema",
    "evaluate",
    "load_rules",
    "questionnaire",
    "read_case",
    "result_json_schema",
    "rules_json_schema",
]


def __dir__() -> list[str]:
    """The public names (and the module's own), though most are imported on first use."""
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dli_check' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from dli_check.api import evaluate, load_rules, read_case
    from dli_check.engine.rules import Rules
    from dli_check.engine.versions import RuleSet
    from dli_check.errors import CaseError, CaseProblem, DliCheckError, Problem, RuleFileError
    from dli_check.inputs.fhir import FhirCase, case_from_fhir
    from dli_check.interop.questionnaires import questionnaire
    from dli_check.outputs.schemas import case_json_schema, result_json_schema, rules_json_schema
    from dli_check.results import CaseResult, Citation, FactSource, Reason, ServiceResult
    from dli_check.values.case import Case, Line
    from dli_check.values.codes import IcdRange, ProcedureRange
