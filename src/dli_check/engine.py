"""The library's front door: load a rule file, evaluate cases against it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dli_check import __version__
from dli_check.about import bundled_rules_path
from dli_check.case import Case
from dli_check.compiler import CompiledService, compile_services
from dli_check.errors import CaseError, Problem, RuleFileError
from dli_check.icd10cm import code_index
from dli_check.loaders import (
    Located,
    PathKey,
    format_path,
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
    return _load(Path(path))


@cache
def _bundled() -> Rules:
    return _load(bundled_rules_path())


def _load(path: Path) -> Rules:
    name = str(path)
    raw, located = read_rule_file(path)
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
    return Rules(name, model, services, provenance)


def _problem(
    name: str, located: Located, path: PathKey, message: str, *, key: bool = False
) -> Problem:
    line, column = located.position(path, key=key)
    return Problem(name, line, column, format_path(path), message)


def read_case(
    case: Mapping[str, Any] | str | os.PathLike[str] | Case,
    rules: Rules | None = None,
    *,
    source: str = "<case>",
) -> Case:
    """Validate a case (a dict, a JSON file path or a `Case`) against the case format and
    the services the rules govern. Raises `CaseError` naming the field path; `source`
    names a dict's origin in errors."""
    rules = rules or _bundled()
    if isinstance(case, Case):
        parsed = case
    else:
        if isinstance(case, str | os.PathLike):
            source = str(case)
            data = read_case_file(Path(case))
        else:
            data = case
        parsed = _validate(data, source)
    _check_services(parsed, rules, source)
    return parsed


def _validate(data: Any, source: str) -> Case:
    if not isinstance(data, Mapping):
        raise CaseError(source, "", "a case must be a JSON object")
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = len(errors) - 1
        message = describe(first) + (
            f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        )
        raise CaseError(source, format_path(tuple(first["loc"])), message) from None
    except RecursionError:
        raise CaseError(source, "", "nested too deeply", kind="too_large") from None


def _check_services(case: Case, rules: Rules, source: str) -> None:
    for i, line in enumerate(case.services):
        service = rules.services.get(line.service)
        if service is None:
            known = ", ".join(rules.services)
            raise CaseError(
                source,
                f"services[{i}].service",
                f"not a service {rules.guideline_id} governs (one of: {known})",
            )
        if line.cpt is not None and (service.cpt is None or not service.cpt.contains(line.cpt)):
            listed = str(service.cpt) if service.cpt else "none"
            raise CaseError(
                source,
                f"services[{i}].cpt",
                f"not a CPT code {rules.guideline_id} lists for {line.service} (listed: {listed})",
            )


def evaluate(
    case: Mapping[str, Any] | str | os.PathLike[str] | Case,
    rules: Rules | None = None,
    *,
    source: str = "<case>",
) -> CaseResult:
    """Decide every service line of a case and the case as a whole, with cited reasons.

    `case` is a dict, the path of a JSON case file, or a `Case`; `rules` defaults to the
    bundled CG-TRANS-03; `source` names a dict's origin in errors. Raises `CaseError` for a
    case that breaks the case format.
    """
    rules = rules or _bundled()
    parsed = read_case(case, rules, source=source)
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
