"""Guideline versions: the rule files of one guideline, each in effect for a period of dates
of service, and each service line judged by the version in effect on its date.

A rule file says when it is in effect with ``effective: {from: DATE, to: DATE}`` (either end
open, both inclusive). A directory of rule files is a `RuleSet`: versions of one guideline
whose periods may not overlap, nor leave a gap inside the span they cover unless the later
version declares it (``gap_before: true``). A line is judged by the version in effect on its
``date``; without a date, by the case's received date if the case format declares one
(``case.received``); else, when more than one version could apply, the date is asked for.
A line dated outside every period is `no_version_in_effect`, referred to a person, with a
reason naming the loaded periods and how to load the version that was in effect; a line no
version governs is not applicable, whatever its date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.checks import CompiledCheck
from dli_check.compiler.criteria import CompiledService
from dli_check.engine.audit import Audit
from dli_check.engine.rules import (
    Rules,
    case_from_data,
    decide_lines,
    no_version_in_effect,
    rules_from_bytes,
)
from dli_check.errors import CaseError, Problem, RuleFileError
from dli_check.files import read_rule_file
from dli_check.results import (
    CaseResult,
    ServiceResult,
    case_decision,
)
from dli_check.values.case import Case, ValueProblem, iso_date

SUITE_SUFFIX = ".tests.yaml"
"""Test suites of rule files end so, and are no versions of a rule file."""


@dataclass(frozen=True)
class RuleSet:
    """The versions of one guideline, in date order."""

    source: str
    versions: tuple[Rules, ...]

    @property
    def guideline_id(self) -> str:
        """The guideline's id."""
        return self.versions[0].guideline_id

    @property
    def sha256(self) -> str:
        """One hash for the whole set: the sha256 of its versions' sha256s, in order."""
        joined = "".join(v.sha256 for v in self.versions).encode()
        return hashlib.sha256(joined).hexdigest()

    @property
    def latest(self) -> Rules:
        """The version in effect last."""
        return self.versions[-1]

    @property
    def case_format(self) -> CaseFormat:
        """The latest version's case format (for its questions and schema)."""
        return self.latest.case_format

    @property
    def services(self) -> dict[str, CompiledService]:
        """The latest version's services."""
        return self.latest.services

    @property
    def checks(self) -> tuple[CompiledCheck, ...]:
        """The latest version's case checks."""
        return self.latest.checks

    def services_for_code(self, code: str) -> tuple[CompiledService, ...]:
        """The latest version's services that list a procedure code."""
        return self.latest.services_for_code(code)

    @property
    def field_names(self) -> frozenset[str]:
        """Every key a case may hold under some version."""
        return frozenset().union(*(v.case_format.field_names for v in self.versions))

    def version_on(self, day: dt.date) -> Rules | None:
        """The version in effect on a date of service, if any."""
        for version in self.versions:
            start, end = version.period
            if (start is None or start <= day) and (end is None or day <= end):
                return version
        return None

    def decide_data(self, data: Any, source: str, *, read_from_fhir: bool = False) -> CaseResult:
        """Decide decoded case data, each line by the version in effect on its date."""
        if not isinstance(data, Mapping):
            raise CaseError.one(source, "a case must be a JSON object")
        lines = data.get("services")
        count = len(lines) if isinstance(lines, list) else 0
        received = _received(data, self.latest)
        chosen: list[Rules | ServiceResult | dt.date] = []
        for number in range(count):
            day = _line_date(lines[number])  # type: ignore[index]
            chosen.append(self._choose(day or received, number))
        results: list[ServiceResult | None] = [
            c if isinstance(c, ServiceResult) else None for c in chosen
        ]
        provenance = None
        used = {id(c): c for c in chosen if isinstance(c, Rules)}  # Rules are not hashable
        outside = [(i, c) for i, c in enumerate(chosen) if isinstance(c, dt.date)]
        # Each line's validated case and the version that read it, for the audit.
        read_by: list[tuple[Case, Rules] | None] = [None] * count
        if outside or not used:  # the latest version checks the case, and routes such lines
            case = case_from_data(data, self.latest, source=source, read_from_fhir=read_from_fhir)
            read_by = [(case, self.latest)] * count
            for number, day in outside:
                results[number] = no_version_in_effect(self.versions, case.services[number], day)
        for version in used.values():
            case = case_from_data(data, version, source=source, read_from_fhir=read_from_fhir)
            numbers = [i for i, c in enumerate(chosen) if c is version]
            for number, result in zip(numbers, decide_lines(case, version, numbers), strict=True):
                results[number] = result
                read_by[number] = (case, version)
            provenance = provenance or version.provenance
        decided = tuple(r for r in results if r is not None)
        case_id = data.get("case_id")
        audit = Audit(read_by)
        return CaseResult(
            case_id if isinstance(case_id, str) else "",
            case_decision(tuple(r.decision for r in decided)),
            decided,
            provenance or self.latest.provenance,
            audit_from=audit,
        )

    def _choose(self, day: dt.date | None, number: int) -> Rules | ServiceResult | dt.date:
        """The version that decides a line; or its result, when its date is needed; or
        its date, when no version was in effect on it."""
        if day is None:
            if len(self.versions) == 1:
                return self.versions[0]
            return _date_needed(self.latest, number)
        return self.version_on(day) or day


