"""The library's front door: load a rule file, evaluate cases against it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dli_check import __version__
from dli_check.about import bundled_rules_path
from dli_check.case import FIELD_NAMES, Case
from dli_check.compiler import CompiledService, compile_services
from dli_check.errors import CaseError, CaseProblem, PathKey, Problem, RuleFileError, format_path
from dli_check.icd10cm import code_index
from dli_check.json_positions import locate
from dli_check.loaders import (
    Located,
    load_rule_text,
    parse_case_json,
    read_case_file,
    read_rule_file,
)
from dli_check.messages import data_path, describe
from dli_check.results import (
    CaseResult,
    CodeSystemInfo,
    GuidelineInfo,
    Provenance,
    case_decision,
    share,
)
from dli_check.rules_model import RuleFile


@dataclass(frozen=True)
class Rules:
    """A loaded, validated and compiled rule file."""

    source: str
    model: RuleFile
    services: dict[str, CompiledService]
    provenance: Provenance
    raw: bytes = field(repr=False)
    """The rule file's bytes, as read once: what a batch hands its workers."""

    @property
    def sha256(self) -> str:
        """The sha256 of the rule file's bytes: which rules decided."""
        return self.provenance.rules_sha256

    @property
    def guideline_id(self) -> str:
        """The guideline's id, e.g. ``CG-TRANS-03``."""
        return self.model.guideline.id


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """Load, validate and compile a rule file (none: the bundled CG-TRANS-03).

    Raises `RuleFileError` listing every problem with file, line and column.
    """
    if path is None:
        return _bundled()
    return rules_from_bytes(read_rule_file(Path(path)), str(path))


@cache
def _bundled() -> Rules:
    path = bundled_rules_path()
    return rules_from_bytes(read_rule_file(path), str(path))


def rules_from_bytes(raw: bytes, name: str) -> Rules:
    """Validate and compile a rule file's bytes; `name` is the file named in errors.
    Raises `RuleFileError`."""
    located = load_rule_text(raw, name)
    if located.data is None:
        raise RuleFileError([Problem(name, 1, 1, "", "the rule file is empty")])
    try:
        model = RuleFile.model_validate(located.data)
    except ValidationError as exc:
        raise RuleFileError(
            [
                _problem(
                    name,
                    located,
                    data_path(located.data, e["loc"]),
                    describe(e),
                    key=e["type"] == "extra_forbidden",
                )
                for e in exc.errors()
            ]
        ) from None
    services, compile_problems = compile_services(model)
    if compile_problems:
        raise RuleFileError([_problem(name, located, p.path, p.message) for p in compile_problems])
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
            rules_sha256=hashlib.sha256(raw).hexdigest(),
            engine_version=__version__,
            code_system=CodeSystemInfo(
                system="ICD-10-CM", release=index.release, source=index.source
            ),
        )
    )
    return Rules(name, model, services, provenance, raw)


def _problem(
    name: str, located: Located, path: PathKey, message: str, *, key: bool = False
) -> Problem:
    line, column = located.position(path, key=key)
    return Problem(name, line, column, format_path(path), message)


CaseInput = Mapping[str, Any] | str | bytes | os.PathLike[str] | Case
"""What `evaluate` and `read_case` take: a dict; JSON text (``bytes``, or a ``str`` that
starts with ``{``, ``[`` or ``"`` or holds a line break); a path (any other ``str``, or an
``os.PathLike``); or a `Case`."""


def read_case(case: CaseInput, rules: Rules | None = None, *, source: str = "<case>") -> Case:
    """Validate a case against the case format and the services the rules govern.

    Raises `CaseError` with every problem, each with its field path (and its line and
    column, when the case was JSON text); `source` names a dict's or a text's origin.
    """
    rules = _rules(rules)
    if type(case) is dict:  # the usual case first: ABC checks below cost more
        return case_from_data(case, rules, source=source)
    if isinstance(case, Case):
        _check_services(case, rules, source)
        return case
    raw = None
    if isinstance(case, bytes | bytearray):
        raw = bytes(case)
    elif isinstance(case, str) and (case.lstrip()[:1] in ("{", "[", '"') or "\n" in case):
        raw = case.encode("utf-8", "surrogatepass")
    elif isinstance(case, str | os.PathLike):
        source = str(case)
        raw = read_case_file(Path(case))
    if raw is None:
        return case_from_data(case, rules, source=source)
    data = parse_case_json(raw, source, field_names=FIELD_NAMES)
    return case_from_data(data, rules, source=source, raw=raw)


