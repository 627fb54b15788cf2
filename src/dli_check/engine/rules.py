"""The library's front door: load a rule file, evaluate cases against it."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from dli_check._version import __version__
from dli_check.compiler.case_format import CaseFormat, build_case_format
from dli_check.compiler.checks import CompiledCheck, apply_checks, compile_checks
from dli_check.compiler.criteria import CompiledService, compile_services
from dli_check.compiler.logic import Answer
from dli_check.engine.about import bundled_rules_path
from dli_check.engine.audit import Audit
from dli_check.errors import CaseError, CaseProblem, RuleFileError, RuleProblems
from dli_check.files import read_rule_file
from dli_check.language.read import RuleModel, located_problem, read_model
from dli_check.results import (
    ACTIONS,
    CaseResult,
    Citation,
    CodeSystemInfo,
    GuidelineInfo,
    Provenance,
    Reason,
    ServiceResult,
    Status,
    VersionInfo,
    case_decision,
    share,
)
from dli_check.results import Decision as FullDecision
from dli_check.values.case import Case, Line
from dli_check.values.icd10cm import code_index

if TYPE_CHECKING:
    from dli_check.language.model import RuleFile


@dataclass(frozen=True)
class Rules:
    """A loaded, validated and compiled rule file."""

    source: str
    rule_model: RuleModel = field(repr=False)
    """The rule file's bytes, and its model (made again when first needed)."""
    case_format: CaseFormat
    services: dict[str, CompiledService]
    provenance: Provenance
    version: VersionInfo = field(repr=False)
    """Which version of the guideline this rule file is."""
    period: tuple[dt.date | None, dt.date | None] = field(repr=False)
    """When it is in effect, by date of service (None: an open end)."""
    scope: Citation = field(repr=False)
    """What the guideline addresses: cited by lines no service of it decides."""
    checks: tuple[CompiledCheck, ...] = field(default=(), repr=False)
    """The case checks the rule file declares, run once a case is valid."""
    _not_governed: dict[str, ServiceResult] = field(default_factory=dict, repr=False)
    _routes: dict[str, tuple[CompiledService, ...]] = field(default_factory=dict, repr=False)
    _traced: dict[str, CompiledService] = field(default_factory=dict, repr=False)

    @property
    def raw(self) -> bytes:
        """The rule file's bytes, as read once: what a batch hands its workers."""
        return self.rule_model.raw

    @property
    def model(self) -> RuleFile:
        """The rule file's validated model (the rule language's pydantic models)."""
        return self.rule_model.get()

    @property
    def field_names(self) -> frozenset[str]:
        """Every key a case may hold."""
        return self.case_format.field_names

    def decide_data(self, data: Any, source: str, *, read_from_fhir: bool = False) -> CaseResult:
        """Validate decoded case data and decide it. The engine reads no input format:
        `dli_check.api.decide_data` reads FHIR Bundles and gives case JSON's problems their
        line and column."""
        return decide(
            case_from_data(data, self, source=source, read_from_fhir=read_from_fhir), self
        )

    def traced_services(self) -> dict[str, CompiledService]:
        """The services compiled again to answer every condition, not only every
        criterion (see `dli_check.results.CaseResult.conditions`); made when first asked
        for."""
        if not self._traced:
            traced, _ = compile_services(self.model, self.case_format, self.version, trace=True)
            self._traced.update(traced)
        return self._traced

    @property
    def versions(self) -> tuple[Rules, ...]:
        """The versions of the guideline these rules hold: this one alone (a `RuleSet`
        holds several)."""
        return (self,)

    @property
    def latest(self) -> Rules:
        """The latest version: this one."""
        return self

    def services_for_code(self, code: str) -> tuple[CompiledService, ...]:
        """The services whose code sets list a procedure code: one, or several that their
        routes tell apart (`route`), or none."""
        found = self._routes.get(code)
        if found is None:
            found = tuple(
                s for s in self.services.values() if s.codes is not None and s.codes.contains(code)
            )
            if len(self._routes) < 4096:
                self._routes[code] = found
        return found

    def service_for_code(self, code: str) -> CompiledService | None:
        """The first service whose code set lists a procedure code, if any."""
        found = self.services_for_code(code)
        return found[0] if found else None

    def route(
        self, case: Case, line: Line, number: int, services: tuple[CompiledService, ...]
    ) -> CompiledService | ServiceResult:
        """The service a line is decided as, of those that list its code: the one whose
        route holds; or, when none does, the line's result (insufficient information,
        asking what the routes need, or not applicable). A line two routes take is refused
        when the case is read (`case_from_data`)."""
        if len(services) == 1:
            return services[0]
        answers = [(s, _route_answer(s, case, line, number)) for s in services]
        taken = [s for s, a in answers if a[0] == "met"]
        if taken:
            return taken[0]
        named = " and ".join(f"{_title(s)} ({_route_words(s)})" for s in services)
        missing = tuple(dict.fromkeys(m for _, a in answers for m in a[1]))
        if missing:
            said = (
                f"{line.code} is the code of {named}: which one this line is needs facts not given"
            )
            return self.guideline_result("routed", "unknown", said, code=line.code, missing=missing)
        said = f"{line.code} is the code of {named}: this line is none of them"
        return self.guideline_result("routed", "not_met", said, code=line.code)

    def not_governed(self, code: str | None) -> ServiceResult:
        """The result of a line whose code no service of the rule file governs."""
        key = code or ""
        result = self._not_governed.get(key)
        if result is None:
            result = self.guideline_result(
                "governed-by-the-guideline",
                "not_met",
                f"{self.guideline_id} does not govern the procedure code {code}: no service of "
                "it lists that code.",
                code=code,
            )
            if len(self._not_governed) < 1024:
                self._not_governed[key] = result
        return result

    def guideline_result(
        self,
        criterion: str,
        status: Status,
        explanation: str,
        *,
        code: str | None = None,
        missing: tuple[str, ...] = (),
        versioned: bool = True,
    ) -> ServiceResult:
        """A line decided by the guideline as a whole, not by a service's criteria (its code
        is not governed, it is out of every period, or its date is needed): one reason,
        citing what the guideline addresses."""
        reason = share(
            Reason(
                criterion=criterion,
                status=status,
                explanation=explanation,
                citation=self.scope,
                also_cites=(),
                record=None,
                notes=(),
                missing=missing,
            )
        )
        decision: FullDecision = "insufficient_information" if missing else "not_applicable"
        return ServiceResult(
            service=None,
            code=code,
            decision=decision,
            action=ACTIONS[decision],
            outcome=None,
            reasons=(reason,),
            missing=missing,
            notes=(),
            version=self.version if versioned else None,
        )

    @property
    def sha256(self) -> str:
        """The sha256 of the rule file's bytes: which rules decided."""
        return self.provenance.rules_sha256

    @property
    def guideline_id(self) -> str:
        """The guideline's id, e.g. ``CG-TRANS-03``."""
        return self.version.guideline


