"""A validated rule file's services, compiled: each service's criteria become one Python
function (written by `dli_check.compiler.builder`, shown by ``dli-check rules show --format
python``), and `CompiledService.decide` turns its answers into a line result with reasons.

A service whose criteria name facts of a declared list (``visit.kind``, the item of
``visits``) is judged on one record of that list: the first that meets all those
criteria, or else the one that comes closest (fewest not met, then fewest unknown, then
the first). Its reasons name the record. The three-valued logic is in
`dli_check.compiler.logic`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dli_check.compiler.builder import MAX_CONDITIONS, Builder, TooManyConditions, known_names
from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.logic import Answer, Run, cap_notes
from dli_check.errors import PathKey, Problem
from dli_check.results import (
    ACTIONS,
    BY_DEFAULT,
    Citation,
    Reason,
    ServiceResult,
    VersionInfo,
    share,
)
from dli_check.results import Decision as FullDecision
from dli_check.values.case import Case, Line
from dli_check.values.codes import (
    Caveat,
    CodeGroup,
    IcdCodeSet,
    IcdEntry,
    ProcedureCodeSet,
    ProcedureRange,
)
from dli_check.values.icd10cm import code_index

# The rule language (pydantic models) and the operators are needed to compile, not to
# decide: compiled rules read from the cache run without them.
if TYPE_CHECKING:
    from dli_check.language import model as rm

_REASON_CACHE = 4096
"""Distinct reasons kept per criterion; outcomes vary little (notes name codes)."""
_RESULT_CACHE = 1024
"""Distinct line results kept per service: rebuilding one from shared reasons is cheap."""

MAX_RECORDS = 1000
"""The most records a declared list may hold (``max_items`` is at most this)."""


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
    defaults: tuple[tuple[str, str], ...] = ()
    """The line's facts it reads that have a default: (field, the default's reason)."""
    reads: tuple[tuple[str, str, str], ...] = ()
    """The facts it reads, as (kind, owner, field) of `dli_check.language.facts.Fact`:
    of the line, of the case's records, of the record it is judged on."""
    label: str | None = None
    """The criterion as a statement true when it is met (`rm.Criterion.label`)."""
    aside: str | None = None
    """A remark added to the explanation only when the criterion is met."""
    _reasons: dict[tuple[object, ...], Reason] = field(
        default_factory=dict, compare=False, repr=False
    )

    def reason(self, answer: Answer, record: str | None) -> Reason:
        """The reason for one outcome of this criterion, built once per distinct outcome."""
        key = (answer, record)
        reason = self._reasons.get(key)
        if reason is None:
            status, missing, notes = answer
            by_default = False
            if any(n.startswith(BY_DEFAULT) for n in notes):
                # A branch met by a default or an absent fact decides only a met criterion.
                by_default = status == "met"
                if not by_default:
                    notes = tuple(n for n in notes if not n.startswith(BY_DEFAULT))
            notes = cap_notes(notes)
            explanation = self.explanation
            if self.aside and status == "met":
                explanation = f"{explanation} {self.aside}"
            reason = Reason(
                criterion=self.id,
                status=status,
                explanation=explanation,
                citation=self.citation,
                also_cites=self.also_cites,
                record=record,
                notes=notes,
                missing=missing,
                by_default=by_default,
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
class CompiledChoice:
    """How a service chooses the record it is judged on (`rm.RecordChoice`), compiled: a
    function of its conditions, and the positions of their answers."""

    name: str
    explanation: str
    among: int | None
    latest_by: str | None
    """The field of the date that orders the records `among` admits."""
    prefer: int | None
    run: Run = field(repr=False)
    """The conditions' answers on one record (run only when a list has several)."""


@dataclass(frozen=True)
class CompiledRoute:
    """A service's `rm.Route`, compiled: its explanation, and a function of its condition
    (one answer, on the line and the case)."""

    explanation: str
    run: Run = field(repr=False)


@dataclass(frozen=True)
class CompiledService:
    """A service ready to run: its procedure codes, criteria, outcomes and generated code."""

    id: str
    title: str
    label: str
    codes: ProcedureCodeSet | None
    """The codes that route a line to this service (None: a line names it)."""
    expected: tuple[ProcedureCodeSet, str] | None
    """For a service with no routing codes: the codes a line naming it is expected to carry,
    and why these (the rule file's note)."""
    criteria: tuple[CompiledCriterion, ...]
    when_met: CompiledOutcome
    otherwise: CompiledOutcome
    judged_on: str | None
    """The declared list whose records the service is judged on, if any."""
    line_notes: tuple[str, ...]
    """Notes a line gets when their conditions hold; their answers follow the criteria's."""
    not_governed: tuple[Reason, ...]
    """The reasons a line is not governed after all, when their conditions hold; their
    answers follow the line notes'."""
    choice: CompiledChoice | None
    """How the record the service is judged on is chosen; None for the first that meets
    every criterion, else the closest."""
    version: VersionInfo
    """The guideline version this service belongs to."""
    source: str
    """The generated Python that judges the criteria, for anyone who wants to read it."""
    run: Run = field(repr=False)
    route: CompiledRoute | None = None
    """How a line whose code other services list too is told to be this service's."""
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
        if line.defaulted:
            answers = self._by_default(answers, line.defaulted)
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
        if self.choice is not None:
            runs = [self.run(case, line, number, r, i) for i, r in enumerate(records)]
            picks = [self.choice.run(case, line, number, r, i) for i, r in enumerate(records)]
            chosen = self._chosen(runs, picks, records) if self.choice.among is not None else None
            return chosen or self._closest(runs, picks)
        names = self._record_names
        best: tuple[int, int, int] | None = None
        best_answers: tuple[Answer, ...] = ()
        for index, record in enumerate(records):
            answers = self.run(case, line, number, record, index)
            score = self._score(answers)
            if not score[0] and not score[1]:
                return answers, names[index]
            if best is None or (*score, index) < best:
                best, best_answers = (*score, index), answers
        assert best is not None
        return best_answers, names[best[2]]

    def _by_default(
        self, answers: tuple[Answer, ...], defaulted: tuple[str, ...]
    ) -> tuple[Answer, ...]:
        """Say so on a criterion met through a fact the line holds by its default."""
        noted = list(answers)
        for k, criterion in enumerate(self.criteria):
            if answers[k][0] != "met":
                continue
            for name, why in criterion.defaults:
                if name in defaulted:
                    status, missing, notes = noted[k]
                    noted[k] = (status, missing, (*notes, f"{BY_DEFAULT}{why}"))
        return tuple(noted)

    def _score(self, answers: tuple[Answer, ...]) -> tuple[int, int]:
        """Criteria of the record not met, and unknown."""
        not_met = unknown = 0
        for i in self._bound:
            status = answers[i][0]
            if status != "met":
                if status == "not_met":
                    not_met += 1
                else:
                    unknown += 1
        return not_met, unknown

    def _closest(
        self, runs: list[tuple[Answer, ...]], picks: list[tuple[Answer, ...]]
    ) -> tuple[tuple[Answer, ...], str]:
        """The first record that meets every criterion, else the closest: preferred records
        first (`CompiledChoice.prefer`), then fewest not met, fewest unknown, first."""
        prefer = self.choice.prefer if self.choice is not None else None

        def rank(index: int) -> tuple[int, int, int, int]:
            answers = runs[index]
            preferred = prefer is not None and picks[index][prefer][0] == "met"
            not_met, unknown = self._score(answers)
            if not not_met and not unknown:
                return (0, 0, 0, index)
            return (1, 0 if preferred else 1, not_met * 1000 + unknown, index)

        best = min(range(len(runs)), key=rank)
        return runs[best], self._record_names[best]

    def _chosen(
        self,
        runs: list[tuple[Answer, ...]],
        picks: list[tuple[Answer, ...]],
        records: tuple[Mapping[str, Any], ...],
    ) -> tuple[tuple[Answer, ...], str] | None:
        """The answers on the chosen record (the latest that `among` admits), with notes
        naming preferred records that meet what it does not; None when no record can be
        chosen. When missing dates leave several possible, a criterion on which they
        disagree is unknown and asks for those dates."""
        choice = self.choice
        assert choice is not None and choice.among is not None and choice.latest_by is not None
        among, field_ = choice.among, choice.latest_by
        admitted = [i for i, answers in enumerate(picks) if answers[among][0] == "met"]
        if not admitted:
            return None
        dated = [i for i in admitted if records[i].get(field_) is not None]
        undated = [i for i in admitted if records[i].get(field_) is None]
        latest = max(dated, key=lambda i: (records[i][field_], i)) if dated else None
        possible = ([] if latest is None else [latest]) + undated
        names = self._record_names
        if len(possible) > 1:
            missing = tuple(f"{names[i]}.{field_}" for i in undated)
            said = (f"which of {self.judged_on} is {choice.name} depends on {', '.join(missing)}",)
            first = runs[possible[0]]
            answers = tuple(
                answer
                if all(runs[i][k][0] == answer[0] for i in possible)
                else ("unknown", missing, said)
                for k, answer in enumerate(first)
            )
            return answers, names[possible[0]]
        chosen = possible[0]
        answers = runs[chosen]
        if choice.prefer is None:
            return answers, names[chosen]
        others = [i for i, a in enumerate(picks) if i != chosen and a[choice.prefer][0] == "met"]
        when = records[chosen].get(field_)
        where = f"{names[chosen]} ({when})"
        noted = list(answers)
        for k in self._bound:
            if answers[k][0] == "met":
                continue
            meeting = [names[i] for i in others if runs[i][k][0] == "met"]
            if meeting:
                note = (
                    f"{', '.join(meeting)} {'meets' if len(meeting) == 1 else 'meet'} it, but "
                    f"{where} is {choice.name}: {choice.explanation}"
                )
                status, missing, notes = answers[k]
                noted[k] = (status, missing, (*notes, note))
        return tuple(noted), names[chosen]

    def _build(
        self,
        code: str | None,
        answers: tuple[Answer, ...],
        record: str | None,
        notes: tuple[str, ...],
    ) -> ServiceResult:
        count, notes_end = len(self.criteria), len(self.criteria) + len(self.line_notes)
        judged, noted = answers[:count], answers[count:notes_end]
        excluded = answers[notes_end : notes_end + len(self.not_governed)]
        for reason, answer in zip(self.not_governed, excluded, strict=True):
            if answer[0] == "met":  # not what the guideline governs, after all
                return ServiceResult(
                    service=None,
                    code=code,
                    decision="not_applicable",
                    action=ACTIONS["not_applicable"],
                    outcome=None,
                    reasons=(reason,),
                    missing=(),
                    notes=notes,
                    version=self.version,
                )
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
    model: rm.RuleFile, problems: list[Problem] | None = None
) -> tuple[dict[str, IcdCodeSet], dict[str, ProcedureCodeSet]]:
    """The rule file's code sets, ready to answer `contains()`; a code that is not of its
    set's system is left out, and added to `problems` (when given)."""
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
            entries = []
            for k, e in enumerate(code_set.codes):
                try:
                    entries.append((ProcedureRange.parse(e.codes, code_set.system), e.description))
                except ValueError as exc:
                    if problems is not None:
                        problems.append(Problem(("code_sets", name, "codes", k, "codes"), str(exc)))
            procedures[name] = ProcedureCodeSet(
                name, code_set.title, code_set.system, tuple(entries)
            )
    return icd, procedures


