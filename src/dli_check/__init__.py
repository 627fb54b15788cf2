"""dli-check: applies a clinical utilization-management guideline to patient cases and says,
for every requested service, whether it is medically necessary, citing the guideline."""

__version__ = "0.1.0"

from dli_check.case import Case, Patient, ServiceLine, Transplant
from dli_check.codes import CptRange, IcdRange
from dli_check.engine import Rules, evaluate, load_rules, read_case
from dli_check.errors import CaseError, DliCheckError, Problem, RuleFileError
from dli_check.results import CaseResult, Citation, Reason, ServiceResult
from dli_check.schemas import case_json_schema, result_json_schema, rules_json_schema

__all__ = [
    "Case",
    "CaseError",
    "CaseResult",
    "Citation",
    "CptRange",
    "DliCheckError",
    "IcdRange",
    "Patient",
    "Problem",
    "Reason",
    "RuleFileError",
    "Rules",
    "ServiceLine",
    "ServiceResult",
    "Transplant",
    "__version__",
    "case_json_schema",
    "evaluate",
    "load_rules",
    "read_case",
    "result_json_schema",
    "rules_json_schema",
]
