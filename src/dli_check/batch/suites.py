"""Rule-file test suites: example cases with the outcomes their author expects, kept beside
the rule file (``cg-trans-03.tests.yaml``) and run like ``opa test`` or ``semgrep --test``,
with criterion coverage: for each criterion, whether the suite saw it met, not met and
unknown (of the statuses it can take at all), and for each service, whether each decision
it can reach was reached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from dli_check.api import evaluate
from dli_check.engine.rules import Rules, rules_from_bytes
from dli_check.engine.versions import SUITE_SUFFIX
from dli_check.errors import CaseError, Problem, RuleFileError
from dli_check.files import read_rule_file
from dli_check.language import operators as op
from dli_check.language.messages import data_path, describe
from dli_check.language.operators import STRICT
from dli_check.language.text import load_rule_text
from dli_check.results import CaseResult, Decision, Status

STATUSES: tuple[Status, ...] = ("met", "not_met", "unknown")


class ExpectedLine(BaseModel):
    """What one service line should come out as; criteria not named are not checked."""

    model_config = STRICT
    service: str | None = Field(
        default=None, description="The service the line is decided as; not checked when absent."
    )
    decision: Decision
    criteria: dict[str, Status] = {}
    missing: list[str] | None = Field(
        default=None, description="The missing facts, in order; not checked when absent."
    )
    notes: list[str] | None = Field(
        default=None,
        description="The line's notes (not its reasons'), in order; not checked when absent.",
    )


class Expected(BaseModel):
    """What a case should come out as: its decision and lines, or a case error."""

    model_config = STRICT
    decision: Decision | None = None
    lines: list[ExpectedLine] = []
    error: str | None = Field(
        default=None,
        description="The CaseError expected instead: its message, without the line:column "
        "it is at (the whole message with it matches too).",
    )
    at: Annotated[str, Field(pattern=r"^[0-9]+:[0-9]+$")] | None = Field(
        default=None, description="Where the expected error is in a case file: LINE:COLUMN."
    )


class SuiteTest(BaseModel):
    """One test: a case (inline, or a path relative to the suite) and what it should give."""

    model_config = STRICT
    name: str = Field(min_length=1)
    case: dict[str, Any] | str
    expect: Expected


class Unreachable(BaseModel):
    """A status a criterion cannot take, which coverage should not ask for, and why (the
    way a coverage pragma excludes a line)."""

    model_config = STRICT
    service: str
    criterion: str
    statuses: list[Status] = Field(min_length=1)
    reason: str = Field(min_length=1)


class EquivalentMutant(BaseModel):
    """A mutant of the rule file that no test can kill because it changes nothing a case
    can show (`rules test --mutate`), and why."""

    model_config = STRICT
    mutant: str = Field(
        min_length=1, description="As the report names it: 'PATH: what was changed'."
    )
    reason: str = Field(min_length=1)


class Suite(BaseModel):
    """A rule file's test suite."""

    model_config = STRICT
    rules: str | None = Field(
        default=None,
        description="The rule file, relative to the suite (default: the suite's name "
        "without .tests).",
    )
    unreachable: list[Unreachable] = []
    equivalent_mutants: list[EquivalentMutant] = []
    tests: list[SuiteTest] = Field(min_length=1)


