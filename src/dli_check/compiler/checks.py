"""Declared case checks: what a case's values must satisfy beyond each fact's own type and
bounds, where the bound depends on another fact ("when the test's kind is spo2, its value
is at most 100"). Each check is compiled, like a criterion, to a function of its
conditions, and run on each record (or line) once the case is valid.

A check whose `require` is not met where its `when` is met either refuses the case (a
`CaseProblem` at the fact it reads: ``tests[1].value``) or, declared ``failing: unknown``,
sets the facts it reads on that record to absent, so that criteria reading them are
unknown and ask for them, with a note on every line saying why. A check that cannot be
judged (an absent fact) passes: absence is the criteria's business.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dli_check.compiler.builder import Builder
from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.logic import Run
from dli_check.errors import CaseProblem, PathKey, Problem
from dli_check.values.case import Case, Line
from dli_check.values.codes import IcdCodeSet, ProcedureCodeSet
from dli_check.values.icd10cm import code_index

if TYPE_CHECKING:
    from dli_check.language import model as rm


@dataclass(frozen=True)
class CompiledCheck:
    """One declared check, ready to run."""

    kind: str
    """``record``, ``list`` or ``service``: what it runs on."""
    owner: str
    """The record's or the list's key (``services`` for lines)."""
    says: str
    failing: str
    """``error`` or ``unknown``."""
    fields: tuple[str, ...]
    """The fields of the record (or line) its `require` reads."""
    has_when: bool
    source: str = field(repr=False)
    """The generated Python, for `rules show --format python`."""
    run: Run = field(repr=False)


def compile_checks(
    model: rm.RuleFile, case_format: CaseFormat, problems: list[Problem]
) -> tuple[CompiledCheck, ...]:
    """Every declared check, compiled; problems are added to `problems`."""
    from dli_check.compiler.criteria import code_sets

    icd, plain = code_sets(model)
    sets: dict[str, IcdCodeSet | ProcedureCodeSet] = {**icd, **plain}
    found = []
    for kind, owner, declared, where in _declared(model.case):
        for k, check in enumerate(declared):
            at: PathKey = (*where, "checks", k)
            builder = Builder(case_format, sets, code_index(), problems, "the service")
            if check.when is not None:
                builder.criterion("when", check.when, (*at, "when"))
            builder.criterion("require", check.require, (*at, "require"))
            read = [f for f in builder.reads.values() if f.owner == owner and f.kind == kind]
            elsewhere = [f.path for f in builder.reads.values() if f.kind not in ("record", kind)]
            if elsewhere or (kind == "list" and builder.bound_list not in (None, owner)):
                message = f"a check of {owner} reads only its own facts and records' facts"
                problems.append(Problem(at, message))
                continue
            if not read:
                problems.append(Problem((*at, "require"), f"reads no fact of {owner}"))
                continue
            source, run = builder.function(f"check {owner} {k}")
            fields = tuple(f.field for f in read)
            says = " ".join(check.says.split())
            has_when = check.when is not None
            found.append(
                CompiledCheck(kind, owner, says, check.failing, fields, has_when, source, run)
            )
    return tuple(found)


def _declared(
    case: rm.CaseDeclaration,
) -> Iterator[tuple[str, str, list[rm.CaseCheck], PathKey]]:
    for name, record in case.records.items():
        yield "record", name, record.checks, ("case", "records", name)
    for name, listed in case.lists.items():
        yield "list", name, listed.checks, ("case", "lists", name)
    yield "service", "services", case.service.checks, ("case", "service")


def apply_checks(case: Case, checks: tuple[CompiledCheck, ...]) -> tuple[Case, list[CaseProblem]]:
    """The case, with the facts failed ``unknown`` checks read set to absent, and the
    problems of failed ``error`` checks."""
    problems: list[CaseProblem] = []
    doubts: list[str] = []
    records = dict(case.records)
    lists = {name: list(items) for name, items in case.lists.items()}
    lines = list(case.services)
    for check in checks:
        for place, index, holder in _places(check, records, lists, lines):
            line = lines[0] if check.kind != "service" else holder
            answers = check.run(case, line, index, holder if check.kind == "list" else None, index)
            when, require = answers if check.has_when else (("met", (), ()), answers[0])
            if when[0] != "met" or require[0] != "not_met":
                continue
            if check.failing == "error":
                problems.append(CaseProblem((*place, check.fields[0]), check.says))
                continue
            fields = " and ".join(check.fields)
            verb = "are" if len(check.fields) > 1 else "is"
            doubts.append(f"{_written(place)}: {check.says}; its {fields} {verb} not used")
            _forget(check, index, records, lists, lines)
    if problems or not doubts:
        return case, problems
    changed = case._replace(
        records=records,
        lists={name: tuple(items) for name, items in lists.items()},
        services=tuple(lines),
        doubts=case.doubts + tuple(doubts),
    )
    return changed, []


def _places(
    check: CompiledCheck,
    records: Mapping[str, Mapping[str, Any] | None],
    lists: Mapping[str, list[Mapping[str, Any]]],
    lines: list[Line],
) -> Iterator[tuple[PathKey, int, Any]]:
    if check.kind == "record":
        if records.get(check.owner) is not None:
            yield (check.owner,), -1, None
    elif check.kind == "list":
        for i, record in enumerate(lists[check.owner]):
            yield (check.owner, i), i, record
    else:
        for i, line in enumerate(lines):
            yield ("services", i), i, line


def _forget(
    check: CompiledCheck,
    index: int,
    records: dict[str, Mapping[str, Any] | None],
    lists: dict[str, list[Mapping[str, Any]]],
    lines: list[Line],
) -> None:
    absent = dict.fromkeys(check.fields)
    if check.kind == "record":
        records[check.owner] = {**(records[check.owner] or {}), **absent}
    elif check.kind == "list":
        lists[check.owner][index] = {**lists[check.owner][index], **absent}
    else:
        line = lines[index]
        lines[index] = line._replace(facts={**line.facts, **absent})


def _written(place: PathKey) -> str:
    head, *rest = place
    return str(head) + "".join(f"[{i}]" for i in rest)
