"""Compiling a validated rule file into Python, and the three-valued logic it follows.

Each service's criteria become one Python function, generated as source and compiled once
when the rule file is loaded (`CompiledService.source`, or ``dli-check rules show --format
python``, shows it). It reads the facts it needs from a case and one of its service lines,
and answers, for each criterion, ``(status, missing, notes)``:

* status is ``met``, ``not_met`` or ``unknown`` (a fact it needs is absent);
* missing names the absent facts behind an ``unknown``, as case paths
  (``visits[0].date``, ``services[0].date``);
* notes say what the engine saw (which listed range a code fell in, which values a
  comparison found).

``all``, ``any`` and ``not`` follow Kleene's three-valued logic: ``all`` is not met as soon
as one part is not met, whatever the others; ``any`` is met as soon as one part is met.
Every part is evaluated, so that all missing facts are named at once.

A service whose criteria name facts of a declared list (``visit.kind``, the item of
``visits``) is judged on one record of that list: the first that meets all those
criteria, or else the one that comes closest (fewest not met, then fewest unknown, then
the first). Its reasons name the record. `operators` defines each operator; this module
holds what they share.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any

from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.codegen import Constants, compile_function, identifier, source_name
from dli_check.errors import PathKey, Problem
from dli_check.language.facts import Fact
from dli_check.results import (
    ACTIONS,
    Citation,
    Reason,
    ServiceResult,
    Status,
    VersionInfo,
    share,
)
from dli_check.results import Decision as FullDecision
from dli_check.values.case import Case, Line
from dli_check.values.codes import (
    ASK,
    LISTED,
    Caveat,
    CodeGroup,
    IcdCodeSet,
    IcdEntry,
    ProcedureCodeSet,
)
from dli_check.values.icd10cm import CodeIndex, code_index

# The rule language (pydantic models) and the operators are needed to compile, not to
# decide: compiled rules read from the cache run without them.
if TYPE_CHECKING:
    from dli_check.language import model as rm
    from dli_check.language.operators import Triple

_REASON_CACHE = 4096
"""Distinct reasons kept per criterion; outcomes vary little (notes name codes)."""
_RESULT_CACHE = 1024
"""Distinct line results kept per service: rebuilding one from shared reasons is cheap."""

MAX_NOTES = 5
"""Notes kept per reason: a claim of 1,000 codes must not give 1,000 notes on each of its
lines."""


def cap_notes(notes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Notes without repeats, at most `MAX_NOTES` of them and a count of the rest."""
    unique = list(dict.fromkeys(notes))
    if len(unique) <= MAX_NOTES:
        return tuple(unique)
    more = len(unique) - MAX_NOTES
    return (*unique[:MAX_NOTES], f"and {more} more like these")


MAX_CONDITIONS = 10_000
"""Conditions a rule file may have once its YAML aliases are expanded: each becomes code,
in every process that loads the file."""


class TooManyConditions(Exception):
    """A rule file over `MAX_CONDITIONS`, found at `path`."""

    def __init__(self, path: PathKey) -> None:
        super().__init__(f"more than {MAX_CONDITIONS:,} conditions once YAML aliases are expanded")
        self.path = path


MAX_RECORDS = 1000
"""The most records a declared list may hold (``max_items`` is at most this)."""

Answer = tuple[Status, tuple[str, ...], tuple[str, ...]]
Run = Callable[[Case, Line, int, Mapping[str, Any] | None, int], tuple[Answer, ...]]