@dataclass
class Coverage:
    """What a suite exercised of one rule file, against what can happen at all."""

    seen: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(service, criterion) -> statuses seen."""
    possible: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    outcomes_seen: dict[str, set[str]] = field(default_factory=dict)
    outcomes_possible: dict[str, set[str]] = field(default_factory=dict)

    def gaps(self) -> list[str]:
        """What can happen but no test made happen, in words."""
        words = []
        for (service, criterion), possible in self.possible.items():
            missed = sorted(possible - self.seen.get((service, criterion), set()))
            if missed:
                words.append(f"{service} {criterion}: never {' or '.join(missed)}")
        for service, possible in self.outcomes_possible.items():
            missed = sorted(possible - self.outcomes_seen.get(service, set()))
            if missed:
                words.append(f"{service}: never decided {' or '.join(missed)}")
        return words

    @property
    def percent(self) -> float:
        """The share of possible statuses and outcomes the suite reached."""
        total = sum(len(p) for p in self.possible.values())
        total += sum(len(p) for p in self.outcomes_possible.values())
        reached = sum(len(p & self.seen.get(key, set())) for key, p in self.possible.items()) + sum(
            len(p & self.outcomes_seen.get(s, set())) for s, p in self.outcomes_possible.items()
        )
        return 100.0 * reached / total if total else 100.0


@dataclass
class SuiteReport:
    """The outcome of running a suite."""

    suite: str
    rules: Rules
    passed: int = 0
    failures: list[tuple[str, list[str]]] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)


class SuiteError(RuleFileError):
    """A test suite that cannot be run: its problems, with file, line and column."""


def suite_path_for(rules_path: Path) -> Path:
    """Where the suite of a rule file is kept: beside it, ``NAME.tests.yaml``."""
    return rules_path.with_name(rules_path.name.removesuffix(".yaml") + SUITE_SUFFIX)


def load_suite(path: Path) -> Suite:
    """Read and validate a suite file; raises `SuiteError` with every problem located."""
    name = str(path)
    located = load_rule_text(read_rule_file(path), name)
    try:
        return Suite.model_validate(located.data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            where = data_path(located.data, e["loc"], missing=e["type"] == "missing")
            line, column = located.position(where)
            problems.append(Problem(where, describe(e), name, line, column))
        raise SuiteError(problems) from None


def run_suite(path: Path) -> SuiteReport:
    """Run the suite at `path` against its rule file."""
    suite = load_suite(path)
    rules_path = rules_path_of(suite, path)
    rules = rules_from_bytes(read_rule_file(rules_path), str(rules_path))
    report = SuiteReport(str(path), rules)
    report.coverage.possible, report.coverage.outcomes_possible = possible_outcomes(rules)
    for excluded in suite.unreachable:
        key = (excluded.service, excluded.criterion)
        if key not in report.coverage.possible:
            raise SuiteError(
                [
                    Problem(
                        ("unreachable",), f"no criterion {key[1]!r} in {key[0]!r}", str(path), 1, 1
                    )
                ]
            )
        report.coverage.possible[key] -= set(excluded.statuses)
    for test in suite.tests:
        differences = outcome_differences(test, path.parent, rules, report.coverage)
        if differences:
            report.failures.append((test.name, differences))
        else:
            report.passed += 1
    return report


def rules_path_of(suite: Suite, suite_path: Path) -> Path:
    """The rule file a suite tests: the one it names, else the one beside it."""
    if suite.rules:
        return suite_path.parent / suite.rules
    return suite_path.with_name(suite_path.name.removesuffix(SUITE_SUFFIX) + ".yaml")


def outcome_differences(
    test: SuiteTest, base: Path, rules: Rules, coverage: Coverage | None = None
) -> list[str]:
    """How a test's outcome differs from what it expects (empty: it passes); what it
    reached is added to `coverage`, when given."""
    case: Any = test.case
    if isinstance(case, str):
        case = str(base / case)
    try:
        result = evaluate(case, rules, source=test.name)
    except CaseError as exc:
        if test.expect.error is None:
            return [f"case error: {exc.detail}"]
        return _error_differences(test.expect, exc)
    if coverage is not None:
        _count(result, coverage)
    return _differences(test.expect, result)


def _error_differences(expect: Expected, exc: CaseError) -> list[str]:
    """How a case error differs from the one expected: its message (with or without its
    position), and where it is, when the test says."""
    head = exc.headline
    at = f"{head.line}:{head.column}" if head.line is not None else None
    message = exc.detail.removeprefix(f"{at}: ") if at else exc.detail
    found = []
    if expect.error not in (message, exc.detail):
        found.append(f"error: expected {expect.error!r}, got {message!r}")
    if expect.at is not None and expect.at != at:
        found.append(f"error at: expected {expect.at}, got {at or 'no position'}")
    return found


def _count(result: CaseResult, coverage: Coverage) -> None:
    for line in result.services:
        if line.service is None:
            continue
        coverage.outcomes_seen.setdefault(line.service, set()).add(line.decision)
        for reason in line.reasons:
            coverage.seen.setdefault((line.service, reason.criterion), set()).add(reason.status)


def _differences(expect: Expected, result: CaseResult) -> list[str]:
    found = []
    if expect.error is not None:
        return [f"error: expected {expect.error!r}, got a decision"]
    if expect.decision is not None and expect.decision != result.decision:
        found.append(f"decision: expected {expect.decision}, got {result.decision}")
    if expect.lines and len(expect.lines) != len(result.services):
        found.append(f"lines: expected {len(expect.lines)}, got {len(result.services)}")
    for i, (wanted, line) in enumerate(zip(expect.lines, result.services, strict=False)):
        where = f"services[{i}]"
        if wanted.service is not None and wanted.service != line.service:
            found.append(f"{where}.service: expected {wanted.service}, got {line.service}")
        if wanted.decision != line.decision:
            found.append(f"{where}.decision: expected {wanted.decision}, got {line.decision}")
        statuses = {r.criterion: r.status for r in line.reasons}
        for criterion, status in wanted.criteria.items():
            got = statuses.get(criterion, "absent")
            if got != status:
                found.append(f"{where}.{criterion}: expected {status}, got {got}")
        if wanted.missing is not None and list(line.missing) != wanted.missing:
            found.append(
                f"{where}.missing: expected {json.dumps(wanted.missing)}, "
                f"got {json.dumps(list(line.missing))}"
            )
        if wanted.notes is not None and list(line.notes) != wanted.notes:
            found.append(
                f"{where}.notes: expected {json.dumps(wanted.notes)}, "
                f"got {json.dumps(list(line.notes))}"
            )
    return found


def possible_outcomes(
    rules: Rules,
) -> tuple[dict[tuple[str, str], set[str]], dict[str, set[str]]]:
    """Each criterion's possible statuses, and each service's reachable decisions, worked out
    from the conditions: a constant is never unknown, `present` never unknown..."""
    criteria: dict[tuple[str, str], set[str]] = {}
    outcomes: dict[str, set[str]] = {}
    for service in rules.model.services:
        statuses = []
        for criterion in service.criteria:
            possible = _possible(criterion.condition)
            criteria[(service.id, criterion.id)] = possible
            statuses.append(possible)
        reachable: set[str] = set()
        if all("met" in s for s in statuses):
            reachable.add(service.when_met.decision)
        if any("not_met" in s for s in statuses):
            reachable.add(service.otherwise.decision)
        if any("unknown" in s for s in statuses) and all(
            "met" in s or "unknown" in s for s in statuses
        ):
            reachable.add("insufficient_information")
        outcomes[service.id] = reachable
    return criteria, outcomes


def _possible(cond: Any) -> set[str]:
    if isinstance(cond, op.Constant):
        return {"met" if cond.constant else "not_met"}
    if isinstance(cond, op.Present):
        return {"met", "not_met"}
    if isinstance(cond, op.Not):
        negate = {"met": "not_met", "not_met": "met", "unknown": "unknown"}
        return {negate[s] for s in _possible(cond.not_)}
    if isinstance(cond, op.All | op.Any_):
        parts = [_possible(c) for c in (cond.all if isinstance(cond, op.All) else cond.any)]
        decisive, default = ("not_met", "met") if isinstance(cond, op.All) else ("met", "not_met")
        found = set()
        if any(decisive in p for p in parts):
            found.add(decisive)
        if all(default in p for p in parts):
            found.add(default)
        if any("unknown" in p for p in parts):
            found.add("unknown")
        return found
    assert op.operator_of(cond) is not None
    return set(STATUSES)


def suites_under(path: Path) -> list[Path]:
    """The suites a path names: a suite file, the suite beside a rule file, or every suite
    in a directory (sorted)."""
    if path.is_dir():
        return sorted(path.glob("*" + SUITE_SUFFIX))
    if path.name.endswith(SUITE_SUFFIX):
        return [path]
    return [suite_path_for(path)]
