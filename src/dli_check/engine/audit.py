"""What a case's own lines hold for an auditor, beside their shared results: each line's
position, date of service and ICD-10-CM release, and the facts each criterion read, with
their values (`dli_check.results.CaseAudit`).

Line results are shared between cases that come out alike, so none of this is in them;
`CaseResult.audit` makes it from the validated case when first asked for. What a line's
criteria read depends only on its result and position, so it is worked out once per
result and position, and only the values are looked up per case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.criteria import CompiledService
from dli_check.compiler.logic import line_releases, received_on
from dli_check.results import (
    BY_DEFAULT,
    CaseAudit,
    ConditionAnswer,
    ConditionPath,
    CriterionRead,
    FactRead,
    LineAudit,
    ServiceResult,
    Status,
    made,
    share,
)
from dli_check.values.case import Case, Line
from dli_check.values.icd10cm import releases_on


class CaseRules(Protocol):
    """What the audit needs of the rules that decided a line (a `Rules`)."""

    @property
    def case_format(self) -> CaseFormat:
        """The case the rules read."""

    @property
    def services(self) -> dict[str, CompiledService]:
        """The services, by id."""

    def traced_services(self) -> dict[str, CompiledService]:
        """The services compiled to answer every condition."""


_Getter = tuple[str, str, str, str, int]
"""Where a value is: (its path, the fact's kind, owner, field, the record's index)."""


class Audit:
    """A case's `dli_check.results.AuditSource`: `decided_by[n]` is the validated case and
    the rules line `n` was decided by (versions of a guideline may read a case differently);
    None for a line that could not be given to a version, having no date, which then read
    nothing."""

    __slots__ = ("decided_by",)

    def __init__(self, decided_by: Sequence[tuple[Case, CaseRules] | None]) -> None:
        self.decided_by = decided_by

    def releases(self) -> tuple[str, ...]:
        """Each line's ICD-10-CM release."""
        return tuple(
            releases_on(None).name
            if read_by is None
            else line_releases(
                read_by[0].services[n], received_on(read_by[0], read_by[1].case_format.received)
            ).name
            for n, read_by in enumerate(self.decided_by)
        )

    def conditions(
        self, number: int, result: ServiceResult
    ) -> dict[ConditionPath, ConditionAnswer]:
        """What each condition of line `number`'s criteria came to (its result: `result`),
        on the record its criteria were judged on."""
        read_by = self.decided_by[number]
        if read_by is None or result.version is None or result.service is None:
            return {}
        case, rules = read_by
        service = rules.traced_services().get(result.service)
        if service is None:
            return {}
        record = next((r.record for r in result.reasons if r.record is not None), None)
        at = _position(record) if record is not None else -1
        judged_on = service.judged_on
        rec = case.lists[judged_on][at] if judged_on is not None and at >= 0 else None
        line = case.services[number]
        traced: Any = service.run(case, line, number, rec, at)  # (answers, trace)
        trace: dict[ConditionPath, tuple[Status, tuple[str, ...], tuple[str, ...]]] = traced[1]
        facts = rules.case_format.facts
        answers = {}
        for path, (status, notes, read) in trace.items():
            values = []
            for name in read:
                fact = facts[name]
                where = _where(fact.kind, fact.owner, fact.field, number, record)
                if where is not None:
                    values.append(
                        _fact((where, _value(case, line, fact.kind, fact.owner, fact.field, rec)))
                    )
            by_default = status == "met" and (
                any(n.startswith(BY_DEFAULT) for n in notes)
                or any(
                    facts[n].kind == "service" and facts[n].field in line.defaulted for n in read
                )
            )
            answers[path] = ConditionAnswer(status, by_default, tuple(values))
        return answers

    def __call__(self, services: tuple[ServiceResult, ...]) -> CaseAudit:
        """The case's audit."""
        lines = []
        values: dict[str, Any] = {}
        names = self.releases()
        for number, (read_by, result) in enumerate(zip(self.decided_by, services, strict=True)):
            if read_by is None:
                lines.append(_line(number, None, names[number], ()))
                continue
            case, rules = read_by
            line = case.services[number]
            reads, getters = _reads(rules, result, number)
            for path, kind, owner, name, at in getters:
                if path not in values:
                    record = case.lists[owner][at] if kind == "list" else None
                    values[path] = _value(case, line, kind, owner, name, record)
            lines.append(_line(number, line.facts.get("date"), names[number], reads))
        return made(CaseAudit, lines=tuple(lines), values=tuple(map(_fact, values.items())))