def compile_services(
    model: rm.RuleFile, case_format: CaseFormat, version: VersionInfo, *, trace: bool = False
) -> tuple[dict[str, CompiledService], list[Problem]]:
    """Compile every service; return them with every problem found (empty when valid).
    With `trace`, each service's `run` also answers every condition outside a quantifier
    (see `Builder.function`): slower, for explaining one line, never for deciding."""
    index = code_index()
    problems: list[Problem] = []
    icd_sets, all_plain = code_sets(model, problems)
    # Only procedure codes route lines; the other systems' sets are for criteria.
    procedure_sets = {n: s for n, s in all_plain.items() if s.system in ("CPT", "HCPCS")}
    tested: dict[str, IcdCodeSet | ProcedureCodeSet] = {**icd_sets, **all_plain}
    services: dict[str, CompiledService] = {}
    budget = [MAX_CONDITIONS]
    routes = {
        s.id: procedure_sets.get(s.code_set) if s.code_set is not None else None
        for s in model.services
    }
    for i, service in enumerate(model.services):
        path: PathKey = ("services", i)
        if service.id in services:
            problems.append(Problem((*path, "id"), f"service {service.id!r} is defined twice"))
        codes = None
        if service.code_set is not None:
            codes = procedure_sets.get(service.code_set)
            if codes is not None and model.code_sets[service.code_set].citation is None:
                message = "routes lines, so its code set quotes where the guideline prints it"
                problems.append(Problem((*path, "code_set"), f"{message} (citation)"))
            if codes is None:
                problems.append(
                    Problem(
                        (*path, "code_set"),
                        f"no CPT or HCPCS code set named {service.code_set!r}"
                        + known_names(procedure_sets),
                    )
                )
        expected = _expected_codes(service, procedure_sets, path, problems)
        label = service.label or f"the {service.title[:1].lower()}{service.title[1:]}"
        builder = Builder(
            case_format,
            tested,
            index,
            problems,
            label,
            budget,
            routes,
            model.conditions,
            trace=trace,
        )
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
            line_reads = sorted(f.field for f in builder.reads.values() if f.kind == "service")
            defaults = tuple(
                (name, " ".join(d.default_reason.split()))
                for name in line_reads
                if (d := case_format.facts[f"service.{name}"].declaration).default is not None
                and d.default_reason
            )
            reads = tuple((f.kind, f.owner, f.field) for f in builder.reads.values())
            criteria.append(
                CompiledCriterion(
                    criterion.id,
                    criterion.explanation,
                    _citation(criterion.citation),
                    tuple(_citation(c) for c in criterion.also_cites),
                    bound,
                    shows_values,
                    defaults,
                    reads,
                    criterion.label and " ".join(criterion.label.split()),
                    criterion.aside and " ".join(criterion.aside.split()),
                )
            )
        for j, line_note in enumerate(service.line_notes):
            builder.criterion(f"line note {j}", line_note.when, (*path, "line_notes", j, "when"))
        for j, excluded in enumerate(service.not_governed_when):
            excluded_at: PathKey = (*path, "not_governed_when", j, "when")
            builder.criterion(f"not governed {j}", excluded.when, excluded_at)
        chooser = Builder(
            case_format, tested, index, problems, label, budget, routes, model.conditions
        )
        chosen = _choice(service, builder, chooser, path, problems)
        choice, route = None, None
        router = Builder(
            case_format, tested, index, problems, label, budget, routes, model.conditions
        )
        if service.route is not None:
            router.criterion("route", service.route.when, (*path, "route", "when"))
            if router.bound_list is not None:
                message = (
                    f"a route reads the line and the case, not one record of "
                    f"{router.bound_list} (use some, none, every or count)"
                )
                problems.append(Problem((*path, "route", "when"), message))
        try:
            source, run = builder.function(service.id)
            if chosen is not None:
                choice_source, choose = chooser.function(f"{service.id} record choice")
                source += "\n" + choice_source
                choice = CompiledChoice(*chosen, choose)
            if service.route is not None:
                route_source, route_run = router.function(f"{service.id} route")
                source += "\n" + route_source
                route = CompiledRoute(" ".join(service.route.explanation.split()), route_run)
        except (RecursionError, MemoryError, SyntaxError):
            problems.append(Problem(path, "criteria too large to compile"))
            continue
        services[service.id] = CompiledService(
            service.id,
            service.title,
            label,
            codes,
            expected,
            tuple(criteria),
            _outcome(service.when_met),
            _outcome(service.otherwise),
            builder.bound_list,
            tuple(" ".join(n.note.split()) for n in service.line_notes),
            tuple(_not_governed(e) for e in service.not_governed_when),
            choice,
            version,
            source,
            run,
            route,
        )
    _check_routing(model, services, problems)
    return services, problems


