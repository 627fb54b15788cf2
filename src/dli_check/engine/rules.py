"""The library's front door: load a rule file, evaluate cases against it."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dli_check import __version__
from dli_check.compiler.case_format import CaseFormat, CaseFormatError, build_case_format
from dli_check.compiler.criteria import CompiledService, compile_services
from dli_check.engine.about import bundled_rules_path
from dli_check.errors import CaseError, CaseProblem, RuleFileError
from dli_check.inputs.json_positions import locate
from dli_check.inputs.loaders import parse_case_json, read_case_file, read_rule_file
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
    _not_governed: dict[str, ServiceResult] = field(default_factory=dict, repr=False)
    _routes: dict[str, CompiledService | None] = field(default_factory=dict, repr=False)

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

    def decide_data(self, data: Any, source: str, raw: bytes | None = None) -> CaseResult:
        """Validate decoded case data (case JSON, or a FHIR Bundle) and decide it."""
        if (type(data) is dict or isinstance(data, Mapping)) and data.get(
            "resourceType"
        ) == "Bundle":
            from dli_check.inputs.fhir import decide_bundle

            return decide_bundle(data, self, source=source)
        return decide(case_from_data(data, self, source=source, raw=raw), self)

    def service_for_code(self, code: str) -> CompiledService | None:
        """The service whose code set lists a procedure code, if any."""
        if code in self._routes:
            return self._routes[code]
        found = None
        for service in self.services.values():
            if service.codes is not None and service.codes.contains(code):
                found = service
                break
        if len(self._routes) < 4096:
            self._routes[code] = found
        return found

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


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """Load, validate and compile a rule file (none: the bundled CG-TRANS-03); a directory
    gives a `versions.RuleSet`, every rule file in it a version of one guideline.

    Raises `RuleFileError` listing every problem with file, line and column.
    """
    if path is None:
        return _bundled()
    if Path(path).is_dir():
        from dli_check.engine.versions import load_rule_set

        return load_rule_set(Path(path))  # type: ignore[return-value]
    return rules_from_bytes(read_rule_file(Path(path)), str(path))


@cache
def _bundled() -> Rules:
    path = bundled_rules_path()
    return rules_from_bytes(read_rule_file(path), str(path))


def rules_from_bytes(raw: bytes, name: str) -> Rules:
    """Validate and compile a rule file's bytes, or read them compiled from the cache;
    `name` is the file named in errors. Raises `RuleFileError`."""
    from dli_check.engine import cache as rules_cache

    rules = rules_cache.load(raw, name)
    if rules is None:
        rules = compile_rules(raw, name)
        rules_cache.store(rules)
    return rules


def compile_rules(raw: bytes, name: str) -> Rules:
    """Validate and compile a rule file's bytes; `name` is the file named in errors.
    Raises `RuleFileError`."""
    model, located = read_model(raw, name)
    rule_model = RuleModel(raw, name, model)
    try:
        case_format = build_case_format(rule_model)
    except CaseFormatError as exc:
        raise RuleFileError([located_problem(name, located, exc.path, exc.message)]) from None
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
    return Rules(name, rule_model, case_format, services, provenance, version, period, scope)


CaseInput = Mapping[str, Any] | str | bytes | os.PathLike[str]
"""What `evaluate` and `read_case` take: a dict; JSON text (``bytes``, or a ``str`` that
starts with ``{``, ``[`` or ``"`` or holds a line break); or a path (any other ``str``, or
an ``os.PathLike``)."""


def read_case(case: CaseInput, rules: Rules | None = None, *, source: str = "<case>") -> Case:
    """Validate a case against the case format the rules declare, and route its lines.

    Raises `CaseError` with every problem, each with its field path (and its line and
    column, when the case was JSON text); `source` names a dict's or a text's origin.
    """
    rules = _rules(rules)
    if type(case) is dict:  # the usual case first: ABC checks below cost more
        return case_from_data(case, rules, source=source)
    raw, source = _json_text(case, source)
    if raw is None:
        return case_from_data(case, rules, source=source)
    data = parse_case_json(raw, source, field_names=rules.case_format.field_names)
    return case_from_data(data, rules, source=source, raw=raw)


def _json_text(case: CaseInput, source: str) -> tuple[bytes | None, str]:
    """The JSON text of a case given as bytes, text or a path (None for a dict), and the
    source to name it by."""
    if isinstance(case, bytes | bytearray):
        return bytes(case), source
    if isinstance(case, str) and (case.lstrip()[:1] in ("{", "[", '"') or "\n" in case):
        return case.encode("utf-8", "surrogatepass"), source
    if isinstance(case, str | os.PathLike):
        return read_case_file(Path(case)), str(case)
    return None, source


def case_from_data(
    data: Any,
    rules: Rules,
    *,
    source: str = "<case>",
    raw: bytes | None = None,
    read_from_fhir: bool = False,
) -> Case:
    """Validate decoded case data against the case format and the services the rules
    govern; `raw`, the JSON text the data came from, gives problems their line and column.
    `read_from_fhir`: the data was read from FHIR, where declared defaults do not hold."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise CaseError.one(source, "a case must be a JSON object")
    try:
        parsed, problems = rules.case_format.validate(data, read_from_fhir=read_from_fhir)
    except RecursionError:
        raise CaseError.one(source, "nested too deeply", kind="too_large") from None
    if parsed is not None:
        problems = _route_problems(parsed, rules)
        if not problems:
            return parsed
    problems = problems[:MAX_PROBLEMS]
    if raw is not None:
        problems = _locate(problems, raw)
    raise CaseError(source, problems)


def _rules(rules: Rules | None) -> Rules:
    if rules is None:
        return _bundled()
    if not isinstance(rules, Rules) and type(rules).__name__ != "RuleSet":
        raise TypeError("rules must be a Rules from load_rules(), or None for the bundled rules")
    return rules


MAX_PROBLEMS = 100
"""Problems kept per case: enough to fix a file, bounded for a hostile one."""


def _locate(problems: list[CaseProblem], raw: bytes) -> list[CaseProblem]:
    """Give each problem the line and column of what it is about: the value at its path
    (the key, for a field named by the problem), or the object that lacks a field."""
    text = raw.decode("utf-8-sig", "replace")
    paths = {p.path for p in problems}
    paths |= {p.path[:-1] for p in problems if p.path}
    key_paths = {(*p.path, p.key) for p in problems if p.key is not None}
    key_paths |= {p.path for p in problems if p.message.startswith("is no")}
    where = locate(text, paths)
    keys = locate(text, key_paths, keys=True)
    located = []
    for problem in problems:
        position = (
            (keys.get((*problem.path, problem.key)) if problem.key is not None else None)
            or (keys.get(problem.path) if problem.message.startswith("is no") else None)
            or where.get(problem.path)
            or (where.get(problem.path[:-1]) if problem.path else None)
        )
        if position is not None:
            problem = CaseProblem(problem.path, problem.message, problem.kind, *position)
        located.append(problem)
    return located


def _route_problems(case: Case, rules: Rules) -> list[CaseProblem]:
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
        ):
            problems.append(
                CaseProblem(
                    ("services", i, "code"),
                    f"not a code {rules.guideline_id} lists for {line.service} "
                    f"(listed: {service.codes})",
                )
            )
    return problems


def evaluate(case: CaseInput, rules: Rules | None = None, *, source: str = "<case>") -> CaseResult:
    """Decide every service line of a case and the case as a whole, with cited reasons.

    `case` is a dict, JSON text (``bytes``, or a ``str`` as `CaseInput` says), or the path
    of a JSON case file; `rules` defaults to the bundled CG-TRANS-03; `source` names a
    dict's or a text's origin in errors. Raises `CaseError` for a case that breaks the
    case format; its message never holds the case's content.
    """
    rules = _rules(rules)
    raw, source = _json_text(case, source) if type(case) is not dict else (None, source)
    data = case if raw is None else parse_case_json(raw, source, field_names=rules.field_names)
    return rules.decide_data(data, source, raw)


def decide(parsed: Case, rules: Rules) -> CaseResult:
    """Decide a case that `read_case` or `case_from_data` has validated against `rules`."""
    lines = tuple([_decide_line(parsed, line, n, rules) for n, line in enumerate(parsed.services)])
    # One line decides the case as it decides itself (see `case_decision`).
    decision = lines[0].decision if len(lines) == 1 else case_decision([s.decision for s in lines])
    return CaseResult(parsed.case_id, decision, lines, rules.provenance)


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
            from dli_check.engine.versions import out_of_period

            return out_of_period(rules, day)
    if line.service is None:
        service = rules.service_for_code(line.code or "")
        if service is None:
            return rules.not_governed(line.code)
        return service.decide(case, line, number)
    service = rules.services[line.service]
    if line.code is not None and service.codes is None:
        note = (
            f"{rules.guideline_id} lists no procedure code for this service, so "
            f"{line.code} is not checked against one"
        )
        return service.decide(case, line, number, (note,))
    return service.decide(case, line, number)