@dataclass(frozen=True)
class CompiledCriterion:
    """A criterion's words, and the reasons it gives."""

    id: str
    explanation: str
    citation: Citation
    also_cites: tuple[Citation, ...]
    bound: bool
    """Whether it is judged on the record of a list that the service is judged on."""
    shows_values: bool
    """Whether its notes, when not met, show a case's values: such reasons are not kept."""
    _reasons: dict[tuple[object, ...], Reason] = field(
        default_factory=dict, compare=False, repr=False
    )

    def reason(self, answer: Answer, record: str | None) -> Reason:
        """The reason for one outcome of this criterion, built once per distinct outcome."""
        key = (answer, record)
        reason = self._reasons.get(key)
        if reason is None:
            status, missing, notes = answer
            notes = cap_notes(notes)
            reason = Reason(
                criterion=self.id,
                status=status,
                explanation=self.explanation,
                citation=self.citation,
                also_cites=self.also_cites,
                record=record,
                notes=notes,
                missing=missing,
            )
            # A reason that shows a case's values is that case's alone: not worth keeping.
            if len(self._reasons) < _REASON_CACHE and not (
                self.shows_values and status == "not_met"
            ):
                self._reasons[key] = share(reason)
        return reason


@dataclass(frozen=True)
class CompiledOutcome:
    """A service's decision and where the guideline states it (or, where it states none,
    the basis, which the line's notes give)."""

    decision: rm.Decision
    citation: Citation | None
    basis: str | None


@dataclass(frozen=True)
class CompiledService:
    """A service ready to run: its procedure codes, criteria, outcomes and generated code."""

    id: str
    title: str
    label: str
    codes: ProcedureCodeSet | None
    criteria: tuple[CompiledCriterion, ...]
    when_met: CompiledOutcome
    otherwise: CompiledOutcome
    judged_on: str | None
    """The declared list whose records the service is judged on, if any."""
    line_notes: tuple[str, ...]
    """Notes a line gets when their conditions hold; their answers follow the criteria's."""
    version: VersionInfo
    """The guideline version this service belongs to."""
    source: str
    """The generated Python that judges the criteria, for anyone who wants to read it."""
    run: Run = field(repr=False)
    _results: dict[tuple[object, ...], ServiceResult] = field(
        default_factory=dict, compare=False, repr=False
    )
    _bound: tuple[int, ...] = field(default=(), compare=False, repr=False)
    _record_names: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        bound = tuple(i for i, c in enumerate(self.criteria) if c.bound)
        object.__setattr__(self, "_bound", bound)
        names = tuple(f"{self.judged_on}[{i}]" for i in range(MAX_RECORDS))
        object.__setattr__(self, "_record_names", names if self.judged_on else ())

    def decide(
        self, case: Case, line: Line, number: int, notes: tuple[str, ...] = ()
    ) -> ServiceResult:
        """The result for service line `number` of a case: decision, action, reasons and
        missing facts. Lines that come out the same share one result object."""
        answers, record = self._judge(case, line, number)
        key = (line.code, answers, record, notes)
        result = self._results.get(key)
        if result is None:
            result = self._build(line.code, answers, record, notes)
            if len(self._results) < _RESULT_CACHE and not any(
                c.shows_values and a[0] == "not_met"
                for c, a in zip(self.criteria, answers, strict=False)
            ):
                self._results[key] = result
        return result

    def _judge(self, case: Case, line: Line, number: int) -> tuple[tuple[Answer, ...], str | None]:
        if self.judged_on is None:
            return self.run(case, line, number, None, -1), None
        records = case.lists[self.judged_on]
        if not records:
            return self.run(case, line, number, None, -1), None
        if len(records) == 1:  # the usual case: the one record, whatever it meets
            return self.run(case, line, number, records[0], 0), self._record_names[0]
        bound, names = self._bound, self._record_names
        best: tuple[int, int, int] | None = None
        best_answers: tuple[Answer, ...] = ()
        for index, record in enumerate(records):
            answers = self.run(case, line, number, record, index)
            not_met = unknown = 0
            for i in bound:
                status = answers[i][0]
                if status != "met":
                    if status == "not_met":
                        not_met += 1
                    else:
                        unknown += 1
            if not not_met and not unknown:
                return answers, names[index]
            if best is None or (not_met, unknown, index) < best:
                best, best_answers = (not_met, unknown, index), answers
        assert best is not None
        return best_answers, names[best[2]]

    def _build(
        self,
        code: str | None,
        answers: tuple[Answer, ...],
        record: str | None,
        notes: tuple[str, ...],
    ) -> ServiceResult:
        judged, noted = answers[: len(self.criteria)], answers[len(self.criteria) :]
        reasons = tuple(
            c.reason(a, record if c.bound else None)
            for c, a in zip(self.criteria, judged, strict=True)
        )
        notes += tuple(n for n, a in zip(self.line_notes, noted, strict=True) if a[0] == "met")
        statuses = {a[0] for a in judged}
        decision: FullDecision
        outcome: Citation | None
        chosen = None
        if "not_met" in statuses:
            chosen = self.otherwise
        elif "unknown" not in statuses:
            chosen = self.when_met
        if chosen is None:
            decision, outcome = "insufficient_information", None
        else:
            decision, outcome = chosen.decision, chosen.citation
            if chosen.basis:
                notes += (chosen.basis,)
        answers = judged
        # Built from validated parts only: no need to validate them again.
        return ServiceResult(
            service=self.id,
            code=code,
            decision=decision,
            action=ACTIONS[decision],
            outcome=outcome,
            reasons=reasons,
            missing=tuple(dict.fromkeys(m for a in answers for m in a[1])),
            notes=notes,
            version=self.version,
        )