def _check_routing(
    model: rm.RuleFile, services: dict[str, CompiledService], problems: list[Problem]
) -> None:
    """A procedure code must lead to one service at most, unless each service that lists
    it has a route that tells them apart."""
    for i, service in enumerate(model.services):
        mine = services.get(service.id)
        if mine is None or mine.codes is None:
            continue
        for other in model.services[:i]:
            theirs = services.get(other.id)
            if theirs is None or theirs.codes is None or (service.route and other.route):
                continue
            for first, _ in mine.codes.entries:
                for second, _ in theirs.codes.entries:
                    if first.first <= second.last and second.first <= first.last:
                        problems.append(
                            Problem(
                                ("services", i, "code_set"),
                                f"codes {first} also route to service {other.id!r}: "
                                "give each service a route to tell them apart",
                            )
                        )


def _expected_codes(
    service: rm.Service,
    procedure_sets: dict[str, ProcedureCodeSet],
    path: PathKey,
    problems: list[Problem],
) -> tuple[ProcedureCodeSet, str] | None:
    expected = service.expected_codes
    if expected is None:
        return None
    where = (*path, "expected_codes", "code_set")
    if service.code_set is not None:
        message = "is for a service the guideline lists no code for (code_set: null)"
        problems.append(Problem((*path, "expected_codes"), message))
        return None
    code_set = procedure_sets.get(expected.code_set)
    if code_set is None:
        message = f"no CPT or HCPCS code set named {expected.code_set!r}"
        problems.append(Problem(where, message + known_names(procedure_sets)))
        return None
    return code_set, " ".join(expected.note.split())


