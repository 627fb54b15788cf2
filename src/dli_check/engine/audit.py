"""What a case's own lines hold for an auditor, beside their shared results: each line's
position, date of service and ICD-10-CM release, and the facts each criterion read, with
their values (`dli_check.results.LineAudit`).

Line results are shared between cases that come out alike, so none of this is in them;
`CaseResult.audit` makes it from the validated case when first asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.criteria import CompiledService
from dli_check.compiler.logic import line_releases
from dli_check.results import CaseAudit, CriterionRead, FactRead, LineAudit, ServiceResult
from dli_check.values.case import Case
from dli_check.values.icd10cm import releases_on


class CaseRules(Protocol):
    """What the audit needs of the rules that decided a line (a `Rules`)."""

    @property
    def case_format(self) -> CaseFormat:
        """The case the rules read."""

    @property
    def services(self) -> dict[str, CompiledService]:
        """The services, by id."""


def line_audits(
    decided_by: Sequence[tuple[Case, CaseRules] | None], results: tuple[ServiceResult, ...]
) -> CaseAudit:
    """The case's audit: `decided_by[n]` is the validated case and the rules line `n` was
    decided by (versions of a guideline may read a case differently); None for a line
    that could not be given to a version, having no date, which then read nothing."""
    lines = []
    values: dict[str, Any] = {}
    for number, (read_by, result) in enumerate(zip(decided_by, results, strict=True)):
        if read_by is None:
            lines.append(LineAudit(number, None, releases_on(None).name, ()))
            continue
        case, rules = read_by
        line = case.services[number]
        release = line_releases(case, line, rules.case_format.received).name
        read = _read(case, number, rules, result, values)
        lines.append(LineAudit(number, line.facts.get("date"), release, read))
    return CaseAudit(tuple(lines), tuple(FactRead(k, v) for k, v in values.items()))


def _read(
    case: Case, number: int, rules: CaseRules, result: ServiceResult, values: dict[str, Any]
) -> tuple[CriterionRead, ...]:
    """What each criterion of the line's service read; the values go into `values`."""
    service = rules.services.get(result.service or "") if result.version is not None else None
    if service is None:  # not governed, or no version in effect: no criterion read a fact
        return ()
    line = case.services[number]
    criteria = {c.id: c for c in service.criteria}
    read = []
    for reason in result.reasons:
        criterion = criteria.get(reason.criterion)
        if criterion is None:
            continue
        paths = []
        for kind, owner, name in criterion.reads:
            if kind == "service":
                path, value = f"services[{number}].{name}", line.facts.get(name)
            elif kind == "record":
                holder = case.records.get(owner)
                path, value = f"{owner}.{name}", holder.get(name) if holder is not None else None
            elif reason.record is not None:  # the record of a list it was judged on
                at = int(reason.record[len(owner) + 1 : -1])
                path, value = f"{reason.record}.{name}", case.lists[owner][at].get(name)
            else:  # judged on no record: the list was empty
                continue
            paths.append(path)
            if path not in values:
                values[path] = _json(value)
        read.append(CriterionRead(reason.criterion, tuple(paths)))
    return tuple(read)


def _json(value: Any) -> Any:
    """A case value as JSON has it: dates as ISO text, lists as tuples (of such values)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return tuple(_json(v) for v in value)
    return value
