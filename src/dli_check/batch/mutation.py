"""Mutation testing of a rule file against its suite: small, plausible mistakes are made in
the rule file one at a time (a threshold shifted by one, a comparison made strict or not,
a part of an ``all`` or ``any`` dropped, a condition negated, a code taken out of a set),
each mutant is compiled and the suite run against it. A mutant the suite notices (a test
fails) is killed; one it does not is a survivor: a mistake the suite would let through.

Mutants are made on the rule file's data, never its text, and compiled as any rule file
is; a mutant the language refuses (a threshold outside a fact's bounds) is not counted.
A suite lists the survivors that are no mistake at all (equivalent mutants) under
``equivalent_mutants``, each with its reason.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dli_check.batch.suites import SuiteError, load_suite, outcome_differences, rules_path_of
from dli_check.engine.rules import Rules, compile_rules
from dli_check.errors import PathKey, Problem, RuleFileError, format_path
from dli_check.files import read_rule_file
from dli_check.language.operators import OPERATORS
from dli_check.language.text import load_rule_text

_STRICTER = {
    "at_least": "greater_than",
    "greater_than": "at_least",
    "at_most": "less_than",
    "less_than": "at_most",
    "before": "on_or_before",
    "on_or_before": "before",
    "after": "on_or_after",
    "on_or_after": "after",
    "some": "every",
    "every": "some",
    "all": "any",
    "any": "all",
}
"""Each operator and the one it is most easily mistaken for."""

_THRESHOLDS: dict[str, tuple[str, ...]] = {
    "at_least": ("value",),
    "at_most": ("value",),
    "greater_than": ("value",),
    "less_than": ("value",),
    "equals": ("value",),
    "between": ("min", "max"),
    "count": ("at_least", "at_most"),
    "at_least_of": ("count",),
    "within": ("days", "weeks", "months", "years"),
    "age": ("at_least", "at_most"),
}
"""The numbers of each operator that a mutant shifts by one."""

_CHILDREN = {"some": "where", "none": "where", "every": "where", "count": "where"}


@dataclass(frozen=True)
class Mutant:
    """One mistake: where it is in the rule file, and what it is."""

    path: PathKey
    description: str
    data: Any = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        """How a suite names it (``equivalent_mutants``) and a report shows it."""
        return f"{format_path(self.path)}: {self.description}"


@dataclass
class MutationReport:
    """What mutation testing found."""

    rules: str
    killed: list[Mutant] = field(default_factory=list)
    survived: list[tuple[Mutant, tuple[int, int]]] = field(default_factory=list)
    equivalent: list[tuple[Mutant, str]] = field(default_factory=list)
    refused: int = 0
    """Mutants the rule language refuses, not counted."""

    @property
    def score(self) -> float:
        """The share of counted mutants the suite killed, in percent."""
        counted = len(self.killed) + len(self.survived)
        return 100.0 * len(self.killed) / counted if counted else 100.0

    @property
    def summary(self) -> str:
        """``mutation score: N% (K of M mutants killed)``."""
        counted = len(self.killed) + len(self.survived)
        return f"mutation score: {self.score:.1f}% ({len(self.killed)} of {counted} mutants killed)"


def mutants(data: Any) -> Iterator[Mutant]:
    """Every mutant of a rule file's data, in the order of the file. What a YAML alias
    repeats is one node: it is mutated once, where it is first written."""
    seen: set[int] = set()
    for path, cond in _conditions(data):
        if id(cond) not in seen:
            seen.add(id(cond))
            yield from _mutate(data, path, cond)
    for name, code_set in (data.get("code_sets") or {}).items():
        entries = code_set.get("codes") if isinstance(code_set, dict) else None
        if isinstance(entries, list) and len(entries) > 1 and id(entries) not in seen:
            seen.add(id(entries))
            for k, entry in enumerate(entries):
                codes = entry.get("codes") if isinstance(entry, dict) else entry
                where: PathKey = ("code_sets", name, "codes", k)
                yield _changed(data, where, f"{codes} taken out of the set", None, drop=True)


def _conditions(data: Any) -> Iterator[tuple[PathKey, Any]]:
    """Every condition that bears on a decision, and where it is."""
    for name, cond in (data.get("conditions") or {}).items():
        yield from _walk(("conditions", name), cond)
    for i, service in enumerate(data.get("services") or []):
        for j, criterion in enumerate(service.get("criteria") or []):
            yield from _walk(("services", i, "criteria", j, "condition"), criterion["condition"])
        for j, excluded in enumerate(service.get("not_governed_when") or []):
            yield from _walk(("services", i, "not_governed_when", j, "when"), excluded["when"])
        if isinstance(service.get("route"), dict):
            yield from _walk(("services", i, "route", "when"), service["route"]["when"])


def _walk(path: PathKey, cond: Any) -> Iterator[tuple[PathKey, Any]]:
    if not (isinstance(cond, dict) and len(cond) == 1 and next(iter(cond)) in OPERATORS):
        return
    yield path, cond
    op, args = next(iter(cond.items()))
    if op in ("all", "any") and isinstance(args, list):
        for k, part in enumerate(args):
            yield from _walk((*path, op, k), part)
    elif op == "not":
        yield from _walk((*path, "not"), args)
    elif op == "at_least_of" and isinstance(args, dict):
        for k, part in enumerate(args.get("of") or []):
            yield from _walk((*path, op, "of", k), part)
    elif op in _CHILDREN and isinstance(args, dict) and args.get("where") is not None:
        yield from _walk((*path, op, "where"), args["where"])


def _mutate(data: Any, path: PathKey, cond: dict[str, Any]) -> Iterator[Mutant]:
    op, args = next(iter(cond.items()))
    if op in _STRICTER:
        swapped = {_STRICTER[op]: args}
        yield _changed(data, path, f"{op} made {_STRICTER[op]}", swapped)
    if op in ("all", "any") and isinstance(args, list) and len(args) > 1:
        for k in range(len(args)):
            fewer = {op: [part for i, part in enumerate(args) if i != k]}
            yield _changed(data, (*path, op, k), f"part {k + 1} of {op} dropped", fewer, at=path)
    if op == "not":
        yield _changed(data, path, "not removed", args)
    elif op not in ("all", "any", "constant", "use"):
        yield _changed(data, path, f"{op} negated", {"not": cond})
    if isinstance(args, dict):
        for key in _THRESHOLDS.get(op, ()):
            value = args.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                for step in (1, -1):
                    shifted = {op: {**args, key: value + step}}
                    words = f"{op} {key} {value} -> {value + step}"
                    yield _changed(data, (*path, op, key), words, shifted, at=path)


def _changed(
    data: Any,
    path: PathKey,
    description: str,
    replacement: Any,
    *,
    at: PathKey | None = None,
    drop: bool = False,
) -> Mutant:
    """A mutant: `data` with the node at `at` (default `path`) replaced, or dropped from
    its list; `path` is where the mistake is shown."""
    target = at if at is not None else path
    mutated = copy.deepcopy(data)
    holder = mutated
    for key in target[:-1]:
        holder = holder[key]
    if drop:
        del holder[target[-1]]
    else:
        holder[target[-1]] = replacement
    return Mutant(path, description, mutated)


def run_mutation(suite_path: Path) -> MutationReport:
    """Mutation-test the rule file of the suite at `suite_path` against the suite."""
    suite = load_suite(suite_path)
    rules_path = rules_path_of(suite, suite_path)
    raw = read_rule_file(rules_path)
    located = load_rule_text(raw, str(rules_path))
    equivalent = {e.mutant: e.reason for e in suite.equivalent_mutants}
    report = MutationReport(str(rules_path))
    seen: set[str] = set()
    for mutant in mutants(located.data):
        seen.add(mutant.name)
        rules = _compiled(mutant, str(rules_path))
        if rules is None:
            report.refused += 1
            continue
        if mutant.name in equivalent:
            report.equivalent.append((mutant, equivalent[mutant.name]))
            continue
        if any(outcome_differences(t, suite_path.parent, rules) for t in suite.tests):
            report.killed.append(mutant)
        else:
            report.survived.append((mutant, located.position(mutant.path)))
    stale = [name for name in equivalent if name not in seen]
    if stale:
        raise SuiteError(
            [
                Problem(("equivalent_mutants",), f"no such mutant: {name}", str(suite_path), 1, 1)
                for name in stale
            ]
        )
    return report


def _compiled(mutant: Mutant, name: str) -> Rules | None:
    raw = yaml.safe_dump(mutant.data, sort_keys=False, allow_unicode=True).encode()
    try:
        return compile_rules(raw, name)
    except RuleFileError:
        return None