def code_sets(
    model: rm.RuleFile,
) -> tuple[dict[str, IcdCodeSet], dict[str, ProcedureCodeSet]]:
    """The rule file's code sets, ready to answer `contains()`."""
    from dli_check.language import model as rm

    icd: dict[str, IcdCodeSet] = {}
    procedures: dict[str, ProcedureCodeSet] = {}
    for name, code_set in model.code_sets.items():
        if isinstance(code_set, rm.IcdCodeSet):
            icd[name] = IcdCodeSet(
                name,
                code_set.title,
                tuple(IcdEntry(e.codes, e.description) for e in code_set.codes),
                tuple(Caveat(tuple(c.codes), c.note) for c in code_set.caveats),
                tuple(CodeGroup(tuple(g.codes), g.reason) for g in code_set.also_includes),
                tuple(CodeGroup(tuple(g.codes), g.reason) for g in code_set.ask_instead),
            )
        else:
            entries = tuple((e.codes, e.description) for e in code_set.codes)
            procedures[name] = ProcedureCodeSet(name, code_set.title, code_set.system, entries)
    return icd, procedures


def compile_services(
    model: rm.RuleFile, case_format: CaseFormat, version: VersionInfo
) -> tuple[dict[str, CompiledService], list[Problem]]:
    """Compile every service; return them with every problem found (empty when valid)."""
    index = code_index()
    problems: list[Problem] = []
    icd_sets, procedure_sets = code_sets(model)
    for name, code_set in procedure_sets.items():
        for k, (entry, _) in enumerate(code_set.entries):
            if entry.system != code_set.system:
                where = ("code_sets", name, "codes", k, "codes")
                problems.append(Problem(where, f"{entry} is not a {code_set.system} code"))
    services: dict[str, CompiledService] = {}
    budget = [MAX_CONDITIONS]
    for i, service in enumerate(model.services):
        path: PathKey = ("services", i)
        if service.id in services:
            problems.append(Problem((*path, "id"), f"service {service.id!r} is defined twice"))
        codes = None
        if service.code_set is not None:
            codes = procedure_sets.get(service.code_set)
            if codes is None:
                problems.append(
                    Problem(
                        (*path, "code_set"),
                        f"no CPT or HCPCS code set named {service.code_set!r}"
                        + _known(procedure_sets),
                    )
                )
        label = service.label or f"the {service.title[:1].lower()}{service.title[1:]}"
        builder = Builder(case_format, icd_sets, index, problems, label, budget)
        criteria = []
        seen: set[str] = set()
        for j, criterion in enumerate(service.criteria):
            cpath: PathKey = (*path, "criteria", j)
            if criterion.id in seen:
                problems.append(
                    Problem((*cpath, "id"), f"criterion {criterion.id!r} is defined twice")
                )
            seen.add(criterion.id)
            try:
                bound = builder.criterion(criterion.id, criterion.condition, (*cpath, "condition"))
            except RecursionError:
                problems.append(Problem(cpath, "condition nested too deeply"))
                bound = False
            except TooManyConditions as exc:
                problems.append(Problem(exc.path, str(exc)))
                return services, problems
            shows_values = builder.shows_values
            criteria.append(
                CompiledCriterion(
                    criterion.id,
                    criterion.explanation,
                    _citation(criterion.citation),
                    tuple(_citation(c) for c in criterion.also_cites),
                    bound,
                    shows_values,
                )
            )
        for j, line_note in enumerate(service.line_notes):
            builder.criterion(f"line note {j}", line_note.when, (*path, "line_notes", j, "when"))
        try:
            source, run = builder.function(service.id)
        except (RecursionError, MemoryError, SyntaxError):
            problems.append(Problem(path, "criteria too large to compile"))
            continue
        services[service.id] = CompiledService(
            service.id,
            service.title,
            label,
            codes,
            tuple(criteria),
            _outcome(service.when_met),
            _outcome(service.otherwise),
            builder.bound_list,
            tuple(" ".join(n.note.split()) for n in service.line_notes),
            version,
            source,
            run,
        )
    _check_routing(model, services, problems)
    return services, problems