@cache
def bundled_rules() -> Rules:
    """The bundled CG-TRANS-03 rules, loaded once."""
    path = bundled_rules_path()
    return rules_from_bytes(read_rule_file(path), str(path))


def rules_from_bytes(raw: bytes, name: str) -> Rules:
    """Validate and compile a rule file's bytes, or read them compiled from the cache;
    `name` is the file named in errors. Raises `RuleFileError`."""
    from dli_check.engine import cache as rules_cache

    cached = rules_cache.load(raw)
    if isinstance(cached, Rules) and cached.raw == raw:
        cached.rule_model.name = name
        return replace(cached, source=name)
    rules = compile_rules(raw, name)
    rules_cache.store(rules, raw)
    return rules


def compile_rules(raw: bytes, name: str) -> Rules:
    """Validate and compile a rule file's bytes; `name` is the file named in errors.
    Raises `RuleFileError`."""
    model, located = read_model(raw, name)
    rule_model = RuleModel(raw, name, model)
    try:
        case_format = build_case_format(rule_model)
    except RuleProblems as exc:
        raise RuleFileError(
            [located_problem(name, located, p.path, p.message) for p in exc.problems]
        ) from None
    effective = model.effective
    version = share(
        VersionInfo(
            guideline=model.guideline.id,
            effective_from=effective.from_ if effective else None,
            effective_to=effective.to if effective else None,
            rules_sha256=hashlib.sha256(raw).hexdigest(),
        )
    )
    services, compile_problems = compile_services(model, case_format, version)
    checks = compile_checks(model, case_format, compile_problems)
    if compile_problems:
        raise RuleFileError(
            [located_problem(name, located, p.path, p.message) for p in compile_problems]
        )
    guideline = model.guideline
    index = code_index()
    provenance = share(
        Provenance(
            guideline=GuidelineInfo(
                id=guideline.id,
                title=guideline.title,
                publish_date=guideline.publish_date,
                last_review_date=guideline.last_review_date,
                status=guideline.status,
            ),
            rules_sha256=version.rules_sha256,
            engine_version=__version__,
            code_system=CodeSystemInfo(
                system="ICD-10-CM", release=index.release, source=index.source
            ),
        )
    )
    period = (version.effective_from, version.effective_to)
    scope = share(
        Citation(section=guideline.scope.section, quote=" ".join(guideline.scope.quote.split()))
    )
    return Rules(
        name, rule_model, case_format, services, provenance, version, period, scope, checks
    )


