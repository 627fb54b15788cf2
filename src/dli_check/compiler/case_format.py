"""The case format a rule file declares: its facts, the validator compiled from them, their
JSON Schema, and the questions to ask when they are missing.

Every fact is declared once, in the rule file's ``case`` section, with its type, meaning,
question and (optionally) default. From that one declaration come:

* the facts rules may name (``patient.diagnoses``, ``visit.date`` for the item of the list
  ``visits``, ``service.date`` for the line being decided), checked when the
  rule file loads;
* the case validator (`validator`): one generated Python function, as strict as a pydantic
  model (unknown fields, wrong types, limits), reporting every problem with its path;
* the case's JSON Schema (`schemas`);
* the "information needed" list: each missing fact by its question.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from dli_check.compiler.validator import (
    ENGINE_FIELDS,
    LINE_FIELDS,
    RETIRED_LINE_FIELDS,
    Problems,
    write_validator,
)
from dli_check.errors import PathKey, Problem, RuleProblems
from dli_check.language import expressions
from dli_check.language.fact_types import FACT_TYPES
from dli_check.language.facts import DerivedFact, Fact
from dli_check.language.read import RuleModel
from dli_check.values.case import Case, ValueProblem

if TYPE_CHECKING:
    from dli_check.language.model import CaseDeclaration, DerivedDeclaration, FactDeclaration


@dataclass(frozen=True)
class CaseFormat:
    """The case a rule file reads."""

    rule_model: RuleModel = dataclasses.field(repr=False, compare=False)
    facts: dict[str, Fact]
    """Every fact rules may name, by its path."""
    items: dict[str, str]
    """List item name -> list name (``visit`` -> ``visits``)."""
    field_names: frozenset[str]
    """Every key a case may hold: the only key names errors may repeat."""
    source: str
    """The generated validator's Python."""
    run: Callable[[Any, Problems], Case | None]
    questions: dict[str, str | None]
    """What asks for a missing fact (``visits.date``) or list record (``visits``)."""
    received: str | None
    """The record's date fact that says when a case was received (``claim.received``)."""
    derived: dict[str, DerivedFact] = dataclasses.field(default_factory=dict)
    """Every derived number rules may name, by its path."""

    @property
    def declaration(self) -> CaseDeclaration:
        """The rule file's ``case`` section."""
        return self.rule_model.get().case

    def validate(
        self, data: Mapping[str, Any], *, read_from_fhir: bool = False
    ) -> tuple[Case | None, Problems]:
        """The validated case, or None with every problem found. A case read from FHIR
        gets no declared default unless the fact says ``default_for_fhir``: there, an
        absent element is no evidence."""
        problems: Problems = []
        run = self._fhir_validator() if read_from_fhir else self.run
        return run(data, problems), problems

    def _fhir_validator(self) -> Callable[[Any, Problems], Case | None]:
        run = self.__dict__.get("_fhir_run")
        if run is None:
            run = write_validator(self.declaration, self.facts, read_from_fhir=True)[1]
            object.__setattr__(self, "_fhir_run", run)
        return run

    def question(self, case_path: str, service_label: str = "the service") -> str | None:
        """The question that asks for a missing fact given by its case path; ``{service}``
        in it stands for the label of the line's service ("the infusion")."""
        asked = self._question(case_path)
        return asked.replace("{service}", service_label) if asked else None

    def _question(self, case_path: str) -> str | None:
        head, _, name = case_path.partition(".")
        owner = head.split("[", 1)[0]
        return self.questions.get(f"{owner}.{name}" if name else owner)


