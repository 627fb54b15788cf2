"""Compiling a validated rule file into Python, and the three-valued logic it follows.

Each service's criteria become one Python function, generated as source and compiled once
when the rule file is loaded. It reads the facts it needs from a case and one of its
service lines, and answers, for each criterion, ``(status, missing, notes)``:

* status is ``met``, ``not_met`` or ``unknown`` (a fact it needs is absent);
* missing names the absent facts behind an ``unknown``, as case paths
  (``transplant.donor_id``, ``services[0].date``);
* notes say what the engine saw (which listed range a code fell in, or why it fell in none).

``all``, ``any`` and ``not`` follow Kleene's three-valued logic: ``all`` is not met as soon
as one part is not met, whatever the others; ``any`` is met as soon as one part is met.
Every part is evaluated, so that all missing facts are named at once. The generated code
holds no value from the rule file in its text: values are passed in as named constants,
and fact names are checked against the case format first.

Compiling also checks what the models cannot see alone: that named code sets exist and are
of the right system, that each operator suits the type of the facts it names, and that
values are ones the case format allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import chain

from dli_check import rules_model as rm
from dli_check.case import FACTS, SERVICE_PREFIX, Case, ServiceLine
from dli_check.codes import Caveat, CptCodeSet, CptRange, IcdCodeSet, IcdEntry
from dli_check.errors import PathKey
from dli_check.icd10cm import CodeIndex, code_index
from dli_check.results import ACTIONS, Citation, Reason, ServiceResult, Status, share
from dli_check.results import Decision as FullDecision

_REASON_CACHE = 4096
"""Distinct reasons kept per criterion; outcomes vary little (notes name codes)."""
_RESULT_CACHE = 2048
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


Answer = tuple[Status, tuple[str, ...], tuple[str, ...]]
Run = Callable[[Case, ServiceLine, int], tuple[Answer, ...]]


@dataclass(frozen=True)
class CompiledCriterion:
    """A criterion's words, and the reasons it gives."""

    id: str
    explanation: str
    citation: Citation
    also_cites: tuple[Citation, ...]
    _reasons: dict[Answer, Reason] = field(default_factory=dict, compare=False, repr=False)

    def reason(self, status: Status, missing: tuple[str, ...], notes: tuple[str, ...]) -> Reason:
        """The reason for one outcome of this criterion, built once per distinct outcome."""
        key = (status, missing, notes)
        reason = self._reasons.get(key)
        if reason is None:
            if len(notes) > MAX_NOTES:
                notes = cap_notes(notes)
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
    """A service ready to run: its CPT codes, criteria, outcomes and generated code."""

    id: str
    title: str
    cpt: CptCodeSet | None
    criteria: tuple[CompiledCriterion, ...]
    when_met: CompiledOutcome
    otherwise: CompiledOutcome
    source: str
    """The generated Python that judges the criteria, for anyone who wants to read it."""
    run: Run = field(repr=False)
    _results: dict[tuple[object, ...], ServiceResult] = field(
        default_factory=dict, compare=False, repr=False
    )

    def decide(self, case: Case, line: ServiceLine, number: int) -> ServiceResult:
        """The result for service line `number` of a case: decision, action, reasons and
        missing facts. Lines that come out the same share one result object."""
        answers = self.run(case, line, number)
        key = (line.cpt, answers)
        result = self._results.get(key)
        if result is None:
            result = self._build(line.cpt, answers)
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


class CompileProblem(Exception):
    """A problem at a path of the rule file's data."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


def compile_services(
    model: rm.RuleFile,
) -> tuple[dict[str, CompiledService], list[CompileProblem]]:
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
        builder = _Builder(icd_sets, index, problems)
        for j, criterion in enumerate(service.criteria):
            cpath: PathKey = (*path, "criteria", j)
            if criterion.id in seen:
                problems.append(
                    CompileProblem((*cpath, "id"), f"criterion {criterion.id!r} is defined twice")
                )
            seen.add(criterion.id)
            try:
                builder.criterion(criterion.id, criterion.condition, (*cpath, "condition"))
            except RecursionError:
                problems.append(CompileProblem(cpath, "condition nested too deeply"))
            criteria.append(
                CompiledCriterion(
                    criterion.id,
                    criterion.explanation,
                    _citation(criterion.citation),
                    tuple(_citation(c) for c in criterion.also_cites),
                )
            )
        try:
            source, run = builder.function(service.id)
        except (RecursionError, MemoryError, SyntaxError):
            problems.append(CompileProblem(path, "criteria too large to compile"))
            continue
        services[service.id] = CompiledService(
            service.id,
            service.title,
            cpt,
            tuple(criteria),
            CompiledOutcome(service.when_met.decision, _citation(service.when_met.citation)),
            CompiledOutcome(service.otherwise.decision, _citation(service.otherwise.citation)),
            source,
            run,
        )
    return services, problems


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


def match_codes(
    code_set: IcdCodeSet, codes: list[str] | tuple[str, ...], index: CodeIndex
) -> Answer:
    """Whether any of the codes is in the set, with a note for each code."""
    listed: list[str] = []
    unlisted: list[str] = []
    for code in codes:
        is_listed, note = code_set.describe(code, index)
        (listed if is_listed else unlisted).append(note)
    if listed:
        return ("met", (), tuple(listed))
    notes = tuple(n for n in unlisted if n) or (f"no code is listed in {code_set.title}",)
    return ("not_met", (), notes)


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


def concat(parts: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Join tuples (the notes of a wide junction)."""
    return tuple(chain.from_iterable(parts))


