"""Compiling a validated rule file into checks, and the three-valued logic they follow.

Each condition becomes a Python closure, built once when the rule file is loaded, that
takes the facts of one service line and answers ``(status, missing, notes)``:

* status is ``met``, ``not_met`` or ``unknown`` (a fact it needs is absent);
* missing names the absent facts behind an ``unknown``;
* notes say what the engine saw (which listed range a code fell in, or why it fell in none).

``all``, ``any`` and ``not`` follow Kleene's three-valued logic: ``all`` is not met as soon
as one part is not met, whatever the others; ``any`` is met as soon as one part is met.
Every part is evaluated, so that all missing facts are named at once.

Compiling also checks what the models cannot see alone: that named code sets exist and are
of the right system, that each operator suits the type of the facts it names, and that
values are ones the case format allows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dli_check import rules_model as rm
from dli_check.case import FACTS, SERVICE_PREFIX
from dli_check.codes import Caveat, CptCodeSet, CptRange, IcdCodeSet, IcdEntry
from dli_check.icd10cm import CodeIndex, code_index
from dli_check.loaders import PathKey
from dli_check.results import ACTIONS, Citation, Reason, ServiceResult, Status, share
from dli_check.results import Decision as FullDecision

_REASON_CACHE = 4096
"""Distinct reasons kept per criterion; outcomes vary little (notes name codes)."""
_RESULT_CACHE = 32768
"""Distinct line results kept per service (a few hundred bytes each: reasons are shared)."""
_LINE_PREFIX = f"{SERVICE_PREFIX}."
_LINE_FACT = len(_LINE_PREFIX)

Facts = Mapping[str, object]
Answer = tuple[Status, tuple[str, ...], tuple[str, ...]]
Check = Callable[[Facts], Answer]


@dataclass(frozen=True)
class CompiledCriterion:
    """A criterion ready to run."""

    id: str
    explanation: str
    citation: Citation
    also_cites: tuple[Citation, ...]
    check: Check
    _reasons: dict[tuple[Status, tuple[str, ...], tuple[str, ...]], Reason] = field(
        default_factory=dict, compare=False, repr=False
    )

    def reason(self, status: Status, missing: tuple[str, ...], notes: tuple[str, ...]) -> Reason:
        """The reason for one outcome of this criterion, built once per distinct outcome."""
        key = (status, missing, notes)
        reason = self._reasons.get(key)
        if reason is None:
            reason = Reason(
                criterion=self.id,
                status=status,
                explanation=self.explanation,
                citation=self.citation,
                also_cites=self.also_cites,
                notes=notes,
                missing=missing,
            )
            if len(self._reasons) < _REASON_CACHE:
                self._reasons[key] = share(reason)
        return reason


@dataclass(frozen=True)
class CompiledOutcome:
    """A service's decision and where the guideline states it."""

    decision: rm.Decision
    citation: Citation


@dataclass(frozen=True)
class CompiledService:
    """A service ready to run: its CPT codes, criteria and outcomes."""

    id: str
    title: str
    cpt: CptCodeSet | None
    criteria: tuple[CompiledCriterion, ...]
    when_met: CompiledOutcome
    otherwise: CompiledOutcome
    _results: dict[tuple[object, ...], ServiceResult] = field(
        default_factory=dict, compare=False, repr=False
    )

    def decide(self, facts: Facts, cpt: str | None, number: int) -> ServiceResult:
        """The result for service line `number`: decision, action, reasons, missing facts.

        Lines that come out the same share one result object, built and serialized once.
        """
        answers = []
        for criterion in self.criteria:
            answer = criterion.check(facts)
            answers.append(_at_line(answer, number) if answer[1] else answer)
        key = (cpt, tuple(answers))
        result = self._results.get(key)
        if result is None:
            result = self._build(cpt, key[1])
            if len(self._results) < _RESULT_CACHE:
                self._results[key] = result
        return result

    def _build(self, cpt: str | None, answers: tuple[Answer, ...]) -> ServiceResult:
        reasons = tuple(c.reason(*a) for c, a in zip(self.criteria, answers, strict=True))
        statuses = {a[0] for a in answers}
        decision: FullDecision
        outcome: Citation | None
        if "not_met" in statuses:
            decision, outcome = self.otherwise.decision, self.otherwise.citation
        elif "unknown" in statuses:
            decision, outcome = "insufficient_information", None
        else:
            decision, outcome = self.when_met.decision, self.when_met.citation
        # Built from validated parts only: no need to validate them again.
        return ServiceResult.model_construct(
            service=self.id,
            cpt=cpt,
            decision=decision,
            action=ACTIONS[decision],
            outcome=outcome,
            reasons=reasons,
            missing=tuple(dict.fromkeys(m for a in answers for m in a[1])),
        )