def build_case_format(rule_model: RuleModel) -> CaseFormat:
    """The case format of a rule file's ``case`` section; raises `RuleProblems` with every
    declaration that cannot work."""
    declaration = rule_model.get().case
    facts: dict[str, Fact] = {}
    items: dict[str, str] = {}
    owners: set[str] = set(ENGINE_FIELDS)
    for name, record in declaration.records.items():
        _own(owners, name, ("case", "records", name))
        for field in record.facts:
            facts[f"{name}.{field}"] = Fact(f"{name}.{field}", name, "record", field, rule_model)
    for name, listed in declaration.lists.items():
        _own(owners, name, ("case", "lists", name))
        if listed.item in declaration.records or listed.item in items or listed.item == "service":
            raise _problem(
                ("case", "lists", name, "item"), f"{listed.item!r} names something else already"
            )
        items[listed.item] = name
        for field in listed.facts:
            path = f"{listed.item}.{field}"
            facts[path] = Fact(path, name, "list", field, rule_model)
    for field in declaration.service.facts:
        if field in LINE_FIELDS or field in RETIRED_LINE_FIELDS:
            raise _problem(
                ("case", "service", "facts", field), f"{field!r} is a field of every line already"
            )
        facts[f"service.{field}"] = Fact(
            f"service.{field}", "services", "service", field, rule_model
        )
    found: list[Problem] = []
    for declared in facts.values():
        for check in (_check_declaration, partial(_check_bindings, declaration=declaration)):
            try:
                check(declared)
            except RuleProblems as exc:
                found.extend(exc.problems)
    if found:
        raise RuleProblems(found)
    received = facts.get(declaration.received or "")
    if declaration.received and (
        received is None or received.kind != "record" or received.type != "date"
    ):
        raise _problem(("case", "received"), "received names a record's date fact")
    derived = _derived(declaration, facts)
    # A derived number's name may be repeated: a case that gives one is told it may not.
    names = {*ENGINE_FIELDS, *LINE_FIELDS, *owners, *(f.field for f in facts.values())}
    names.update(d.field for d in derived.values())
    source, run = write_validator(declaration, facts)
    questions: dict[str, str | None] = {
        f"{f.owner}.{f.field}": f.declaration.question for f in facts.values()
    }
    questions.update((name, listed.question) for name, listed in declaration.lists.items())
    return CaseFormat(
        rule_model,
        facts,
        items,
        frozenset(names),
        source,
        run,
        questions,
        declaration.received,
        derived,
    )


def _derived(declaration: CaseDeclaration, facts: dict[str, Fact]) -> dict[str, DerivedFact]:
    """The derived numbers each entity declares, their formulas read and their units
    checked; `RuleProblems` with every one that cannot work."""
    entities: list[tuple[str, str, str, Mapping[str, DerivedDeclaration], PathKey]] = [
        (name, name, "record", record.derived, ("case", "records", name))
        for name, record in declaration.records.items()
    ]
    entities += [
        (listed.item, name, "list", listed.derived, ("case", "lists", name))
        for name, listed in declaration.lists.items()
    ]
    entities.append(
        ("service", "services", "service", declaration.service.derived, ("case", "service"))
    )
    found: dict[str, DerivedFact] = {}
    problems: list[Problem] = []
    for prefix, owner, kind, declared, where in entities:
        for field, d in declared.items():
            path, at = f"{prefix}.{field}", (*where, "derived", field)
            try:
                found[path] = _derived_fact(path, owner, kind, field, d, facts, at)
            except RuleProblems as exc:
                problems.extend(exc.problems)
    if problems:
        raise RuleProblems(problems)
    return found