def case_from_data(
    data: Any, rules: Rules, *, source: str = "<case>", raw: bytes | None = None
) -> Case:
    """Validate decoded case data against the case format and the services the rules
    govern; `raw`, the JSON text the data came from, gives problems their line and column."""
    parsed = validate_case(data, source, raw)
    _check_services(parsed, rules, source)
    return parsed


def _rules(rules: Rules | None) -> Rules:
    if rules is None:
        return _bundled()
    if not isinstance(rules, Rules):
        raise TypeError("rules must be a Rules from load_rules(), or None for the bundled rules")
    return rules


MAX_PROBLEMS = 100
"""Problems kept per case: enough to fix a file, bounded for a hostile one."""


def validate_case(data: Any, source: str, raw: bytes | None = None) -> Case:
    """Validate decoded case data; `raw`, the JSON text it came from, locates problems."""
    if not isinstance(data, Mapping):
        raise CaseError.one(source, "a case must be a JSON object")
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()[:MAX_PROBLEMS]
    except RecursionError:
        raise CaseError.one(source, "nested too deeply", kind="too_large") from None
    problems = [_case_problem(data, tuple(e["loc"]), e) for e in errors]
    if raw is not None:
        problems = _locate(problems, errors, raw)
    raise CaseError(source, problems)


def _case_problem(data: Any, loc: PathKey, error: Any) -> CaseProblem:
    if error["type"] != "extra_forbidden" or loc[-1] in FIELD_NAMES:
        return CaseProblem(loc, describe(error))
    # An unknown key may be content ("Jane Doe DOB 1970"): say where it is, not what.
    parent = loc[:-1]
    node = data
    for part in parent:
        node = node[part]
    number = list(node).index(loc[-1]) + 1
    subject = "has" if parent else "the case has"
    return CaseProblem(parent, f"{subject} an unknown field (its key number {number})")


def _locate(problems: list[CaseProblem], errors: list[Any], raw: bytes) -> list[CaseProblem]:
    text = raw.decode("utf-8-sig", "replace")
    keys = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    values = [tuple(e["loc"]) for e in errors if e["type"] != "extra_forbidden"]
    where = {**locate(text, values), **locate(text, keys, keys=True)}
    located = []
    for problem, error in zip(problems, errors, strict=True):
        loc = tuple(error["loc"])
        # A missing field has no place of its own: its object's place stands for it.
        position = where.get(loc) or (where.get(loc[:-1]) if error["type"] == "missing" else None)
        if position is None and error["type"] == "missing":
            position = locate(text, [loc[:-1]]).get(loc[:-1])
        if position is not None:
            problem = CaseProblem(problem.path, problem.message, problem.kind, *position)
        located.append(problem)
    return located


def _check_services(case: Case, rules: Rules, source: str) -> None:
    problems = []
    for i, line in enumerate(case.services):
        service = rules.services.get(line.service)
        if service is None:
            known = ", ".join(rules.services)
            problems.append(
                CaseProblem(
                    ("services", i, "service"),
                    f"not a service {rules.guideline_id} governs (one of: {known})",
                )
            )
        elif line.cpt is not None and (service.cpt is None or not service.cpt.contains(line.cpt)):
            listed = str(service.cpt) if service.cpt else "none"
            problems.append(
                CaseProblem(
                    ("services", i, "cpt"),
                    f"not a CPT code {rules.guideline_id} lists for {line.service} "
                    f"(listed: {listed})",
                )
            )
    if problems:
        raise CaseError(source, problems[:MAX_PROBLEMS])


def evaluate(case: CaseInput, rules: Rules | None = None, *, source: str = "<case>") -> CaseResult:
    """Decide every service line of a case and the case as a whole, with cited reasons.

    `case` is a dict, JSON text (``bytes``, or a ``str`` as `CaseInput` says), the path
    of a JSON case file, or a `Case`; `rules` defaults to the bundled CG-TRANS-03; `source`
    names a dict's or a text's origin in errors. Raises `CaseError` for a case that breaks
    the case format; its message never holds the case's content.
    """
    rules = _rules(rules)
    return decide(read_case(case, rules, source=source), rules)


def decide(parsed: Case, rules: Rules) -> CaseResult:
    """Decide a case that `read_case` or `case_from_data` has validated against `rules`."""
    lines = tuple(
        rules.services[line.service].decide(parsed, line, number)
        for number, line in enumerate(parsed.services)
    )
    return CaseResult.model_construct(
        case_id=parsed.case_id,
        decision=case_decision(tuple(line.decision for line in lines)),
        services=lines,
        provenance=rules.provenance,
    )
