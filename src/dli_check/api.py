"""The front door: load rules, read a case, evaluate it.

It takes what users have (a path, JSON text, a dict, a FHIR Bundle), decides which reader
it needs, and hands the engine validated data: the engine itself reads no input format.
`dli_check` re-exports `load_rules`, `read_case` and `evaluate` from here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dli_check.engine.decider import Decider
from dli_check.engine.rules import Rules, bundled_rules, case_from_data, rules_from_bytes
from dli_check.engine.versions import RuleSet, load_rule_set
from dli_check.errors import CaseError
from dli_check.files import read_rule_file
from dli_check.inputs.fhir import decide_bundle, is_bundle
from dli_check.inputs.json_positions import locate
from dli_check.inputs.loaders import parse_case_json, read_case_file
from dli_check.results import CaseResult
from dli_check.values.case import Case

CaseInput = Mapping[str, Any] | str | bytes | os.PathLike[str]
"""What `evaluate` and `read_case` take: a dict; JSON text (``bytes``, or a ``str`` that
starts with ``{``, ``[`` or ``"`` or holds a line break); or a path (any other ``str``, or
an ``os.PathLike``)."""


def load_rules(path: str | os.PathLike[str] | None = None) -> Decider:
    """Load, validate and compile a rule file (none: the bundled CG-TRANS-03); a directory
    gives a `RuleSet`, every rule file in it a version of one guideline.

    Raises `RuleFileError` listing every problem with file, line and column.
    """
    if path is None:
        return bundled_rules()
    if Path(path).is_dir():
        return load_rule_set(Path(path))
    return rules_from_bytes(read_rule_file(Path(path)), str(path))


def read_case(case: CaseInput, rules: Decider | None = None, *, source: str = "<case>") -> Case:
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
    try:
        return case_from_data(data, rules, source=source)
    except CaseError as exc:
        if not isinstance(data, Mapping):  # not a case: nothing to point at
            raise
        raise located(exc, raw) from None


def evaluate(
    case: CaseInput,
    rules: Decider | str | os.PathLike[str] | None = None,
    *,
    source: str = "<case>",
) -> CaseResult:
    """Decide every service line of a case and the case as a whole, with cited reasons.

    `case` is a dict, JSON text (``bytes``, or a ``str`` as `CaseInput` says), a FHIR
    Bundle, or the path of a JSON file of either; `rules` is what `load_rules` returns or
    the path of a rule file (loaded, and cached as `load_rules` caches), and defaults to
    the bundled CG-TRANS-03; `source` names a dict's or a text's origin in errors. Raises
    `CaseError` for a case that breaks the case format; its message never holds the
    case's content.
    """
    rules = _rules(rules)
    raw, source = _json_text(case, source) if type(case) is not dict else (None, source)
    data = case if raw is None else parse_case_json(raw, source, field_names=rules.field_names)
    return decide_data(data, rules, source, raw)


def decide_data(
    data: Any,
    rules: Decider,
    source: str,
    raw: bytes | None = None,
    *,
    allow_no_lines: bool = False,
    patient: str | None = None,
    lenient: bool = False,
) -> CaseResult:
    """Decide decoded JSON: a FHIR Bundle is read through the rule file's bindings, case
    JSON is validated as it is; `raw`, the JSON text it came from, gives a case's problems
    their line and column. `allow_no_lines`: a Bundle none of whose orders the rules govern
    gives a result with no lines, not an error. `patient`: whom a Bundle is about
    (``Patient/123``); only that person's resources are read. `lenient`: a Bundle's
    elements FHIR R4 does not define are ignored (logged) rather than refused."""
    if is_bundle(data):
        result = decide_bundle(
            data,
            rules,
            source=source,
            allow_no_lines=allow_no_lines,
            patient=patient,
            lenient=lenient,
        )
        return result.given(raw if raw is not None else data)
    try:
        result = rules.decide_data(data, source)
    except CaseError as exc:
        if raw is None or not isinstance(data, Mapping):  # not a case: nothing to point at
            raise
        raise located(exc, raw) from None
    return result.given(raw if raw is not None else data)


def _rules(rules: Decider | str | os.PathLike[str] | None) -> Decider:
    if rules is None:
        return bundled_rules()
    if isinstance(rules, os.PathLike) or (isinstance(rules, str) and rules):
        return load_rules(Path(rules))
    if not isinstance(rules, Rules | RuleSet):
        raise TypeError(
            "rules must be a Rules from load_rules(), a rule file's path, or None for the "
            "bundled rules"
        )
    return rules


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


def located(error: CaseError, raw: bytes) -> CaseError:
    """`error` with each problem given the line and column of what it is about, in the
    JSON text `raw`: the value at its path (the key, for a field named by the problem),
    or the object that lacks a field."""
    problems = error.problems
    text = raw.decode("utf-8-sig", "replace")
    paths = {p.path for p in problems}
    paths |= {p.path[:-1] for p in problems if p.path}
    key_paths = {(*p.path, p.key) for p in problems if p.key is not None}
    key_paths |= {p.path for p in problems if p.message.startswith("is no")}
    where = locate(text, paths)
    keys = locate(text, key_paths, keys=True)
    found = []
    for problem in problems:
        position = (
            (keys.get((*problem.path, problem.key)) if problem.key is not None else None)
            or (keys.get(problem.path) if problem.message.startswith("is no") else None)
            or where.get(problem.path)
            or (where.get(problem.path[:-1]) if problem.path else None)
        )
        if position is not None:
            problem = dataclasses.replace(problem, line=position[0], column=position[1])
        found.append(problem)
    return CaseError(error.source, found)