def _choice(
    service: rm.Service, builder: Builder, chooser: Builder, path: PathKey, problems: list[Problem]
) -> tuple[str, str, int | None, str | None, int | None] | None:
    """Compile a service's record choice into `chooser`, a function of its own run only on
    lists of several records: (name, explanation, among's answer, the field of the date,
    prefer's answer)."""
    choice = service.record_choice
    if choice is None:
        return None
    where: PathKey = (*path, "record_choice")
    position = 0
    among = prefer = None
    if choice.among is not None:
        chooser.criterion("record choice: among", choice.among, (*where, "among"))
        among, position = position, position + 1
    if choice.prefer is not None:
        chooser.criterion("record choice: prefer", choice.prefer, (*where, "prefer"))
        prefer = position
    latest_by = None
    if (choice.among is None) != (choice.latest_by is None):
        problems.append(Problem(where, "among and latest_by go together"))
    elif choice.latest_by is not None:
        fact = builder.case_format.facts.get(choice.latest_by)
        if fact is None or fact.kind != "list" or fact.type != "date":
            message = "must be a date fact of the list's records"
            problems.append(Problem((*where, "latest_by"), message))
        elif builder.bound_list != fact.owner:
            message = f"must be a fact of {builder.bound_list or 'the list the criteria judge'}"
            problems.append(Problem((*where, "latest_by"), message))
        else:
            latest_by = fact.field
    if builder.bound_list is None:
        problems.append(Problem(where, "the criteria judge no list's records: nothing to choose"))
    elif chooser.bound_list not in (None, builder.bound_list):
        message = f"its conditions must read {builder.bound_list}, the list the criteria judge"
        problems.append(Problem(where, message))
    name, explanation = (" ".join(t.split()) for t in (choice.name, choice.explanation))
    return name, explanation, among, latest_by, prefer


def _not_governed(excluded: rm.NotGoverned) -> Reason:
    return share(
        Reason(
            criterion="governed-by-the-guideline",
            status="not_met",
            explanation=" ".join(excluded.explanation.split()),
            citation=_citation(excluded.citation),
            also_cites=(),
            record=None,
            notes=(),
            missing=(),
        )
    )


def _outcome(outcome: rm.Outcome) -> CompiledOutcome:
    citation = _citation(outcome.citation) if outcome.citation else None
    basis = " ".join(outcome.basis.split()) if outcome.basis else None
    return CompiledOutcome(outcome.decision, citation, basis)


def _citation(citation: rm.Citation) -> Citation:
    return share(Citation(section=citation.section, quote=" ".join(citation.quote.split())))