def _at_line(answer: Answer, number: int) -> Answer:
    """Rules name a line's facts `service.x`; a reader finds them at `services[N].x`."""
    missing = tuple(
        f"services[{number}].{m[_LINE_FACT:]}" if m.startswith(_LINE_PREFIX) else m
        for m in answer[1]
    )
    return (answer[0], missing, answer[2])


class CompileProblem(Exception):
    """A problem at a path of the rule file's data."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


def compile_services(model: rm.RuleFile) -> tuple[dict[str, CompiledService], list[CompileProblem]]:
    """Compile every service; return them with every problem found (empty when valid)."""
    index = code_index()
    problems: list[CompileProblem] = []
    icd_sets: dict[str, IcdCodeSet] = {}
    cpt_sets: dict[str, CptCodeSet] = {}
    for name, code_set in model.code_sets.items():
        if isinstance(code_set, rm.IcdCodeSet):
            icd_sets[name] = IcdCodeSet(
                name,
                code_set.title,
                tuple(IcdEntry(e.codes, e.description) for e in code_set.codes),
                tuple(Caveat(tuple(c.codes), c.note) for c in code_set.caveats),
            )
        else:
            entries: tuple[tuple[CptRange, str], ...] = tuple(
                (e.codes, e.description) for e in code_set.codes
            )
            cpt_sets[name] = CptCodeSet(name, code_set.title, entries)
    builder = _Builder(icd_sets, index, problems)
    services: dict[str, CompiledService] = {}
    for i, service in enumerate(model.services):
        path: PathKey = ("services", i)
        if service.id in services:
            problems.append(
                CompileProblem((*path, "id"), f"service {service.id!r} is defined twice")
            )
        cpt = None
        if service.cpt_code_set is not None:
            cpt = cpt_sets.get(service.cpt_code_set)
            if cpt is None:
                problems.append(
                    CompileProblem(
                        (*path, "cpt_code_set"),
                        f"no CPT code set named {service.cpt_code_set!r}" + _known(cpt_sets),
                    )
                )
        seen: set[str] = set()
        criteria = []
        for j, criterion in enumerate(service.criteria):
            cpath: PathKey = (*path, "criteria", j)
            if criterion.id in seen:
                problems.append(
                    CompileProblem((*cpath, "id"), f"criterion {criterion.id!r} is defined twice")
                )
            seen.add(criterion.id)
            criteria.append(
                CompiledCriterion(
                    criterion.id,
                    criterion.explanation,
                    _citation(criterion.citation),
                    tuple(_citation(c) for c in criterion.also_cites),
                    builder.build(criterion.condition, (*cpath, "condition")),
                )
            )
        services[service.id] = CompiledService(
            service.id,
            service.title,
            cpt,
            tuple(criteria),
            CompiledOutcome(service.when_met.decision, _citation(service.when_met.citation)),
            CompiledOutcome(service.otherwise.decision, _citation(service.otherwise.citation)),
        )
    return services, problems


def _citation(citation: rm.Citation) -> Citation:
    return share(Citation(section=citation.section, quote=" ".join(citation.quote.split())))


def _known(names: Mapping[str, object]) -> str:
    return f" (defined: {', '.join(sorted(names))})" if names else " (none is defined)"


def _unknown(fact: str) -> Answer:
    return ("unknown", (fact,), ())


_MET: Answer = ("met", (), ())
_NOT_MET: Answer = ("not_met", (), ())


def _combine(answers: list[Answer], decisive: Status, default: Status) -> Answer:
    """Kleene's all (decisive=not_met, default=met) and any (decisive=met, default=not_met)."""
    unknown = noted = False
    for answer in answers:
        if answer[0] == decisive:
            # Only the parts that decided speak: a met `any` does not list the branches it
            # skipped.
            notes = tuple(n for a in answers if a[0] == decisive for n in a[2])
            return (decisive, (), notes)
        if answer[0] == "unknown":
            unknown = True
        if answer[2]:
            noted = True
    if not (unknown or noted):
        return _MET if default == "met" else _NOT_MET
    notes = tuple(n for a in answers for n in a[2])
    if unknown:
        missing = tuple(dict.fromkeys(m for a in answers for m in a[1]))
        return ("unknown", missing, notes)
    return (default, (), notes)


