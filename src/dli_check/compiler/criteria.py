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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dli_check.compiler.builder import MAX_CONDITIONS, Builder, TooManyConditions, known_names
from dli_check.compiler.case_format import CaseFormat
from dli_check.compiler.logic import Answer, Run, cap_notes
from dli_check.errors import PathKey, Problem
from dli_check.results import (
    ACTIONS,
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
        count, notes_end = len(self.criteria), len(self.criteria) + len(self.line_notes)
        judged, noted = answers[:count], answers[count:notes_end]
        for reason, answer in zip(self.not_governed, answers[notes_end:], strict=True):
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
        for j, excluded in enumerate(service.not_governed_when):
            excluded_at: PathKey = (*path, "not_governed_when", j, "when")
            builder.criterion(f"not governed {j}", excluded.when, excluded_at)
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
            expected,
            tuple(criteria),
            _outcome(service.when_met),
            _outcome(service.otherwise),
            builder.bound_list,
            tuple(" ".join(n.note.split()) for n in service.line_notes),
            tuple(_not_governed(e) for e in service.not_governed_when),
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