def _line_date(line: object) -> dt.date | None:
    if isinstance(line, Mapping):
        try:
            return iso_date(line.get("date"))
        except ValueProblem:
            return None
    return None


def _received(data: Mapping[str, Any], rules: Rules) -> dt.date | None:
    path = rules.case_format.received
    if path is None:
        return None
    record, _, field = path.partition(".")
    holder = data.get(record)
    if not isinstance(holder, Mapping):
        return None
    try:
        return iso_date(holder.get(field))
    except ValueProblem:
        return None


def _date_needed(rules: Rules, number: int) -> ServiceResult:
    return rules.guideline_result(
        "date-of-service",
        "unknown",
        f"{rules.guideline_id} has more than one version: the date of service says which "
        "one applies.",
        missing=(f"services[{number}].date",),
        versioned=False,
    )


def load_rule_set(directory: Path) -> RuleSet:
    """Every rule file in a directory (``*.yaml``, not test suites) as the versions of one
    guideline. Raises `RuleFileError` for overlapping periods, undeclared gaps, or files of
    two guidelines."""
    return RuleSet(str(directory), tuple(check_versions(_rule_files(directory))))


def load_guidelines(directory: Path) -> list[RuleSet]:
    """Every rule file in a directory, grouped by guideline: one `RuleSet` of versions per
    guideline, in the order of their ids. A directory is read the same way as by
    `load_rule_set`, which takes one guideline only. Raises `RuleFileError` as it does."""
    by_id: dict[str, list[Rules]] = {}
    for rules in _rule_files(directory):
        by_id.setdefault(rules.guideline_id, []).append(rules)
    return [RuleSet(str(directory), tuple(check_versions(by_id[id]))) for id in sorted(by_id)]


def _rule_files(directory: Path) -> list[Rules]:
    paths = sorted(p for p in directory.glob("*.yaml") if not p.name.endswith(SUITE_SUFFIX))
    if not paths:
        raise RuleFileError([Problem((), "no rule file (*.yaml) here", str(directory), 1, 1)])
    return [rules_from_bytes(read_rule_file(p), str(p)) for p in paths]


def check_versions(versions: list[Rules]) -> list[Rules]:
    """The versions in date order; raises `RuleFileError` for files of two guidelines,
    overlapping periods, or a gap the later version does not declare."""
    ids = {v.guideline_id for v in versions}
    if len(ids) > 1:
        problem = (
            f"holds rule files of {len(ids)} guidelines ({', '.join(sorted(ids))}): one at a time"
        )
        raise RuleFileError([Problem((), problem, versions[0].source, 1, 1)])
    ordered = sorted(versions, key=lambda v: v.period[0] or dt.date.min)
    problems = []
    for earlier, later in pairwise(ordered):
        _, end = earlier.period
        start, _ = later.period
        where = later.source
        if end is None or start is None or start <= end:
            problems.append(
                Problem(
                    ("effective",), f"overlaps {Path(earlier.source).name}'s period", where, 1, 1
                )
            )
        elif start > end + dt.timedelta(days=1) and not later.model.effective.gap_before:  # type: ignore[union-attr]
            problems.append(
                Problem(
                    ("effective",),
                    f"leaves a gap after {Path(earlier.source).name} ({end} to {start}); declare "
                    "it with gap_before: true",
                    where,
                    1,
                    1,
                )
            )
    if problems:
        raise RuleFileError(problems)
    return ordered