class CaseRules(Protocol):
    """What reading a case needs of the rules: the case format and the services (a `Rules`,
    or any `dli_check.engine.decider.Decider`)."""

    @property
    def guideline_id(self) -> str:
        """The guideline's id."""

    @property
    def case_format(self) -> CaseFormat:
        """The case the rules read."""

    @property
    def services(self) -> dict[str, CompiledService]:
        """The services, by id."""

    @property
    def checks(self) -> tuple[CompiledCheck, ...]:
        """The case checks the rule file declares."""

    def services_for_code(self, code: str) -> tuple[CompiledService, ...]:
        """The services whose code sets list a procedure code."""


def case_from_data(
    data: Any,
    rules: CaseRules,
    *,
    source: str = "<case>",
    read_from_fhir: bool = False,
) -> Case:
    """Validate decoded case data against the case format and the services the rules
    govern; raises `CaseError` with every problem's path (the front door adds line and
    column for JSON text). `read_from_fhir`: the data was read from FHIR, where declared
    defaults do not hold."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise CaseError.one(source, "a case must be a JSON object")
    try:
        parsed, problems = rules.case_format.validate(data, read_from_fhir=read_from_fhir)
    except RecursionError:
        raise CaseError.one(source, "nested too deeply", kind="too_large") from None
    if parsed is not None:
        problems = _route_problems(parsed, rules) or _two_routes(parsed, rules)
        if not problems and rules.checks:
            parsed, problems = apply_checks(parsed, rules.checks)
        if not problems:
            return parsed
    raise CaseError(source, problems[:MAX_PROBLEMS])


MAX_PROBLEMS = 100
"""Problems kept per case: enough to fix a file, bounded for a hostile one."""


def _route_problems(case: Case, rules: CaseRules) -> list[CaseProblem]:
    """Lines that name a service the rules do not have, or a code the service does not
    list."""
    problems = []
    for i, line in enumerate(case.services):
        if line.service is None:
            continue
        service = rules.services.get(line.service)
        if service is None:
            known = ", ".join(rules.services)
            problems.append(
                CaseProblem(
                    ("services", i, "service"),
                    f"not a service {rules.guideline_id} governs (one of: {known})",
                )
            )
        elif (
            line.code is not None
            and service.codes is not None
            and not service.codes.contains(line.code)
            and not _listed_elsewhere(line.code, rules)  # then decided as the code's service
        ):
            problems.append(
                CaseProblem(
                    ("services", i, "code"),
                    f"not a code {rules.guideline_id} lists for {line.service} "
                    f"(listed: {service.codes})",
                )
            )
    return problems


def decide(parsed: Case, rules: Rules) -> CaseResult:
    """Decide a case that `read_case` or `case_from_data` has validated against `rules`."""
    lines = tuple([_decide_line(parsed, line, n, rules) for n, line in enumerate(parsed.services)])
    # One line decides the case as it decides itself (see `case_decision`).
    decision = lines[0].decision if len(lines) == 1 else case_decision([s.decision for s in lines])
    audit = Audit(((parsed, rules),) * len(lines))
    return CaseResult(parsed.case_id, decision, lines, rules.provenance, audit_from=audit)


def decide_lines(parsed: Case, rules: Rules, numbers: Iterable[int]) -> tuple[ServiceResult, ...]:
    """Decide the lines `numbers` of a validated case."""
    return tuple(_decide_line(parsed, parsed.services[n], n, rules) for n in numbers)


def _decide_line(case: Case, line: Line, number: int, rules: Rules) -> ServiceResult:
    start, end = rules.period
    if start is not None or end is not None:
        day = line.facts.get("date")
        if day is not None and (
            (start is not None and day < start) or (end is not None and day > end)
        ):
            return no_version_in_effect((rules,), line, day)
    notes: tuple[str, ...] = case.doubts + _review_note(rules, line.facts.get("date"))
    if line.modifiers:
        plural = "s" if len(line.modifiers) > 1 else ""
        said = f"{line.code} was billed with modifier{plural} {', '.join(line.modifiers)}"
        notes += (f"{said}; a modifier does not change how {rules.guideline_id} reads the line",)
    if line.service is None:
        services = rules.services_for_code(line.code or "")
        if len(services) == 1:  # the usual case: one service lists the code
            return services[0].decide(case, line, number, notes)
        if not services:
            return rules.not_governed(line.code)
        routed = rules.route(case, line, number, services)
        if isinstance(routed, ServiceResult):
            return routed
        return routed.decide(case, line, number, notes)
    service = rules.services[line.service]
    if line.code is None or (service.codes is not None and service.codes.contains(line.code)):
        return service.decide(case, line, number, notes)
    others = rules.services_for_code(line.code)
    other = rules.route(case, line, number, others) if others else None
    if isinstance(other, ServiceResult):
        return other
    if other is not None:  # a code says what a line is more surely than a name does
        note = (
            f"the line names {_title(service)}, but {line.code} is the code of {_title(other)}: "
            f"it is decided as {other.label}"
        )
        return other.decide(case, line, number, (note, *notes))
    if service.expected is None:
        note = (
            f"{rules.guideline_id} lists no procedure code for this service, so "
            f"{line.code} is not checked against one"
        )
        return service.decide(case, line, number, (note, *notes))
    expected, why = service.expected
    if not expected.contains(line.code):
        note = f"{line.code} is not a code {service.label} is expected to carry ({why}: {expected})"
        return service.decide(case, line, number, (note, *notes))
    return service.decide(case, line, number, notes)


def _route_answer(service: CompiledService, case: Case, line: Line, number: int) -> Answer:
    if service.route is None:  # a service without a route takes no line another lists
        return ("not_met", (), ())
    return service.route.run(case, line, number, None, -1)[0]


def _route_words(service: CompiledService) -> str:
    return service.route.explanation if service.route else "no route"


def _two_routes(case: Case, rules: CaseRules) -> list[CaseProblem]:
    """Lines whose code the routes of two services take: refused, never a silent pick."""
    problems: list[CaseProblem] = []
    for i, line in enumerate(case.services):
        if line.service is not None or line.code is None:
            continue
        services = rules.services_for_code(line.code)
        if len(services) < 2:
            continue
        taken = [s for s in services if _route_answer(s, case, line, i)[0] == "met"]
        if len(taken) > 1:
            named = " and ".join(f"{s.id} ({_route_words(s)})" for s in taken)
            problems.append(
                CaseProblem(
                    ("services", i, "code"),
                    f"the routes of two services take this line: {named}; the case must "
                    "tell them apart",
                )
            )
    return problems


def _listed_elsewhere(code: str, rules: CaseRules) -> bool:
    return any(s.codes is not None and s.codes.contains(code) for s in rules.services.values())


def _title(service: CompiledService) -> str:
    return service.title[:1].lower() + service.title[1:]


def no_version_in_effect(versions: tuple[Rules, ...], line: Line, day: dt.date) -> ServiceResult:
    """The result of a line dated outside the period of every loaded version: referred to
    a person, keeping the service and code some version would judge it by. A line no
    version governs is not applicable, whatever its date (scope comes before dates)."""
    latest = versions[-1]
    service = None
    for version in reversed(versions):
        if line.service is not None:
            service = version.services.get(line.service)
        elif line.code is not None:
            service = version.service_for_code(line.code)
        if service is not None:
            break
    if service is None:
        return latest.not_governed(line.code)
    periods = "; ".join(_period(v) for v in versions)
    reason = Reason(
        criterion="in-effect-on-the-date-of-service",
        status="not_met",
        explanation=(
            f"No version of {latest.guideline_id} loaded here was in effect on {day}, the "
            f"date of service: the versions loaded are in effect {periods}. To decide this "
            "line, load the version in effect then: a rule file with its own effective "
            "period, in one directory with the loaded ones (--rules DIR)."
        ),
        citation=latest.scope,
        also_cites=(),
        record=None,
        notes=(),
        missing=(),
    )
    return ServiceResult(
        service=service.id,
        code=line.code,
        decision="no_version_in_effect",
        action=ACTIONS["no_version_in_effect"],
        outcome=None,
        reasons=(reason,),
        missing=(),
        notes=(),
        version=None,
    )


def _period(version: Rules) -> str:
    # Dates only, no file names: the same rule files decide alike wherever they are.
    start, end = version.period
    return f"{start or 'before'} to {end or 'now'}"


def _review_note(rules: Rules, day: dt.date | None) -> tuple[str, ...]:
    """A note for a date of service more than 12 months after the guideline's last review:
    it may have been revised since."""
    if day is None:
        return ()
    after, note = _review(rules.guideline_id, rules.provenance.guideline.last_review_date)
    return note if day > after else ()


@cache
def _review(guideline: str, reviewed: dt.date) -> tuple[dt.date, tuple[str, ...]]:
    """The last date of service within 12 months of a review, and the note after it (the
    same words for every such date: lines that come out alike still share a result)."""
    try:
        year_after = reviewed.replace(year=reviewed.year + 1)
    except ValueError:  # reviewed on 29 February
        year_after = reviewed.replace(year=reviewed.year + 1, day=28)
    note = (
        f"{guideline} was last reviewed on {reviewed}, more than 12 months before this date "
        "of service: it may have been revised since; check that this version is the one in "
        "effect"
    )
    return year_after, (note,)