def _check_routing(
    model: rm.RuleFile, services: dict[str, CompiledService], problems: list[Problem]
) -> None:
    """A procedure code must lead to one service at most."""
    for i, service in enumerate(model.services):
        mine = services.get(service.id)
        if mine is None or mine.codes is None:
            continue
        for other in model.services[:i]:
            theirs = services.get(other.id)
            if theirs is None or theirs.codes is None:
                continue
            for first, _ in mine.codes.entries:
                for second, _ in theirs.codes.entries:
                    if first.first <= second.last and second.first <= first.last:
                        problems.append(
                            Problem(
                                ("services", i, "code_set"),
                                f"codes {first} also route to service {other.id!r}",
                            )
                        )


def _outcome(outcome: rm.Outcome) -> CompiledOutcome:
    citation = _citation(outcome.citation) if outcome.citation else None
    basis = " ".join(outcome.basis.split()) if outcome.basis else None
    return CompiledOutcome(outcome.decision, citation, basis)


def _citation(citation: rm.Citation) -> Citation:
    return share(Citation(section=citation.section, quote=" ".join(citation.quote.split())))


def _known(names: Mapping[str, object]) -> str:
    return f" (defined: {', '.join(sorted(names))})" if names else " (none is defined)"


def combine(answers: list[Answer], decisive: Status, default: Status) -> Answer:
    """Kleene's all (decisive=not_met, default=met) and any (decisive=met, default=not_met)."""
    unknown = False
    for answer in answers:
        if answer[0] == decisive:
            # Only the parts that decided speak: a met `any` does not list the branches it
            # skipped.
            notes = tuple(n for a in answers if a[0] == decisive for n in a[2])
            return (decisive, (), notes)
        if answer[0] == "unknown":
            unknown = True
    notes = tuple(n for a in answers for n in a[2])
    if unknown:
        missing = tuple(dict.fromkeys(m for a in answers for m in a[1]))
        return ("unknown", missing, notes)
    return (default, (), notes)


def some(
    records: tuple[Mapping[str, Any], ...],
    where: Callable[..., Answer],
    list_name: str,
    case: Case,
    line: Line,
    number: int,
) -> Answer:
    """Whether some record of a list meets a condition: met if one does, not met if none
    can, else unknown. An empty list is unknown, and asks for a record."""
    if not records:
        return ("unknown", (list_name,), ())
    answers = [where(case, line, number, record, i) for i, record in enumerate(records)]
    return combine(answers, "met", "not_met")