def _never(facts: Facts) -> Answer:
    """Stands in for a check that failed to compile; the rule file is rejected anyway."""
    return _NOT_MET


_NEGATION: dict[Status, Status] = {"met": "not_met", "not_met": "met", "unknown": "unknown"}


class _Builder:
    def __init__(
        self, icd_sets: dict[str, IcdCodeSet], index: CodeIndex, problems: list[CompileProblem]
    ) -> None:
        self.icd_sets, self.index, self.problems = icd_sets, index, problems

    def fail(self, path: PathKey, message: str) -> Check:
        self.problems.append(CompileProblem(path, message))
        return _never

    def kind(self, fact: str, path: PathKey, allowed: tuple[str, ...], operator: str) -> bool:
        kind = FACTS[fact].kind
        if kind in allowed:
            return True
        self.problems.append(
            CompileProblem(path, f"{operator} does not apply to {fact!r}, a {kind} fact")
        )
        return False

    def build(self, cond: object, path: PathKey) -> Check:
        if isinstance(cond, rm.All | rm.Any_):
            is_all = isinstance(cond, rm.All)
            op = "all" if is_all else "any"
            parts = cond.all if isinstance(cond, rm.All) else cond.any
            checks = [self.build(c, (*path, op, k)) for k, c in enumerate(parts)]
            decisive: Status = "not_met" if is_all else "met"
            default: Status = "met" if is_all else "not_met"
            return lambda facts: _combine([c(facts) for c in checks], decisive, default)
        if isinstance(cond, rm.Not):
            if isinstance(cond.not_, rm.Present):  # one closure, not two: a common idiom
                fact = cond.not_.present
                return lambda facts: _NOT_MET if fact in facts else _MET
            inner = self.build(cond.not_, (*path, "not"))

            def negate(facts: Facts) -> Answer:
                status, missing, notes = inner(facts)
                return (_NEGATION[status], missing, notes)

            return negate
        if isinstance(cond, rm.Constant):
            answer = _MET if cond.constant else _NOT_MET
            return lambda facts: answer
        if isinstance(cond, rm.Present):
            fact = cond.present
            return lambda facts: _MET if fact in facts else _NOT_MET
        if isinstance(cond, rm.IsTrue):
            fact = cond.is_true
            self.kind(fact, (*path, "is_true"), ("bool",), "is_true")
            return _compare(fact, lambda v: v is True)
        if isinstance(cond, rm.Equals):
            return self.equals(cond.equals, (*path, "equals"))
        if isinstance(cond, rm.OneOf):
            args = cond.one_of
            ok = self.kind(args.fact, (*path, "one_of", "fact"), ("choice", "str"), "one_of")
            if ok:
                for k, value in enumerate(args.values):
                    self.choice(args.fact, value, (*path, "one_of", "values", k))
            values = frozenset(args.values)
            return _compare(args.fact, lambda v: v in values)
        if isinstance(cond, rm.InCodeSet):
            return self.in_code_set(cond.in_code_set, (*path, "in_code_set"))
        if isinstance(cond, rm.SameAs | rm.Before | rm.After):
            return self.two_facts(cond, path)
        raise TypeError(f"unhandled condition {type(cond).__name__}")  # pragma: no cover

    def choice(self, fact: str, value: object, path: PathKey) -> None:
        choices = FACTS[fact].choices
        if choices and value not in choices:
            self.problems.append(
                CompileProblem(
                    path, f"{value!r} is not a value of {fact!r} (one of: {', '.join(choices)})"
                )
            )

    def equals(self, args: rm.FactAndValue, path: PathKey) -> Check:
        kind = FACTS[args.fact].kind
        if not self.kind(args.fact, (*path, "fact"), ("choice", "str", "bool"), "equals"):
            return _never
        if (kind == "bool") != isinstance(args.value, bool):
            wanted = "true or false" if kind == "bool" else "a string"
            return self.fail((*path, "value"), f"{args.fact!r} holds {wanted}")
        self.choice(args.fact, args.value, (*path, "value"))
        value = args.value
        return _compare(args.fact, lambda v: v == value)

    def in_code_set(self, args: rm.FactAndCodeSet, path: PathKey) -> Check:
        self.kind(args.fact, (*path, "fact"), ("code", "codes"), "in_code_set")
        code_set = self.icd_sets.get(args.code_set)
        if code_set is None:
            return self.fail(
                (*path, "code_set"),
                f"no ICD-10-CM code set named {args.code_set!r}{_known(self.icd_sets)}",
            )
        fact, index = args.fact, self.index
        many = FACTS[fact].kind == "codes"

        def check(facts: Facts) -> Answer:
            value = facts.get(fact)
            if value is None:
                return _unknown(fact)
            codes: tuple[str, ...] = value if many else (value,)  # type: ignore[assignment]
            return _match_codes(code_set, codes, index)

        return check

    def two_facts(self, cond: rm.SameAs | rm.Before | rm.After, path: PathKey) -> Check:
        if isinstance(cond, rm.SameAs):
            op, args = "same_as", cond.same_as
            ok = FACTS[args.fact].kind == FACTS[args.other].kind != "codes"
            if not ok:
                self.problems.append(
                    CompileProblem(
                        (*path, op),
                        f"same_as compares two single facts of one type; "
                        f"{args.fact!r} and {args.other!r} are not",
                    )
                )
            test: Callable[[Any, Any], bool] = operator.eq
        else:
            op, args = (
                ("before", cond.before) if isinstance(cond, rm.Before) else ("after", cond.after)
            )
            self.kind(args.fact, (*path, op, "fact"), ("date",), op)
            self.kind(args.other, (*path, op, "other"), ("date",), op)
            test = operator.lt if op == "before" else operator.gt
        fact, other = args.fact, args.other

        def check(facts: Facts) -> Answer:
            a, b = facts.get(fact), facts.get(other)
            if a is None or b is None:
                missing = tuple(f for f, v in ((fact, a), (other, b)) if v is None)
                return ("unknown", missing, ())
            return _MET if test(a, b) else _NOT_MET

        return check


def _compare(fact: str, test: Callable[[object], bool]) -> Check:
    def check(facts: Facts) -> Answer:
        value = facts.get(fact)
        if value is None:
            return _unknown(fact)
        return _MET if test(value) else _NOT_MET

    return check


def _match_codes(code_set: IcdCodeSet, codes: tuple[str, ...], index: CodeIndex) -> Answer:
    listed: list[str] = []
    unlisted: list[str] = []
    for code in codes:
        is_listed, note = code_set.describe(code, index)
        (listed if is_listed else unlisted).append(note)
    if listed:
        return ("met", (), tuple(listed))
    notes = tuple(n for n in unlisted if n) or (f"no code is listed in {code_set.title}",)
    return ("not_met", (), notes)
