"""Writing one service's criteria as Python: `Builder` checks each condition of the
validated rule file and writes the code for it; `dli_check.language.operators` calls its
parts, one operator at a time.

Each service becomes one function, compiled once when the rule file is loaded, which reads
the facts it needs from a case and one of its service lines and answers each criterion
with `dli_check.compiler.logic`'s three-valued logic. A `some` becomes a nested function
run over the records of a list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.codegen import Constants, compile_function, identifier, source_name
from dli_check.compiler.logic import (
    Run,
    age,
    combine,
    concat,
    count_of,
    count_records,
    every,
    exact,
    half_up,
    identifiers_differ,
    lasted,
    line_releases,
    listed_codes,
    match_codes,
    no_record,
    other_lines,
    same_identifier,
    some,
    within,
    worked,
)
from dli_check.errors import PathKey, Problem
from dli_check.language import expressions
from dli_check.language.facts import DerivedFact, Fact
from dli_check.results import Status
from dli_check.values.codes import IcdCodeSet, ProcedureCodeSet
from dli_check.values.icd10cm import CodeIndex

if TYPE_CHECKING:
    from dli_check.language.operators import Triple

MAX_CONDITIONS = 10_000
"""Conditions a rule file may have once its YAML aliases are expanded: each becomes code,
in every process that loads the file."""


class TooManyConditions(Exception):
    """A rule file over `MAX_CONDITIONS`, found at `path`."""

    def __init__(self, path: PathKey) -> None:
        super().__init__(f"more than {MAX_CONDITIONS:,} conditions once YAML aliases are expanded")
        self.path = path


_NEGATION: dict[Status, Status] = {"met": "not_met", "not_met": "met", "unknown": "unknown"}
_PLUS_PARTS = 16
"""Tuples joined with ``+`` at most; more go through one call (a long ``+`` chain nests,
and Python's compiler has a depth limit)."""


def _concat(parts: list[str]) -> str:
    """The expression joining tuple expressions."""
    if not parts:
        return "()"
    if len(parts) <= _PLUS_PARTS:
        return " + ".join(parts)
    return f"_cat(({', '.join(parts)},))"


def known_names(names: Mapping[str, object]) -> str:
    """The names defined, for a message about a name that names nothing."""
    return f" (defined: {', '.join(sorted(names))})" if names else " (none is defined)"


class Builder:
    """Writes one service's Python, checking each condition on the way; `operators` calls
    its parts."""

    def __init__(
        self,
        case_format: CaseFormat,
        code_sets: Mapping[str, IcdCodeSet | ProcedureCodeSet],
        index: CodeIndex,
        problems: list[Problem],
        service_label: str,
        budget: list[int] | None = None,
        service_codes: Mapping[str, ProcedureCodeSet | None] | None = None,
        conditions: Mapping[str, Any] | None = None,
        *,
        trace: bool = False,
    ) -> None:
        self.case_format, self.code_sets, self.index = case_format, code_sets, index
        self.trace = trace
        """Whether the function also answers each condition of its criteria, node by node
        (`compile_services` with `trace`): for a reviewer's worksheet, never for deciding."""
        self._reading: list[dict[str, None]] = []
        """While tracing: the facts each condition being compiled reads."""
        self.conditions = conditions or {}
        """The conditions the rule file defines by name (`named`)."""
        self._expanding: list[str] = []
        self.service_codes = service_codes or {}
        """Each service of the rule file and the codes that route a line to it, for
        `other_line`."""
        self.problems, self.service_label = problems, service_label
        self.budget = budget if budget is not None else [MAX_CONDITIONS]
        """Conditions the rule file may still have, counted as compiled (an alias counts
        each time it is used), shared by the builders of one rule file."""
        self.names: dict[str, object] = {
            "_M": "met",
            "_N": "not_met",
            "_U": "unknown",
            "_NEG": _NEGATION,
            "_combine": combine,
            "_count_of": count_of,
            "_match": match_codes,
            "_listed": listed_codes,
            "_some": some,
            "_none": no_record,
            "_every": every,
            "_count": count_records,
            "_within": within,
            "_lasted": lasted,
            "_age": age,
            "_cat": concat,
            "_same_id": same_identifier,
            "_loose_id": identifiers_differ,
            "_other": other_lines,
            "_index": index,
            "_line_releases": line_releases,
            "_q": exact,
            "_round": half_up,
            "_worked": worked,
        }
        self.constants = Constants("_c", self.names)
        self.functions: list[str] = []
        self.bound_list: str | None = None
        self._scope = self._main = _Scope(None)
        self._uses_bound = False
        self.shows_values = False
        """Whether the criterion being written compares values it shows in its notes."""
        self._depth = 0
        """How deep in a criterion's condition the operator being compiled is (1: it is
        the condition)."""
        self.reads: dict[str, Fact] = {}
        """The facts the criterion being written reads of this line, of the case's records
        and of the record it is judged on, in the order it reads them (not those of records
        or lines it quantifies over)."""

    # The generated function.

    def criterion(self, criterion_id: str, cond: Any, path: PathKey) -> bool:
        """Add one criterion's code; whether it is judged on the service's list record."""
        self._uses_bound = False
        self.shows_values = False
        self.reads = {}
        self._scope.body.append("    " + self.constants.comment(f"criterion {criterion_id!r}"))
        status, missing, notes = self.build(cond, path)
        self._scope.answers.append(f"({status}, {missing}, {notes})")
        return self._uses_bound

    def function(self, service_id: str) -> tuple[str, Run]:
        """The source of the service's function (and of its quantifiers), and the function.
        Traced (`trace`), it answers ``(answers, trace)``: the trace holds, by the path of
        each condition outside a quantifier, its status, notes and the facts it read."""
        name = identifier("judge_" + re.sub(r"[^a-z0-9_]", "_", service_id, flags=re.ASCII))
        main = self._scope.source(name, criteria=True, trace=self.trace)
        header = self.constants.comment(
            f"{service_id!r}: generated from the rule file; one answer per criterion."
        )
        source = "\n".join([header, *self.constants.comments(), *self.functions, main, ""])
        filename = source_name(f"rules: {service_id}", source)
        run: Run = compile_function(source, filename, self.names, name, self.constants.written)
        return source, run

    def constant(self, value: object) -> str:
        """A name for a value of the rule file (never written into the code as text)."""
        return self.constants.name(value)

    def new(self) -> int:
        """A fresh number for a statement's locals."""
        self._scope.count += 1
        return self._scope.count

    def line(self, statement: str) -> None:
        """Add a statement to the function being written."""
        self._scope.body.append(f"    {statement}")

    # Facts.

    def lookup(self, path: str, where: PathKey) -> Fact | DerivedFact | None:
        """The declared fact a path names, checking where it may be used; None (with a
        problem recorded) when it cannot."""
        fact = self._resolve(path)
        if fact is None:
            if path.startswith("other.") and not self._scope.other:
                message = f"{path!r}: other.* facts are another line's, in an other_line condition"
                self.problems.append(Problem(where, message))
                return None
            known = ", ".join(sorted(self.case_format.facts))
            self.problems.append(Problem(where, f"unknown fact {path!r}; facts are: {known}"))
            return None
        if fact.kind == "list" and self._scope.other:
            message = f"{path!r}: an other_line condition reads lines, not {fact.owner}'s records"
            self.problems.append(Problem(where, message))
            return None
        if fact.kind == "list":
            if self._scope.list_name is not None:
                if fact.owner != self._scope.list_name:
                    self.problems.append(
                        Problem(
                            where, f"{path!r} is not a fact of {self._scope.list_name}'s records"
                        )
                    )
                    return None
            elif self.bound_list not in (None, fact.owner):
                self.problems.append(
                    Problem(
                        where,
                        f"a service is judged on the records of one list: {path!r} is of "
                        f"{fact.owner}, and {self.bound_list} is named already",
                    )
                )
                return None
            else:
                self.bound_list = fact.owner
                self._uses_bound = True
        return fact

    def _resolve(self, path: str) -> Fact | DerivedFact | None:
        """The declared fact (or derived number) a path names; in an `other_line`
        condition, ``other.<field>`` is the other line's fact of that field."""
        if path.startswith("other.") and self._scope.other:
            base = self.case_format.facts.get(f"service.{path[6:]}")
            if base is None:
                return None
            return Fact(path, base.owner, "other", base.field, base.rule_model)
        return self.case_format.facts.get(path) or self.case_format.derived.get(path)

    def holder(self, path: str) -> str:
        """The local that holds the line a line fact is read from: the other line of an
        `other_line` condition (``rec``), or this one."""
        return "rec" if path.startswith("other.") and self._scope.other else "line"

    def fact(self, path: str) -> str:
        """The local that holds a fact's value (None when absent). Operators check the
        fact first (`lookup`, `typed`), where its problems can be located."""
        scope = self._scope
        if scope.list_name is None and not scope.other and path not in self.reads:
            declared = self.case_format.facts.get(path)
            if declared is not None:
                self.reads[path] = declared
        if self._reading and scope is self._main:
            derived = self.case_format.derived.get(path)
            for read in derived.inputs if derived is not None else (path,):
                if read in self.case_format.facts:
                    for reading in self._reading:
                        reading[read] = None
        local = scope.locals.get(path)
        fact = scope.facts.get(path)
        if local is not None:
            if scope.list_name is None and fact is not None and fact.kind == "list":
                self._uses_bound = True
            return local
        fact = self._resolve(path)
        local = identifier(path.replace(".", "_"))
        scope.locals[path] = local
        if fact is None:
            scope.head.append(f"    {local} = None")
            return local
        if isinstance(fact, DerivedFact):
            scope.head.append(f"    {local} = {self._formula(fact)}")
        elif fact.kind == "record":
            owner = f"record_{fact.owner}"
            if owner not in scope.head_names:
                scope.head_names.add(owner)
                scope.head.append(f"    {identifier(owner)} = case.records[{fact.owner!r}]")
            scope.head.append(
                f"    {local} = {owner}[{fact.field!r}] if {owner} is not None else None"
            )
        elif fact.kind == "list":
            scope.head.append(f"    {local} = rec[{fact.field!r}] if rec is not None else None")
        elif fact.kind == "other":
            scope.head.append(f"    {local} = rec.facts.get({fact.field!r})")
        else:
            scope.head.append(f"    {local} = line.facts[{fact.field!r}]")
        scope.facts[path] = fact
        return local

    def _formula(self, derived: DerivedFact) -> str:
        """The expression computing a derived number, exactly (as fractions): None when a
        fact it reads is absent or it would divide by zero."""
        inputs = {name: self.fact(name) for name in derived.inputs}
        guards = [f"{local} is None" for local in inputs.values()]

        def python(node: expressions.Node) -> str:
            return expressions.text(
                node,
                show=lambda name: f"_q({inputs[name]})",
                number=lambda n: self.constant(n.value),
                function=lambda name: "_round" if name == "round" else name,
            )

        def divisors(node: expressions.Node) -> None:  # inner ones first: each is guarded
            for child in _children(node):
                divisors(child)
            if isinstance(node, expressions.BinOp) and node.op == "/":
                guards.append(f"{python(node.right)} == 0")

        divisors(derived.tree)
        return f"None if {' or '.join(guards)} else {python(derived.tree)}"

    def missing(self, path: str) -> str:
        """The expression naming an absent fact as a case path; for a derived number,
        the absent facts it reads, or, when it divides by zero, those it divides by."""
        fact = self._scope.facts.get(path) or self.case_format.facts.get(path)
        if isinstance(fact, DerivedFact):
            absent = _concat(
                [f"({self.missing(i)} if {self.fact(i)} is None else ())" for i in fact.inputs]
            )
            return f"({absent} or {_concat([self.missing(i) for i in _divisors(fact.tree)])})"
        if fact is None:
            return "()"
        if fact.kind == "record":
            return f"({fact.case_path()!r},)"
        tail = f"].{fact.field}"
        if fact.kind == "service":
            return f"('services[' + str(number) + {tail!r},)"
        if fact.kind == "other":
            return f"('services[' + str(index) + {tail!r},)"
        return (
            f"(({fact.owner + '['!r} + str(index) + {tail!r}) if rec is not None "
            f"else {fact.owner!r},)"
        )

    def typed(
        self, path: str, where: PathKey, allowed: tuple[str, ...], operator: str
    ) -> Fact | DerivedFact | None:
        """The fact, if it exists and its type suits the operator."""
        fact = self.lookup(path, where)
        if fact is None:
            return None
        if fact.type not in allowed:
            self.problems.append(
                Problem(where, f"{operator} does not apply to {path!r}, a {fact.type} fact")
            )
            return None
        return fact

    def choice(self, fact: Fact | DerivedFact, value: object, where: PathKey) -> None:
        """Check that a value is one the fact may hold."""
        choices = fact.declaration.choices if isinstance(fact, Fact) else None
        if choices and value not in choices:
            self.problems.append(
                Problem(
                    where,
                    f"{value!r} is not a value of {fact.path!r} (one of: {', '.join(choices)})",
                )
            )

    def fail(self, where: PathKey, message: str) -> Triple:
        """Record a problem; the condition compiles to not met."""
        self.problems.append(Problem(where, message))
        return self.failed()

    def failed(self) -> Triple:
        """What a condition that cannot compile stands for."""
        return ("_N", "()", "()")

    # Shapes of conditions that operators share.

    def build(self, cond: Any, path: PathKey) -> Triple:
        """Compile a condition (any operator)."""
        from dli_check.language.operators import OPERATORS, operator_of

        name = operator_of(cond)
        assert name is not None
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise TooManyConditions(path)
        nested = name != "use"  # a named condition stands where it is used
        self._depth += nested
        traced = self.trace and self._scope is self._main
        if traced:
            self._reading.append({})
        try:
            triple = OPERATORS[name].compile(self, cond, path)
        finally:
            self._depth -= nested
            read = self._reading.pop() if traced else {}
        if traced:
            self.line(
                f"_trace[{self.constant(path)}] = ({triple[0]}, {triple[2]}, "
                f"{self.constant(tuple(read))})"
            )
        return triple

    def test(self, path: str, expression: str, failed: str | None = None) -> Triple:
        """A leaf on one fact: unknown when it is absent, else `expression` (on ``{v}``).
        When not met, the note `failed` says why: ``{label}`` stands for the fact's label and
        ``{value}`` for the value the case gives."""
        v, k, unknown = self.fact(path), self.new(), self.unknown_notes(path)
        if failed is None and unknown == "()":
            self.line(
                f"s{k}, m{k} = (_U, {self.missing(path)}) if {v} is None "
                f"else ((_M if {expression.format(v=v)} else _N), ())"
            )
            return (f"s{k}", f"m{k}", "()")
        label = self.label(path).replace("%", "%%")
        text = (failed or "{label} is {value}").replace("%", "%%").format(label=label, value="%s")
        note = self.constant(text)
        said = f"({note} % ({self.shown(path)},),)" if "%s" in text else f"({note},)"
        self.line(
            f"s{k}, m{k}, n{k} = (_U, {self.missing(path)}, {unknown}) if {v} is None "
            f"else ((_M, (), ()) if {expression.format(v=v)} else (_N, (), {said}))"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def compare(self, first: str, compare: str, other: str, words: str) -> Triple:
        """Two facts compared; when not met, a note shows both values as given.
        Identifiers are compared as people read them (NFKC, trimmed, case folded), and
        then as written differently (punctuation, spaces, a registry prefix), which meets
        the comparison with a note saying what was ignored."""
        a, b, k = self.fact(first), self.fact(other), self.new()
        self.shows_values = True
        note = self.constant(self._sentence(first, words, other))
        fact = self._resolve(first)
        test = f"{a} {compare} {b}"
        otherwise = f"(_N, (), ({note} % ({self.shown(first)}, {self.shown(other)}),))"
        if fact is not None and fact.type == "identifier" and compare == "==":
            test = f"({test} or _same_id({a}) == _same_id({b}))"  # the usual case: equal as given
            otherwise = f"_loose_id({a}, {b}, {note})"  # written differently, or not the same
        self.line(
            f"s{k}, m{k}, n{k} = (_U, ({self.missing(first)} if {a} is None else ()) + "
            f"({self.missing(other)} if {b} is None else ()), "
            f"{_concat([self.unknown_notes(first), self.unknown_notes(other)])}) "
            f"if {a} is None or {b} is None else ((_M, (), ()) if {test} else {otherwise})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def compare_value(self, first: str, compare: str, value: object, words: str) -> Triple:
        """A fact compared with a number; when not met, a note shows the value found."""
        a, k = self.fact(first), self.new()
        self.shows_values = True
        bound = self.constant(value)
        label = self.label(first).replace("%", "%%")
        note = self.constant(f"{label} (%s) is not {words} {value}")
        shown = self.shown(first)
        met = "()"
        if shown != a:  # a derived number: how it was computed, whichever way it came out
            met = f"({self.constant(f'{label} (%s) is {words} {value}')} % ({shown},),)"
        self.line(
            f"s{k}, m{k}, n{k} = (_U, {self.missing(first)}, {self.unknown_notes(first)}) "
            f"if {a} is None else ((_M, (), {met}) if {a} {compare} {bound} "
            f"else (_N, (), ({note} % ({shown},),)))"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def named(self, name: str, path: PathKey) -> Triple:
        """The condition the rule file defines by `name`, compiled where it is used; a
        problem in it is named where it is defined."""
        cond = self.conditions.get(name)
        if cond is None:
            return self.fail(path, f"no condition named {name!r}{known_names(self.conditions)}")
        if name in self._expanding:
            return self.fail(path, f"the condition {name!r} uses itself")
        self._expanding.append(name)
        try:
            return self.build(cond, ("conditions", name))
        finally:
            self._expanding.pop()

    def dated(self, function: str, first: str, other: str, args: tuple[object, ...]) -> Triple:
        """Two dates related by a `logic` function (``within``, ``lasted``, ``age``), called
        as ``function(first, other, *args, labels)``; unknown, asking for them, when either
        date is absent."""
        a, b, k = self.fact(first), self.fact(other), self.new()
        self.shows_values = True
        labels = self.constant((self.label(first), self.label(other)))
        given = ", ".join(self.constant(x) for x in args)
        self.line(
            f"s{k}, m{k}, n{k} = (_U, ({self.missing(first)} if {a} is None else ()) + "
            f"({self.missing(other)} if {b} is None else ()), ()) "
            f"if {a} is None or {b} is None else _{function}({a}, {b}, {given}, {labels})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def label(self, path: str) -> str:
        """A fact in words ("the visit's date"), or its path if it has no label."""
        fact = self.case_format.facts.get(path) or self.case_format.derived.get(path)
        return fact.label(self.service_label) if fact else path

    def shown(self, path: str) -> str:
        """The expression showing a fact's value in a note: for a derived number, how it
        was computed ("300 mg * 28 days / 14 days = 600 mg")."""
        v = self.fact(path)
        derived = self.case_format.derived.get(path)
        if derived is None or self._resolve(path) is not derived:
            return v
        units = {i: self.case_format.facts[i].unit for i in derived.inputs}
        place = {name: k for k, name in enumerate(derived.inputs)}
        template = expressions.text(
            derived.tree,
            show=lambda name: f"\0{place[name]}\0" + (f" {units[name]}" if units[name] else ""),
        )
        template = re.sub("\0([0-9]+)\0", r"%(\1)s", template.replace("%", "%%"))
        inputs = ", ".join(self.fact(i) for i in derived.inputs)
        return (
            f"_worked({self.constant(template)}, ({inputs},), {v}, {self.constant(derived.unit)})"
        )

    def saw(self, path: str) -> str:
        """The notes expression saying the value a fact holds: "the visit's kind is
        video" ("...: yes" for a boolean)."""
        label = self.label(path).replace("%", "%%")
        fact = self._resolve(path)
        if fact is not None and fact.type == "boolean":
            return f"({self.constant(f'{label}: yes')},)"
        return f"({self.constant(f'{label} is %s')} % ({self.shown(path)},),)"

    def unknown_notes(self, path: str) -> str:
        """The notes of a comparison left unknown by a fact: for a derived number that
        divides by zero, a note that says so (an absent fact is asked for instead)."""
        derived = self.case_format.derived.get(path)
        if derived is None or self._resolve(path) is not derived or not _divisors(derived.tree):
            return "()"
        note = self.constant(f"{self.label(path)} cannot be computed: it would divide by zero")
        given = " and ".join(f"{self.fact(i)} is not None" for i in derived.inputs)
        return f"(({note},) if {given} else ())"

    def not_given(self, path: str) -> str:
        """That a fact was not given, in words: a date's label names what it dates ("the
        visit"), a boolean's states it ("the visit was billed")."""
        fact = self.case_format.facts.get(path)
        words = self.label(path)
        if fact is not None and fact.declaration.label:
            if fact.type == "date":
                words = f"{words}'s date"
            elif fact.type == "boolean":
                words = f"whether {words}"
        return f"{words} was not given"

    def _sentence(self, first: str, words: str, other: str) -> str:
        a = self.label(first).replace("%", "%%")
        b = self.label(other).replace("%", "%%")
        return f"{a} (%s) is not {words + ' ' if words else ''}{b} (%s)"

    def in_code_set(
        self, path: str, fact: Fact | DerivedFact | None, code_set_name: str, where: PathKey
    ) -> Triple:
        """A code (or any of a list of codes) in a code set of the fact's system, with
        notes."""
        code_set = self.code_sets.get(code_set_name)
        if code_set is None:
            return self.fail(
                (*where, "code_set"),
                f"no code set named {code_set_name!r}{known_names(self.code_sets)}",
            )
        system = "ICD-10-CM" if isinstance(code_set, IcdCodeSet) else code_set.system
        if isinstance(fact, Fact) and fact.declaration.system != system:
            return self.fail(
                (*where, "code_set"),
                f"{path!r} holds {fact.declaration.system} codes, and {code_set_name!r} is a "
                f"{system} code set",
            )
        v, k, name = self.fact(path), self.new(), self.constant(code_set)
        codes = v if fact is not None and fact.type == "codes" else f"({v},)"
        if isinstance(code_set, ProcedureCodeSet):
            self.line(
                f"s{k}, m{k}, n{k} = (_U, {self.missing(path)}, ()) if {v} is None "
                f"else _listed({name}, {codes})"
            )
            return (f"s{k}", f"m{k}", f"n{k}")
        # A billed code is judged by the releases of the line's date of service; clinical
        # history by any release.
        on = "None"
        if isinstance(fact, Fact) and fact.declaration.billable_only:
            on, scope = "_releases", self._scope
            if on not in scope.head_names:  # once per function: every billed check shares it
                scope.head_names.add(on)
                received = self.case_format.received  # a line with no date: the case's
                day = "None" if received is None else self.fact(received)
                scope.head.append(f"    {on} = _line_releases(line, {day})")
        missing = self.missing(path)
        self.line(
            f"s{k}, m{k}, n{k} = (_U, {missing}, ()) if {v} is None "
            f"else _match({name}, {codes}, _index, {on}, {missing})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def junction(self, triples: list[Triple], *, is_all: bool) -> Triple:
        """Kleene's all or any over compiled parts."""
        default, decisive = ("_M", "_N") if is_all else ("_N", "_M")
        k = self.new()
        statuses = [f"s{k}_{i}" for i in range(len(triples))]
        self.line(f"{', '.join(statuses)}, = {', '.join(t[0] for t in triples)},")
        listed = ", ".join(
            f"({s}, {m}, {n})" for s, (_, m, n) in zip(statuses, triples, strict=True)
        )
        all_default = " and ".join(f"{s} == {default}" for s in statuses)
        any_decisive = " or ".join(f"{s} == {decisive}" for s in statuses)
        notes = _concat([t[2] for t in triples if t[2] != "()"])
        decided = _concat(
            [
                f"({n} if {s} == {decisive} else ())"
                for s, (_, _, n) in zip(statuses, triples, strict=True)
                if n != "()"
            ]
        )
        if is_all and self._depth > 1 and len(triples) <= _PLUS_PARTS and decided != "()":
            # Within a condition, an `all` is a branch or a filter ("a PaO2 at most 55"):
            # the first part that fails says why; the parts after it were never its point.
            chain = " else ".join(
                f"{n} if {s} == _N" for s, (_, _, n) in zip(statuses, triples, strict=True)
            )
            decided = f"({chain} else ())"
        # The usual cases (a part decides, or every part came out the same) without a call;
        # `combine` for the rest, where missing facts are gathered.
        self.line(
            f"s{k}, m{k}, n{k} = ({decisive}, (), {decided}) if {any_decisive} "
            f"else ({default}, (), {notes}) if {all_default} "
            f"else _combine([{listed}], {decisive}, {default})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def count_of(self, triples: list[Triple], count: int) -> Triple:
        """At least `count` of the compiled parts are met (`logic.count_of`)."""
        k = self.new()
        listed = ", ".join(f"({s}, {m}, {n})" for s, m, n in triples)
        self.line(f"s{k}, m{k}, n{k} = _count_of([{listed}], {count})")
        return (f"s{k}", f"m{k}", f"n{k}")

    def some(
        self, list_name: str, where_cond: Any, path: PathKey, quantifier: str = "some"
    ) -> Triple:
        """Some (or, with `quantifier`, no or every) record of a declared list meets a
        condition: compiled as a function of its own, called on each record."""
        refused = self._over_a_list(list_name, path, quantifier)
        if refused is not None:
            return refused
        scope = _Scope(list_name)
        name = self._nested(scope, where_cond, path, f"{quantifier}_{{}}_{list_name}")
        shown = tuple((f.field, self.label(p)) for p, f in scope.facts.items() if f.kind == "list")
        k = self.new()
        self.line(
            f"s{k}, m{k}, n{k} = _{quantifier}(case.lists[{list_name!r}], {name}, "
            f"{list_name!r}, case, line, number, {self.constant(shown)})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def count(
        self,
        list_name: str,
        where_cond: Any,
        distinct: str | None,
        bounds: tuple[int | None, int | None],
        path: PathKey,
    ) -> Triple:
        """How many records of a list meet a condition (or hold different values of a
        fact), against bounds (`logic.count_records`)."""
        refused = self._over_a_list(list_name, path, "count")
        if refused is not None:
            return refused
        lists = self.case_format.declaration.lists
        field = None
        if distinct is not None:
            item, _, field = distinct.partition(".")
            if item != lists[list_name].item or field not in lists[list_name].facts:
                return self.fail(
                    (*path, "distinct"), f"{distinct!r} is not a fact of a record of {list_name}"
                )
        name = "None"
        if where_cond is not None:
            name = self._nested(_Scope(list_name), where_cond, path, f"count_{{}}_{list_name}")
        k = self.new()
        self.line(
            f"s{k}, m{k}, n{k} = _count(case.lists[{list_name!r}], {name}, {list_name!r}, "
            f"case, line, number, {bounds!r}, {field!r})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def _over_a_list(self, list_name: str, path: PathKey, operator: str) -> Triple | None:
        """The failed condition of an operator over a list that is not declared, or that
        stands inside another operator's condition; None when it may be compiled."""
        if list_name not in self.case_format.declaration.lists:
            declared = ", ".join(sorted(self.case_format.declaration.lists)) or "none"
            return self.fail((*path, "of"), f"no list named {list_name!r} (declared: {declared})")
        if self._scope.list_name is not None or self._scope.other:
            message = f"{operator} cannot be nested in some, none, every, count or an other_line"
            return self.fail(path, message)
        return None

    def _nested(self, scope: _Scope, where_cond: Any, path: PathKey, name: str) -> str:
        """Write a quantifier's condition as a function of its own, in `scope`; its name
        (`name` with its number)."""
        outer, self._scope = self._scope, scope
        try:
            status, missing, notes = self.build(where_cond, (*path, "where"))
        finally:
            self._scope = outer
        scope.answers.append(f"({status}, {missing}, {notes})")
        function = identifier(name.format(len(self.functions) + 1))
        self.functions.append(scope.source(function, criteria=False))
        return function

    def other_line(self, service: str, where_cond: Any, note: str, path: PathKey) -> Triple:
        """Some other line of the case, decided as `service`, meets a condition: compiled as
        a function of its own, called on each such line (as ``rec``, its number as
        ``index``)."""
        if service not in self.service_codes:
            known = ", ".join(self.service_codes) or "none"
            return self.fail(
                (*path, "service"), f"no service named {service!r} (services: {known})"
            )
        if self._scope.list_name is not None or self._scope.other:
            return self.fail(path, "other_line cannot be nested in some or another other_line")
        scope = _Scope(None, other=True)
        name = self._nested(scope, where_cond, path, f"other_line_{{}}_{service}")
        codes, said, k = self.constant(self.service_codes[service]), self.constant(note), self.new()
        self.line(  # a case of one line has no other line to look at
            f"s{k}, m{k}, n{k} = (_N, (), ()) if len(case.services) < 2 else "
            f"_other(case, line, number, {name}, {service!r}, {codes}, {said})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")


def _children(node: expressions.Node) -> tuple[expressions.Node, ...]:
    if isinstance(node, expressions.BinOp):
        return (node.left, node.right)
    if isinstance(node, expressions.Neg):
        return (node.operand,)
    if isinstance(node, expressions.Call):
        return node.args
    return ()


def _divisors(node: expressions.Node) -> tuple[str, ...]:
    """The facts a formula divides by, each once."""
    found: list[str] = []
    for child in _children(node):
        found += _divisors(child)
    if isinstance(node, expressions.BinOp) and node.op == "/":
        found += expressions.references(node.right)
    return tuple(dict.fromkeys(found))


@dataclass
class _Scope:
    """The function being written: the top level, or the condition of a `some` or an
    `other_line`."""

    list_name: str | None
    other: bool = False
    """Whether this is an `other_line` condition: ``rec`` is another line of the case."""
    head: list[str] = field(default_factory=list)
    head_names: set[str] = field(default_factory=set)
    body: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    locals: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Fact | DerivedFact] = field(default_factory=dict)
    count: int = 0

    def source(self, name: str, *, criteria: bool, trace: bool = False) -> str:
        signature = f"def {name}(case, line, number, rec, index):"
        answers = ", ".join(self.answers)
        ret = f"    return ({answers},)" if criteria else f"    return {answers}"
        if trace:
            return "\n".join(
                [signature, "    _trace = {}", *self.head, *self.body, f"{ret}, _trace", ""]
            )
        return "\n".join([signature, *self.head, *self.body, ret, ""])