Triple = tuple[str, str, str]
"""The Python expressions for a node's status, missing and notes."""


class _Builder:
    """Generates the source of one service's function, checking each condition on the way."""

    def __init__(
        self, icd_sets: dict[str, IcdCodeSet], index: CodeIndex, problems: list[CompileProblem]
    ) -> None:
        self.icd_sets, self.index, self.problems = icd_sets, index, problems
        self.names: dict[str, object] = {
            "_M": "met",
            "_N": "not_met",
            "_U": "unknown",
            "_NEG": _NEGATION,
            "_combine": combine,
            "_match": match_codes,
            "_cat": concat,
            "_index": index,
        }
        self.facts: dict[str, str] = {}
        self.body: list[str] = []
        self.answers: list[str] = []

    def criterion(self, criterion_id: str, cond: object, path: PathKey) -> None:
        """Add one criterion's code."""
        self.body.append(f"    # {criterion_id}")
        status, missing, notes = self.build(cond, path)
        self.answers.append(f"({status}, {missing}, {notes})")

    def function(self, service_id: str) -> tuple[str, Run]:
        """The source of the service's function, and the function."""
        head = [f"def judge(case, line, number):  # {service_id}"]
        head.append("    _p = case.patient")
        head.append("    _t = case.transplant")
        head.append("    _line = 'services[' + str(number) + '].'")
        for fact, local in self.facts.items():
            group, name = fact.split(".")
            if group == SERVICE_PREFIX:
                head.append(f"    {local} = line.{name}")
            else:
                var = "_p" if group == "patient" else "_t"
                head.append(f"    {local} = {var}.{name} if {var} is not None else None")
            if FACTS[fact].kind == "codes":
                head.append(f"    {local} = {local} or None")  # an empty list is no list
        answers = ", ".join(self.answers)
        source = "\n".join([*head, *self.body, f"    return ({answers},)", ""])
        namespace = dict(self.names)
        exec(compile(source, f"<rules: {service_id}>", "exec"), namespace)
        run: Run = namespace["judge"]  # type: ignore[assignment]
        return source, run

    def constant(self, value: object) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def fact(self, path: str) -> str:
        if path not in self.facts:
            self.facts[path] = f"f{len(self.facts)}"
        return self.facts[path]

    def missing(self, path: str) -> str:
        """The expression naming an absent fact as a case path."""
        group, name = path.split(".")
        if group == SERVICE_PREFIX:
            return f"(_line + {name!r},)"
        return f"({path!r},)"

    def new(self) -> int:
        return len(self.body)

    def fail(self, path: PathKey, message: str) -> Triple:
        self.problems.append(CompileProblem(path, message))
        return ("_N", "()", "()")

    def kind(self, fact: str, path: PathKey, allowed: tuple[str, ...], operator: str) -> bool:
        kind = FACTS[fact].kind
        if kind in allowed:
            return True
        self.problems.append(
            CompileProblem(path, f"{operator} does not apply to {fact!r}, a {kind} fact")
        )
        return False

    def test(self, fact: str, expression: str) -> Triple:
        """A leaf on one fact: unknown when it is absent, else `expression` (on ``{v}``)."""
        v, k = self.fact(fact), self.new()
        self.body.append(
            f"    s{k}, m{k} = (_U, {self.missing(fact)}) if {v} is None "
            f"else ((_M if {expression.format(v=v)} else _N), ())"
        )
        return (f"s{k}", f"m{k}", "()")

    def build(self, cond: object, path: PathKey) -> Triple:
        if isinstance(cond, rm.All | rm.Any_):
            return self.junction(cond, path)
        if isinstance(cond, rm.Not):
            if isinstance(cond.not_, rm.Present):
                return (f"(_N if {self.fact(cond.not_.present)} is not None else _M)", "()", "()")
            status, missing, notes = self.build(cond.not_, (*path, "not"))
            k = self.new()  # a statement, not a nested expression: nesting has a limit
            self.body.append(f"    s{k} = _NEG[{status}]")
            return (f"s{k}", missing, notes)
        if isinstance(cond, rm.Constant):
            return ("_M" if cond.constant else "_N", "()", "()")
        if isinstance(cond, rm.Present):
            return (f"(_M if {self.fact(cond.present)} is not None else _N)", "()", "()")
        if isinstance(cond, rm.IsTrue):
            self.kind(cond.is_true, (*path, "is_true"), ("bool",), "is_true")
            return self.test(cond.is_true, "{v} is True")
        if isinstance(cond, rm.Equals):
            return self.equals(cond.equals, (*path, "equals"))
        if isinstance(cond, rm.OneOf):
            args = cond.one_of
            ok = self.kind(args.fact, (*path, "one_of", "fact"), ("choice", "str"), "one_of")
            if ok:
                for k, value in enumerate(args.values):
                    self.choice(args.fact, value, (*path, "one_of", "values", k))
            return self.test(args.fact, "{v} in " + self.constant(frozenset(args.values)))
        if isinstance(cond, rm.InCodeSet):
            return self.in_code_set(cond.in_code_set, (*path, "in_code_set"))
        if isinstance(cond, rm.SameAs | rm.Before | rm.After):
            return self.two_facts(cond, path)
        raise TypeError(f"unhandled condition {type(cond).__name__}")  # pragma: no cover

    def junction(self, cond: rm.All | rm.Any_, path: PathKey) -> Triple:
        is_all = isinstance(cond, rm.All)
        op, parts = ("all", cond.all) if isinstance(cond, rm.All) else ("any", cond.any)
        triples = [self.build(c, (*path, op, k)) for k, c in enumerate(parts)]
        default, decisive = ("_M", "_N") if is_all else ("_N", "_M")
        k = self.new()
        statuses = [f"s{k}_{i}" for i in range(len(triples))]
        self.body.append(f"    {', '.join(statuses)}, = {', '.join(t[0] for t in triples)},")
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
        self.body.append(
            f"    s{k}, m{k}, n{k} = ({decisive}, (), {decided}) if {any_decisive} "
            f"else ({default}, (), {notes}) if {all_default} "
            f"else _combine([{listed}], {decisive}, {default})"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def choice(self, fact: str, value: object, path: PathKey) -> None:
        choices = FACTS[fact].choices
        if choices and value not in choices:
            self.problems.append(
                CompileProblem(
                    path, f"{value!r} is not a value of {fact!r} (one of: {', '.join(choices)})"
                )
            )

    def equals(self, args: rm.FactAndValue, path: PathKey) -> Triple:
        kind = FACTS[args.fact].kind
        if not self.kind(args.fact, (*path, "fact"), ("choice", "str", "bool"), "equals"):
            return ("_N", "()", "()")
        if (kind == "bool") != isinstance(args.value, bool):
            wanted = "true or false" if kind == "bool" else "a string"
            return self.fail((*path, "value"), f"{args.fact!r} holds {wanted}")
        self.choice(args.fact, args.value, (*path, "value"))
        return self.test(args.fact, "{v} == " + self.constant(args.value))

    def in_code_set(self, args: rm.FactAndCodeSet, path: PathKey) -> Triple:
        self.kind(args.fact, (*path, "fact"), ("code", "codes"), "in_code_set")
        code_set = self.icd_sets.get(args.code_set)
        if code_set is None:
            return self.fail(
                (*path, "code_set"),
                f"no ICD-10-CM code set named {args.code_set!r}{_known(self.icd_sets)}",
            )
        v, k, name = self.fact(args.fact), self.new(), self.constant(code_set)
        codes = v if FACTS[args.fact].kind == "codes" else f"({v},)"
        self.body.append(
            f"    s{k}, m{k}, n{k} = (_U, {self.missing(args.fact)}, ()) if {v} is None "
            f"else _match({name}, {codes}, _index)"
        )
        return (f"s{k}", f"m{k}", f"n{k}")

    def two_facts(self, cond: rm.SameAs | rm.Before | rm.After, path: PathKey) -> Triple:
        if isinstance(cond, rm.SameAs):
            op, args, compare = "same_as", cond.same_as, "=="
            if not FACTS[args.fact].kind == FACTS[args.other].kind != "codes":
                self.problems.append(
                    CompileProblem(
                        (*path, op),
                        f"same_as compares two single facts of one type; "
                        f"{args.fact!r} and {args.other!r} are not",
                    )
                )
        else:
            op, args = (
                ("before", cond.before) if isinstance(cond, rm.Before) else ("after", cond.after)
            )
            compare = "<" if op == "before" else ">"
            self.kind(args.fact, (*path, op, "fact"), ("date",), op)
            self.kind(args.other, (*path, op, "other"), ("date",), op)
        a, b, k = self.fact(args.fact), self.fact(args.other), self.new()
        self.body.append(
            f"    s{k}, m{k} = (_U, ({self.missing(args.fact)} if {a} is None else ()) + "
            f"({self.missing(args.other)} if {b} is None else ())) "
            f"if {a} is None or {b} is None else ((_M if {a} {compare} {b} else _N), ())"
        )
        return (f"s{k}", f"m{k}", "()")