def match_codes(
    code_set: IcdCodeSet,
    codes: list[str] | tuple[str, ...],
    index: CodeIndex,
    billable_only: bool,
    missing: tuple[str, ...],
) -> Answer:
    """Whether any of the codes is in the set, with a note for each code: met if one is
    listed; unknown (asking for `missing`) if none is but one asks for another code (a
    heading, a history code where the disease is needed); else not met. Remembered per
    codes asked about."""
    key = (tuple(codes), billable_only, missing)
    known = code_set.matches.get(key)
    if known is not None:
        return known  # type: ignore[return-value]
    listed: list[str] = []
    ask: list[str] = []
    unlisted: list[str] = []
    for code in codes:
        kind, note = code_set.describe(code, index, billable_only)
        (listed if kind == LISTED else ask if kind == ASK else unlisted).append(note)
    answer: Answer
    if listed:
        answer = ("met", (), tuple(listed))
    elif ask:
        answer = ("unknown", missing, tuple(ask) + tuple(n for n in unlisted if n))
    else:
        notes = tuple(n for n in unlisted if n) or (f"no code is listed in {code_set.title}",)
        answer = ("not_met", (), notes)
    if len(code_set.matches) < _MATCH_CACHE:
        code_set.matches[key] = answer
    return answer


_MATCH_CACHE = 4096
"""Answers kept per code set."""


@lru_cache(maxsize=4096)
def same_identifier(text: str) -> str:
    """An identifier as people read it: ``"d-1 "`` and a full-width ``"D-1"`` read ``"d-1"``
    (Unicode NFKC, trimmed, case folded)."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def concat(parts: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Join tuples (the notes of a wide junction)."""
    return tuple(chain.from_iterable(parts))


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


