"""dli-check: applies a clinical utilization-management guideline to patient cases and says,
for every requested service, whether it is medically necessary, citing the guideline."""

__version__ = "0.1.0"

from dli_check.case import Case, Patient, ServiceLine, Transplant  # noqa: E402
from dli_check.codes import CptRange, IcdRange  # noqa: E402
from dli_check.engine import Rules, evaluate, load_rules, read_case  # noqa: E402
from dli_check.errors import CaseError, DliCheckError, Problem, RuleFileError  # noqa: E402
from dli_check.results import CaseResult, Citation, Reason, ServiceResult  # noqa: E402
from dli_check.schemas import case_json_schema, result_json_schema, rules_json_schema  # noqa: E402

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
