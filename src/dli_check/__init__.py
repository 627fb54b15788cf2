"""dli-check: applies a clinical utilization-management guideline to patient cases and says,
for every requested service, whether it is medically necessary, citing the guideline.

Public names are imported on first use, so that a command that needs little (``dli-check
--version``) starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_PUBLIC = {
    "Case": "dli_check.case",
    "Line": "dli_check.case",
    "ProcedureRange": "dli_check.codes",
    "IcdRange": "dli_check.codes",
    "CaseProblem": "dli_check.errors",
    "Rules": "dli_check.engine",
    "RuleSet": "dli_check.versions",
    "evaluate": "dli_check.engine",
    "load_rules": "dli_check.engine",
    "read_case": "dli_check.engine",
    "CaseError": "dli_check.errors",
    "DliCheckError": "dli_check.errors",
    "Problem": "dli_check.errors",
    "RuleFileError": "dli_check.errors",
    "FhirCase": "dli_check.fhir_input",
    "case_from_fhir": "dli_check.fhir_input",
    "questionnaire": "dli_check.questionnaires",
    "CaseResult": "dli_check.results",
    "FactSource": "dli_check.results",
    "Citation": "dli_check.results",
    "Reason": "dli_check.results",
    "ServiceResult": "dli_check.results",
    "case_json_schema": "dli_check.schemas",
    "result_json_schema": "dli_check.schemas",
    "rules_json_schema": "dli_check.schemas",
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


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dli_check' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from dli_check.case import Case, Line
    from dli_check.codes import IcdRange, ProcedureRange
    from dli_check.engine import Rules, evaluate, load_rules, read_case
    from dli_check.errors import CaseError, CaseProblem, DliCheckError, Problem, RuleFileError
    from dli_check.fhir_input import FhirCase, case_from_fhir
    from dli_check.questionnaires import questionnaire
    from dli_check.results import CaseResult, Citation, FactSource, Reason, ServiceResult
    from dli_check.schemas import case_json_schema, result_json_schema, rules_json_schema
    from dli_check.versions import RuleSet