class Builder:
    """Writes one service's Python, checking each condition on the way; `operators` calls
    its parts."""

    def __init__(
        self,
        case_format: CaseFormat,
        icd_sets: dict[str, IcdCodeSet],
        index: CodeIndex,
        problems: list[Problem],
        service_label: str,
        budget: list[int] | None = None,
    ) -> None:
        self.case_format, self.icd_sets, self.index = case_format, icd_sets, index
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
            "_match": match_codes,
            "_some": some,
            "_cat": concat,
            "_same_id": same_identifier,
            "_index": index,
        }
        self.constants = Constants("_c", self.names)
        self.functions: list[str] = []
        self.bound_list: str | None = None
        self._scope = _Scope(None)
        self._uses_bound = False
        self.shows_values = False
        """Whether the criterion being written compares values it shows in its notes."""

    # The generated function.

    def criterion(self, criterion_id: str, cond: Any, path: PathKey) -> bool:
        """Add one criterion's code; whether it is judged on the service's list record."""
        self._uses_bound = False
        self.shows_values = False
        self._scope.body.append("    " + self.constants.comment(f"criterion {criterion_id!r}"))
        status, missing, notes = self.build(cond, path)
        self._scope.answers.append(f"({status}, {missing}, {notes})")
        return self._uses_bound

    def function(self, service_id: str) -> tuple[str, Run]:
        """The source of the service's function (and of its quantifiers), and the function."""
        name = identifier("judge_" + re.sub(r"[^a-z0-9_]", "_", service_id, flags=re.ASCII))
        main = self._scope.source(name, criteria=True)
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

    def lookup(self, path: str, where: PathKey) -> Fact | None:
        """The declared fact a path names, checking where it may be used; None (with a
        problem recorded) when it cannot."""
        fact = self.case_format.facts.get(path)
        if fact is None:
            known = ", ".join(sorted(self.case_format.facts))
            self.problems.append(Problem(where, f"unknown fact {path!r}; facts are: {known}"))
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

    def fact(self, path: str) -> str:
        """The local that holds a fact's value (None when absent). Operators check the
        fact first (`lookup`, `typed`), where its problems can be located."""
        scope = self._scope
        local = scope.locals.get(path)
        fact = scope.facts.get(path)
        if local is not None:
            if scope.list_name is None and fact is not None and fact.kind == "list":
                self._uses_bound = True
            return local
        fact = self.case_format.facts.get(path)
        local = identifier(path.replace(".", "_"))
        scope.locals[path] = local
        if fact is None:
            scope.head.append(f"    {local} = None")
            return local
        if fact.kind == "record":
            owner = f"record_{fact.owner}"
            if owner not in scope.head_names:
                scope.head_names.add(owner)
                scope.head.append(f"    {identifier(owner)} = case.records[{fact.owner!r}]")
            scope.head.append(
                f"    {local} = {owner}[{fact.field!r}] if {owner} is not None else None"
            )
        elif fact.kind == "list":
            scope.head.append(f"    {local} = rec[{fact.field!r}] if rec is not None else None")
        else:
            scope.head.append(f"    {local} = line.facts[{fact.field!r}]")
        scope.facts[path] = fact
        return local

    def missing(self, path: str) -> str:
        """The expression naming an absent fact as a case path."""
        fact = self._scope.facts.get(path) or self.case_format.facts.get(path)
        if fact is None:
            return "()"
        if fact.kind == "record":
            return f"({fact.case_path()!r},)"
        tail = f"].{fact.field}"
        if fact.kind == "service":
            return f"('services[' + str(number) + {tail!r},)"
        return (
            f"(({fact.owner + '['!r} + str(index) + {tail!r}) if rec is not None "
            f"else {fact.owner!r},)"
        )

    def typed(
        self, path: str, where: PathKey, allowed: tuple[str, ...], operator: str
    ) -> Fact | None:
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

    def choice(self, fact: Fact, value: object, where: PathKey) -> None:
        """Check that a value is one the fact may hold."""
        choices = fact.declaration.choices
        if fact.type == "choice" and choices and value not in choices:
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
        return OPERATORS[name].compile(self, cond, path)

    def test(self, path: str, expression: str, failed: str | None = None) -> Triple:
        """A leaf on one fact: unknown when it is absent, else `expression` (on ``{v}``).
        When not met, the note `failed` says why: ``{label}`` stands for the fact's label and
        ``{value}`` for the value the case gives."""
        v, k = self.fact(path), self.new()
        if failed is None:
            self.line(
                f"s{k}, m{k} = (_U, {self.missing(path)}) if {v} is None "
                f"else ((_M if {expression.format(v=v)} else _N), ())"
            )
            return (f"s{k}", f"m{k}", "()")
        label = self._label(path).replace("%", "%%")
        text = failed.replace("%", "%%").format(label=label, value="%s")
        note = self.constant(text)
        said = f"({note} % ({v},),)" if "%s" in text else f"({note},)"
        self.line(
            f"s{k}, m{k}, n{k} = (_U, {self.missing(path)}, ()) if {v} is None "
            f"else ((_M, (), ()) if {expression.format(v=v)} else (_N, (), {said}))"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def compare(self, first: str, compare: str, other: str, words: str) -> Triple:
        """Two facts compared; when not met, a note shows both values as given.
        Identifiers are compared as people read them: NFKC, trimmed, case folded."""
        a, b, k = self.fact(first), self.fact(other), self.new()
        self.shows_values = True
        note = self.constant(self._sentence(first, words, other))
        fact = self.case_format.facts.get(first)
        test = f"{a} {compare} {b}"
        if fact is not None and fact.type == "identifier" and compare == "==":
            test = f"({test} or _same_id({a}) == _same_id({b}))"  # the usual case: equal as given
        self.line(
            f"s{k}, m{k}, n{k} = (_U, ({self.missing(first)} if {a} is None else ()) + "
            f"({self.missing(other)} if {b} is None else ()), ()) "
            f"if {a} is None or {b} is None else ((_M, (), ()) if {test} "
            f"else (_N, (), ({note} % ({a}, {b}),)))"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def compare_value(self, first: str, compare: str, value: object, words: str) -> Triple:
        """A fact compared with a number; when not met, a note shows the value found."""
        a, k = self.fact(first), self.new()
        self.shows_values = True
        bound = self.constant(value)
        label = self._label(first).replace("%", "%%")
        note = self.constant(f"{label} (%s) is not {words} {value}")
        self.line(
            f"s{k}, m{k}, n{k} = (_U, {self.missing(first)}, ()) if {a} is None "
            f"else ((_M, (), ()) if {a} {compare} {bound} else (_N, (), ({note} % ({a},),)))"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def _label(self, path: str) -> str:
        fact = self.case_format.facts.get(path)
        return fact.label(self.service_label) if fact else path

    def _sentence(self, first: str, words: str, other: str) -> str:
        a = self._label(first).replace("%", "%%")
        b = self._label(other).replace("%", "%%")
        return f"{a} (%s) is not {words + ' ' if words else ''}{b} (%s)"

    def in_code_set(
        self, path: str, fact: Fact | None, code_set_name: str, where: PathKey
    ) -> Triple:
        """A code (or any of a list of codes) in an ICD-10-CM code set, with notes."""
        code_set = self.icd_sets.get(code_set_name)
        if code_set is None:
            return self.fail(
                (*where, "code_set"),
                f"no ICD-10-CM code set named {code_set_name!r}{_known(self.icd_sets)}",
            )
        v, k, name = self.fact(path), self.new(), self.constant(code_set)
        codes = v if fact is not None and fact.type == "codes" else f"({v},)"
        billable = bool(fact and fact.declaration.billable_only)
        missing = self.missing(path)
        self.line(
            f"s{k}, m{k}, n{k} = (_U, {missing}, ()) if {v} is None "
            f"else _match({name}, {codes}, _index, {billable}, {missing})"
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
        # The usual cases (a part decides, or every part came out the same) without a call;
        # `combine` for the rest, where missing facts are gathered.
        self.line(
            f"s{k}, m{k}, n{k} = ({decisive}, (), {decided}) if {any_decisive} "
            f"else ({default}, (), {notes}) if {all_default} "
            f"else _combine([{listed}], {decisive}, {default})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def some(self, list_name: str, where_cond: Any, path: PathKey) -> Triple:
        """Some record of a declared list meets a condition: compiled as a function of its
        own, called on each record."""
        if list_name not in self.case_format.declaration.lists:
            declared = ", ".join(sorted(self.case_format.declaration.lists)) or "none"
            return self.fail((*path, "of"), f"no list named {list_name!r} (declared: {declared})")
        if self._scope.list_name is not None:
            return self.fail(path, "some cannot be nested in another some")
        outer, self._scope = self._scope, _Scope(list_name)
        try:
            status, missing, notes = self.build(where_cond, (*path, "where"))
        finally:
            inner, self._scope = self._scope, outer
        inner.answers.append(f"({status}, {missing}, {notes})")
        name = identifier(f"some_{len(self.functions) + 1}_{list_name}")
        self.functions.append(inner.source(name, criteria=False))
        k = self.new()
        self.line(
            f"s{k}, m{k}, n{k} = _some(case.lists[{list_name!r}], {name}, {list_name!r}, "
            "case, line, number)"
        )
        return (f"s{k}", f"m{k}", f"n{k}")


@dataclass
class _Scope:
    """The function being written: the top level, or the condition of a `some`."""

    list_name: str | None
    head: list[str] = field(default_factory=list)
    head_names: set[str] = field(default_factory=set)
    body: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    locals: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Fact] = field(default_factory=dict)
    count: int = 0

    def source(self, name: str, *, criteria: bool) -> str:
        signature = f"def {name}(case, line, number, rec, index):"
        answers = ", ".join(self.answers)
        ret = f"    return ({answers},)" if criteria else f"    return {answers}"
        return "\n".join([signature, *self.head, *self.body, ret, ""])