def _derived_fact(
    path: str,
    owner: str,
    kind: str,
    field: str,
    d: DerivedDeclaration,
    facts: dict[str, Fact],
    at: PathKey,
) -> DerivedFact:
    if path in facts:
        raise _problem(at, f"{path!r} is a declared fact already")
    try:
        tree = expressions.parse(d.formula)
    except expressions.FormulaError as exc:
        raise _problem((*at, "formula"), str(exc)) from None
    if expressions.divides_by_zero(tree):
        raise _problem((*at, "formula"), "divides by the number 0")
    inputs = expressions.references(tree)
    for name in inputs:
        fact = facts.get(name)
        if fact is None:
            raise _problem((*at, "formula"), f"{name!r} is not a declared fact")
        if fact.type != "number":
            raise _problem((*at, "formula"), f"{name!r} is a {fact.type} fact, not a number")
        if fact.kind == "list" and (kind != "list" or fact.owner != owner):
            raise _problem(
                (*at, "formula"), f"{name!r} is a fact of {fact.owner}'s records, not of {owner}"
            )
    try:
        unit = expressions.unit_of(tree, lambda name: facts[name].unit)
    except expressions.FormulaError as exc:
        raise _problem((*at, "formula"), str(exc)) from None
    computed = str(unit)
    if d.unit is not None and d.unit != computed and not (d.unit == "%" and not computed):
        gives = f"gives {computed}" if computed else "gives a number with no unit"
        raise _problem((*at, "unit"), f"the formula {gives}, not {d.unit}")
    return DerivedFact(path, owner, kind, field, tree, inputs, d.unit or computed or None, d.label)


def _problem(path: PathKey, message: str) -> RuleProblems:
    return RuleProblems([Problem(path, message)])


def _own(owners: set[str], name: str, path: PathKey) -> None:
    if name in owners:
        raise _problem(path, f"{name!r} is declared twice, or is a field of every case")
    owners.add(name)


def _declared_path(fact: Fact) -> PathKey:
    if fact.kind == "record":
        return ("case", "records", fact.owner, "facts", fact.field)
    if fact.kind == "list":
        return ("case", "lists", fact.owner, "facts", fact.field)
    return ("case", "service", "facts", fact.field)


def _check_declaration(fact: Fact) -> None:
    """What the model alone cannot see: options that fit the type, a default with its
    reason and of the fact's type."""
    d, path = fact.declaration, _declared_path(fact)
    kind = FACT_TYPES[d.type]
    for option in ("choices", "system", "unit", "minimum", "maximum"):
        if getattr(d, option) is not None and option not in kind.options:
            raise _problem((*path, option), f"{option} does not apply to a {d.type} fact")
    if d.billable_only and not ("billable_only" in kind.options and d.system == "ICD-10-CM"):
        raise _problem((*path, "billable_only"), "billable_only is for ICD-10-CM codes")
    for option in sorted(kind.required):
        if not getattr(d, option):
            raise _problem((*path, "type"), f"a {d.type} fact needs its {option}")
    if (d.default is None) != (d.default_reason is None):
        raise _problem((*path, "default"), "a default goes with its default_reason")
    if d.default is not None:
        try:
            _check_default(d)
        except ValueProblem as exc:
            raise _problem((*path, "default"), f"the default {exc}") from None


def _check_bindings(fact: Fact, declaration: CaseDeclaration) -> None:
    """A fact's FHIR bindings name sources its entity declares, and fit its type."""
    if fact.kind == "record":
        sources = declaration.records[fact.owner].fhir
    elif fact.kind == "list":
        sources = declaration.lists[fact.owner].fhir
    else:
        sources = declaration.service.fhir
    path = (*_declared_path(fact), "fhir")
    for name, binding in fact.declaration.fhir.items():
        if name not in sources:
            raise _problem(
                (*path, name), f"{name!r} is not a FHIR source of {fact.owner} (see its fhir)"
            )
        if binding.system is not None and not FACT_TYPES[fact.type].coded:
            raise _problem((*path, name, "system"), f"system does not fit a {fact.type} fact")
        if binding.map is not None and fact.type == "choice":
            wrong = [v for v in binding.map.values() if v not in (fact.declaration.choices or ())]
            if wrong:
                raise _problem((*path, name, "map"), "maps codes to words that are not choices")


_KIND_WORDS = {bool: "true or false", str: "a string", int: "a number"}


def _check_default(d: FactDeclaration) -> None:
    kinds = FACT_TYPES[d.type].default_kinds
    if type(d.default) not in kinds:
        raise ValueProblem(f"must be {_KIND_WORDS[kinds[0]]}")
    if "choices" in FACT_TYPES[d.type].required and d.default not in (d.choices or ()):
        raise ValueProblem("must be one of the choices")