_FACTS: dict[tuple[str, Any], FactRead] = {}
"""Facts read, by path and value: most values recur (a visit's kind, a claim's codes),
and a shared part's JSON is made once."""
_FACTS_LIMIT = 65536


def _fact(item: tuple[str, Any]) -> FactRead:
    try:
        found = _FACTS.get(item)
    except TypeError:  # a value that cannot be a key (none of a validated case's are)
        return FactRead(*item)
    if found is None:
        found = share(FactRead(*item))
        if len(_FACTS) < _FACTS_LIMIT:
            _FACTS[item] = found
    return found


def _line(
    number: int, day: dt.date | None, release: str, read: tuple[CriterionRead, ...]
) -> LineAudit:
    return made(
        LineAudit, position=number, date_of_service=day, code_set_release=release, read=read
    )


_READS: dict[tuple[object, ...], tuple[tuple[CriterionRead, ...], tuple[_Getter, ...]]] = {}
"""What lines read, by rule file, service, position and the records their criteria were
judged on: the same for every case whose line came out so (their JSON is kept on them)."""
_READS_LIMIT = 4096


def _reads(
    rules: CaseRules, result: ServiceResult, number: int
) -> tuple[tuple[CriterionRead, ...], tuple[_Getter, ...]]:
    """What each criterion of line `number`'s service read, and where their values are."""
    version = result.version
    service = rules.services.get(result.service or "") if version is not None else None
    if service is None or version is None:  # not governed, or no version in effect
        return (), ()
    key = (version.rules_sha256, service.id, number, *(r.record for r in result.reasons))
    found = _READS.get(key)
    if found is not None:
        return found
    reads: list[CriterionRead] = []
    getters: list[_Getter] = []
    criteria = {c.id: c for c in service.criteria}
    for reason in result.reasons:
        criterion = criteria.get(reason.criterion)
        if criterion is None:
            continue
        paths = []
        for kind, owner, name in criterion.reads:
            path = _where(kind, owner, name, number, reason.record)
            if path is None:  # judged on no record: the list was empty
                continue
            at = _position(reason.record) if kind == "list" and reason.record else -1
            paths.append(path)
            getters.append((path, kind, owner, name, at))
        reads.append(share(CriterionRead(reason.criterion, tuple(paths))))
    found = (tuple(reads), tuple(getters))
    if len(_READS) < _READS_LIMIT:
        _READS[key] = found
    return found


def _where(kind: str, owner: str, name: str, number: int, record: str | None) -> str | None:
    """Where the case holds a fact read for line `number`, a list's fact being read of
    `record` (``visits[1]``); None for a list's fact when there was no record."""
    if kind == "service":
        return f"services[{number}].{name}"
    if kind == "record":
        return f"{owner}.{name}"
    return f"{record}.{name}" if record is not None else None


def _position(record: str) -> int:
    """The index in ``visits[1]``."""
    return int(record[record.index("[") + 1 : -1])


def _value(
    case: Case, line: Line, kind: str, owner: str, name: str, record: Mapping[str, Any] | None
) -> Any:
    """A fact's value, as the validated case holds it (None: absent)."""
    if kind == "service":
        return line.facts.get(name)
    if kind == "record":
        holder = case.records.get(owner)
        return holder.get(name) if holder is not None else None
    return record.get(name) if record is not None else None
