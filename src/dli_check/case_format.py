"""The case format a rule file declares: its facts, the validator compiled from them, their
JSON Schema, and the questions to ask when they are missing.

Every fact is declared once, in the rule file's ``case`` section, with its type, meaning,
question and (optionally) default. From that one declaration come:

* the facts rules may name (``patient.diagnoses``, ``visit.date`` for the item of the list
  ``visits``, ``service.date`` for the line being decided), checked when the
  rule file loads;
* the case validator: one generated Python function, as strict as a pydantic model
  (unknown fields, wrong types, limits) and faster, reporting every problem with its path;
* the case's JSON Schema;
* the "information needed" list: each missing fact by its question.
"""

from __future__ import annotations

import linecache
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dli_check import case as values
from dli_check.case import MAX_ITEMS, Case, Line, ValueProblem
from dli_check.errors import CaseProblem, PathKey
from dli_check.rules_model import CaseDeclaration, FactDeclaration

ENGINE_FIELDS = ("case_id", "services")
"""What every case has, whatever the rule file declares."""
LINE_FIELDS = ("service", "code")
"""What every service line has: the service it names, its procedure code."""
RETIRED_LINE_FIELDS = {"cpt": "code"}
"""Line keys of earlier versions, refused with a message naming the key that replaced them."""

Problems = list[CaseProblem]


@dataclass(frozen=True)
class Fact:
    """A declared fact, as rules name it (``visit.date``) and as cases hold it."""

    path: str
    """The name rules use: ``record.field``, ``item.field`` or ``service.field``."""
    owner: str
    """Where a case holds it: the record's or the list's key, or ``services``."""
    kind: str
    """``record``, ``list`` or ``service``."""
    field: str
    declaration: FactDeclaration

    @property
    def type(self) -> str:
        """The fact's type: boolean, date, choice, identifier, number, code or codes."""
        return self.declaration.type

    def case_path(self, index: int | None = None) -> str:
        """Where a case holds the fact: ``patient.diagnoses``, ``visits[1].date``."""
        if self.kind == "record":
            return f"{self.owner}.{self.field}"
        return f"{self.owner}[{index}].{self.field}"

    def label(self, service_label: str) -> str:
        """The fact in a sentence ("the visit's date")."""
        label = self.declaration.label or self.path
        return label.replace("{service}", service_label)


class CaseFormatError(Exception):
    """A declaration that cannot work (a choice without choices...), at a rule-file path."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


@dataclass(frozen=True)
class CaseFormat:
    """The case a rule file reads."""

    declaration: CaseDeclaration
    facts: dict[str, Fact]
    """Every fact rules may name, by its path."""
    items: dict[str, str]
    """List item name -> list name (``visit`` -> ``visits``)."""
    field_names: frozenset[str]
    """Every key a case may hold: the only key names errors may repeat."""
    source: str
    """The generated validator's Python."""
    run: Callable[[Any, Problems], Case | None]

    def validate(self, data: Mapping[str, Any]) -> tuple[Case | None, Problems]:
        """The validated case, or None with every problem found."""
        problems: Problems = []
        return self.run(data, problems), problems

    def question(self, case_path: str) -> str | None:
        """The question that asks for a missing fact given by its case path."""
        head, _, field = case_path.partition(".")
        name = head.split("[", 1)[0]
        if not field:
            declared = self.declaration.lists.get(name)
            return declared.question if declared else None
        if name == "services":
            fact = self.facts.get(f"service.{field}")
        elif name in self.declaration.lists:
            fact = self.facts.get(f"{self.declaration.lists[name].item}.{field}")
        else:
            fact = self.facts.get(f"{name}.{field}")
        return fact.declaration.question if fact else None


def build_case_format(declaration: CaseDeclaration) -> CaseFormat:
    """The case format of a rule file's ``case`` section; raises `CaseFormatError`."""
    facts: dict[str, Fact] = {}
    items: dict[str, str] = {}
    owners: set[str] = set(ENGINE_FIELDS)
    for name, record in declaration.records.items():
        _own(owners, name, ("case", "records", name))
        for field, fact in record.facts.items():
            facts[f"{name}.{field}"] = Fact(f"{name}.{field}", name, "record", field, fact)
    for name, listed in declaration.lists.items():
        _own(owners, name, ("case", "lists", name))
        if listed.item in declaration.records or listed.item in items or listed.item == "service":
            raise CaseFormatError(
                ("case", "lists", name, "item"), f"{listed.item!r} names something else already"
            )
        items[listed.item] = name
        for field, fact in listed.facts.items():
            path = f"{listed.item}.{field}"
            facts[path] = Fact(path, name, "list", field, fact)
    for field, fact in declaration.service.facts.items():
        if field in LINE_FIELDS or field in RETIRED_LINE_FIELDS:
            raise CaseFormatError(
                ("case", "service", "facts", field), f"{field!r} is a field of every line already"
            )
        facts[f"service.{field}"] = Fact(f"service.{field}", "services", "service", field, fact)
    for declared in facts.values():
        _check_declaration(declared)
    names = {*ENGINE_FIELDS, *LINE_FIELDS, *owners, *(f.field for f in facts.values())}
    source, run = _ValidatorWriter(declaration, facts).write()
    return CaseFormat(declaration, facts, items, frozenset(names), source, run)


def _own(owners: set[str], name: str, path: PathKey) -> None:
    if name in owners:
        raise CaseFormatError(path, f"{name!r} is declared twice, or is a field of every case")
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
    wanted = {
        "choices": d.type == "choice",
        "system": d.type in ("code", "codes"),
        "unit": d.type == "number",
        "minimum": d.type == "number",
        "maximum": d.type == "number",
    }
    for option, fits in wanted.items():
        given = getattr(d, option) is not None
        if given and not fits:
            raise CaseFormatError((*path, option), f"{option} does not apply to a {d.type} fact")
    if d.type == "choice" and not d.choices:
        raise CaseFormatError((*path, "type"), "a choice fact needs its choices")
    if d.type in ("code", "codes") and d.system is None:
        raise CaseFormatError((*path, "type"), f"a {d.type} fact needs its system")
    if (d.default is None) != (d.default_reason is None):
        raise CaseFormatError((*path, "default"), "a default goes with its default_reason")
    if d.default is not None:
        try:
            _check_default(d)
        except ValueProblem as exc:
            raise CaseFormatError((*path, "default"), f"the default {exc}") from None


def _check_default(d: FactDeclaration) -> None:
    if d.type == "boolean" and type(d.default) is not bool:
        raise ValueProblem("must be true or false")
    if d.type == "choice" and d.default not in (d.choices or ()):
        raise ValueProblem("must be one of the choices")
    if d.type in ("date", "code", "codes", "identifier") and type(d.default) is not str:
        raise ValueProblem("must be a string")
    if d.type == "number" and (
        isinstance(d.default, bool) or not isinstance(d.default, int | float)
    ):
        raise ValueProblem("must be a number")


# The validator's helpers: each checks one value and returns it normalised, or records a
# problem (with its path, never the value) and returns BAD. A value that is absent or null
# comes in as None and goes out as None (or the fact's default).

BAD = object()
ABSENT = object()


def problem(problems: Problems, path: PathKey, message: str) -> object:
    """Record a problem; the value it stood for is BAD."""
    problems.append(CaseProblem(path, message))
    return BAD


def check(
    checker: Callable[[object], Any], value: object, path: PathKey, problems: Problems
) -> Any:
    """Run a value checker, turning its `ValueProblem` into a recorded problem."""
    try:
        return checker(value)
    except ValueProblem as exc:
        return problem(problems, path, str(exc))


def is_object(value: object, path: PathKey, problems: Problems) -> bool:
    """Whether a value is a JSON object (recording a problem if it is not)."""
    if type(value) is dict or isinstance(value, Mapping):
        return True
    problem(problems, path, "must be an object")
    return False


def is_list(value: object, path: PathKey, limit: int, problems: Problems) -> bool:
    """Whether a value is a JSON list of at most `limit` items."""
    if type(value) is not list:
        problem(problems, path, "must be a list")
        return False
    if len(value) > limit:
        problem(problems, path, f"must have at most {limit} items")
        return False
    return True


def unknown_keys(
    data: Mapping[str, Any],
    allowed: frozenset[str],
    path: PathKey,
    problems: Problems,
    field_names: frozenset[str],
    renamed: Mapping[str, str],
) -> None:
    """Record each key that is not a field here: by name if it is a name the case format
    uses somewhere (or a retired one), else by its position only, since it may be content."""
    for number, key in enumerate(data, start=1):
        if key in allowed:
            continue
        if key in renamed:
            problem(problems, (*path, key), f"is no longer a field: use {renamed[key]}")
        elif key in field_names:
            problem(problems, (*path, key), "is not a known field")
        else:
            subject = "has" if path else "the case has"
            message = f"{subject} an unknown field (its key number {number})"
            problems.append(CaseProblem(path, message, key=key))


def number(value: object, minimum: float | None, maximum: float | None) -> float | int:
    """A JSON number within bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem("must be a finite number")
    if minimum is not None and value < minimum:
        raise ValueProblem(f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValueProblem(f"must be at most {maximum}")
    return value


def codes(
    value: object, checker: Callable[[object], str], path: PathKey, problems: Problems
) -> tuple[str, ...] | object | None:
    """A list of codes, each checked; an empty list is no list (None)."""
    if not is_list(value, path, MAX_ITEMS, problems):
        return BAD
    checked: list[str] = []
    items: list[object] = value  # type: ignore[assignment]
    for i, item in enumerate(items):
        try:
            checked.append(checker(item))
        except ValueProblem as exc:
            problem(problems, (*path, i), str(exc))
    return tuple(checked) or None


def optional_identifier(value: object) -> str | None:
    """An identifier, where a placeholder word is no identifier."""
    if type(value) is str and 0 < len(value) <= values.MAX_TEXT and value.isascii():
        # The usual case, answered in a few string operations.
        key = value.strip(_ASCII_INVISIBLE).lower()
        if key:
            if key in values.PLACEHOLDERS or " ".join(key.split()) in values.PLACEHOLDERS:
                return None
            return value
    text = values.identifier(value)
    return None if values.is_placeholder(text) else text


_ASCII_INVISIBLE = "".join(map(chr, range(0x21))) + "\x7f"


def _checker(d: FactDeclaration) -> Callable[[object], Any]:
    if d.type == "date":
        return values.iso_date
    if d.type == "identifier":
        return optional_identifier
    if d.type == "number":
        low, high = d.minimum, d.maximum
        return lambda v: number(v, low, high)
    if d.system == "ICD-10-CM":
        return values.icd10cm_code
    return _PROCEDURE_CHECKERS[d.system or ""]


_PROCEDURE_CHECKERS: dict[str, Callable[[object], str]] = {
    "CPT": lambda v: values.procedure_code(v, "CPT"),
    "HCPCS": lambda v: values.procedure_code(v, "HCPCS"),
}


class _ValidatorWriter:
    """Writes the validator's source: straight-line code, one statement or two per fact."""

    def __init__(self, declaration: CaseDeclaration, facts: dict[str, Fact]) -> None:
        self.declaration, self.facts = declaration, facts
        self.lines: list[str] = []
        self.constants: list[tuple[str, object]] = []
        self.names: dict[str, object] = {
            "_BAD": BAD,
            "_ABSENT": ABSENT,
            "_problem": problem,
            "_check": check,
            "_ValueProblem": ValueProblem,
            "_INVISIBLE": _ASCII_INVISIBLE,
            "_object": is_object,
            "_list": is_list,
            "_unknown": unknown_keys,
            "_codes": codes,
            "_identifier": values.identifier,
            "_line_code": values.procedure_code,
            "_Case": Case,
            "_Line": Line,
        }

    def constant(self, value: object) -> str:
        for name, known in self.constants:
            if known is value or (type(known) is type(value) and known == value):
                return name
        name = f"_k{len(self.constants)}"
        self.names[name] = value
        self.constants.append((name, value))
        return name

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def fact_value(self, fact: Fact, source: str, path: str, depth: int, target: str) -> None:
        """Emit ``target = <the checked value of fact.field in source>``."""
        d = fact.declaration
        get = f"{source}.get({fact.field!r})"
        where = f"({path} + ({fact.field!r},))"
        if d.type == "boolean":
            self.emit(depth, f"{target} = {get}")
            self.emit(
                depth,
                f"if {target} is not None and type({target}) is not bool: "
                f"{target} = _problem(problems, {where}, 'must be a JSON boolean (true or false)')",
            )
        elif d.type == "choice":
            choices = self.constant(frozenset(d.choices or ()))
            words = ", ".join(repr(c) for c in d.choices or ())
            self.emit(depth, f"{target} = {get}")
            self.emit(
                depth,
                f"if {target} is not None and ({target}.__class__ is not str or {target} "
                f"not in {choices}): {target} = _problem(problems, {where}, "
                f"{'must be one of: ' + words!r})",
            )
        elif d.type == "codes":
            checker = self.constant(_checker(d))
            self.emit(depth, f"{target} = {get}")
            self.emit(
                depth,
                f"if {target} is not None: "
                f"{target} = _codes({target}, {checker}, {where}, problems)",
            )
        else:
            checker = self.constant(_checker(d))
            self.emit(depth, f"{target} = {get}")
            self.emit(depth, f"if {target} is not None:")
            self.emit(depth + 1, f"try: {target} = {checker}({target})")
            self.emit(
                depth + 1,
                f"except _ValueProblem as e: {target} = _problem(problems, {where}, str(e))",
            )
        if d.default is not None:
            default = self.constant(values.iso_date(d.default) if d.type == "date" else d.default)
            self.emit(depth, f"if {target} is None: {target} = {default}")

    def record_dict(self, facts: list[Fact], source: str, path: str, depth: int) -> str:
        """Emit the checks of a record's facts; the expression of the record as a dict."""
        parts = []
        for k, fact in enumerate(facts):
            target = f"v{depth}_{k}"
            self.fact_value(fact, source, path, depth, target)
            parts.append(f"{fact.field!r}: {target}")
        return "{" + ", ".join(parts) + "}"

    def allowed(self, names: list[str]) -> str:
        return self.constant(frozenset(names))

    def write(self) -> tuple[str, Callable[[Any, Problems], Case | None]]:
        d = self.declaration
        fields = self.constant(self.field_names())
        renamed = self.constant(self.renamed())
        unknown = f"problems, {fields}, {renamed})"
        top = [*ENGINE_FIELDS, *d.records, *d.lists]
        self.emit(1, "case_id = data.get('case_id', _ABSENT)")
        self.emit(1, "if case_id is _ABSENT:")
        self.emit(2, "case_id = _problem(problems, ('case_id',), 'is required but missing')")
        # The usual case id (ASCII, not blank, not too long) passes without a call.
        self.emit(
            1,
            f"elif not (case_id.__class__ is str and 0 < len(case_id) <= {values.MAX_TEXT} "
            "and case_id.isascii() and case_id.strip(_INVISIBLE)):",
        )
        self.emit(2, "case_id = _check(_identifier, case_id, ('case_id',), problems)")
        for name, record in d.records.items():
            facts = [self.facts[f"{name}.{f}"] for f in record.facts]
            self.emit(1, f"r = data.get({name!r})")
            self.emit(1, f"rec_{name} = None")
            self.emit(1, f"if r is not None and _object(r, ({name!r},), problems):")
            allowed = self.allowed(list(record.facts))
            self.emit(2, f"rec_{name} = {self.record_dict(facts, 'r', repr((name,)), 2)}")
            self.emit(2, f"if not r.keys() <= {allowed}:")
            self.emit(3, f"_unknown(r, {allowed}, ({name!r},), {unknown}")
        for name, listed in d.lists.items():
            facts = [self.facts[f"{listed.item}.{f}"] for f in listed.facts]
            self.emit(1, f"r = data.get({name!r})")
            self.emit(1, f"list_{name} = []")
            self.emit(
                1, f"if r is not None and _list(r, ({name!r},), {listed.max_items}, problems):"
            )
            self.emit(2, "for i, x in enumerate(r):")
            self.emit(3, f"p = ({name!r}, i)")
            self.emit(3, "if _object(x, p, problems):")
            allowed = self.allowed(list(listed.facts))
            self.emit(4, f"list_{name}.append({self.record_dict(facts, 'x', 'p', 4)})")
            self.emit(4, f"if not x.keys() <= {allowed}: _unknown(x, {allowed}, p, {unknown}")
        line_facts = [self.facts[f"service.{f}"] for f in d.service.facts]
        self.emit(1, "r = data.get('services', _ABSENT)")
        self.emit(1, "lines = []")
        self.emit(
            1, "if r is _ABSENT: _problem(problems, ('services',), 'is required but missing')"
        )
        self.emit(1, f"elif _list(r, ('services',), {MAX_ITEMS}, problems):")
        self.emit(2, "if not r: _problem(problems, ('services',), 'must not be empty')")
        self.emit(2, "for i, x in enumerate(r):")
        self.emit(3, "p = ('services', i)")
        self.emit(3, "if not _object(x, p, problems): continue")
        allowed_line = self.allowed([*LINE_FIELDS, *d.service.facts])
        self.emit(3, "service = x.get('service')")
        self.emit(
            3,
            "if service is not None: "
            "service = _check(_identifier, service, p + ('service',), problems)",
        )
        self.emit(3, "code = x.get('code')")
        self.emit(
            3, "if code is not None: code = _check(_line_code, code, p + ('code',), problems)"
        )
        self.emit(
            3,
            "if service is None and code is None: "
            "_problem(problems, p, 'needs a service or a code (or both)')",
        )
        self.emit(
            3, f"lines.append(_Line(service, code, {self.record_dict(line_facts, 'x', 'p', 3)}))"
        )
        self.emit(3, f"if not x.keys() <= {allowed_line}: _unknown(x, {allowed_line}, p, {unknown}")
        allowed_top = self.allowed(top)
        self.emit(1, f"if not data.keys() <= {allowed_top}:")
        self.emit(2, f"_unknown(data, {allowed_top}, (), {unknown}")
        self.emit(1, "if problems: return None")
        records = ", ".join(f"{n!r}: rec_{n}" for n in d.records)
        lists = ", ".join(f"{n!r}: tuple(list_{n})" for n in d.lists)
        self.emit(1, f"return _Case(case_id, {{{records}}}, {{{lists}}}, tuple(lines))")
        header = ["# The case validator: generated from the rule file's case section."]
        header += [f"# {name} = {describe_constant(value)}" for name, value in self.constants]
        source = "\n".join([*header, "def validate(data, problems):", *self.lines, ""])
        filename = "<dli-check case validator>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = dict(self.names)
        exec(compile(source, filename, "exec"), namespace)
        return source, namespace["validate"]  # type: ignore[return-value]

    def field_names(self) -> frozenset[str]:
        d = self.declaration
        names = {*ENGINE_FIELDS, *LINE_FIELDS, *d.records, *d.lists}
        names.update(f.field for f in self.facts.values())
        return frozenset(names)

    def renamed(self) -> dict[str, str]:
        renamed = {
            old: f"{new} (a line's procedure code)" for old, new in RETIRED_LINE_FIELDS.items()
        }
        for name, listed in self.declaration.lists.items():
            if listed.replaces:
                renamed[listed.replaces] = f"{name}, a list of records"
        return renamed


def describe_constant(value: object) -> str:
    """A constant of generated code, as the comment that shows it."""
    if isinstance(value, frozenset):
        return "one of " + ", ".join(sorted(map(str, value)))
    name = getattr(value, "name", None) or getattr(value, "__name__", None)
    if isinstance(name, str) and not isinstance(value, str | int | float):
        return f"{type(value).__name__} {name}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def case_json_schema(case_format: CaseFormat, services: list[str], title: str) -> dict[str, Any]:
    """The JSON Schema of a case file for a rule file."""
    d = case_format.declaration

    def fact_schema(fact: Fact) -> dict[str, Any]:
        decl = fact.declaration
        one: dict[str, Any]
        if decl.type == "boolean":
            one = {"type": "boolean"}
        elif decl.type == "date":
            one = {"type": "string", "format": "date"}
        elif decl.type == "choice":
            one = {"enum": list(decl.choices or ())}
        elif decl.type == "identifier":
            one = {"type": "string", "minLength": 1, "maxLength": values.MAX_TEXT}
        elif decl.type == "number":
            one = {"type": "number"}
            if decl.minimum is not None:
                one["minimum"] = decl.minimum
            if decl.maximum is not None:
                one["maximum"] = decl.maximum
        elif decl.type == "code":
            one = {"type": "string", "description": f"A {decl.system} code."}
        else:
            one = {
                "type": "array",
                "maxItems": MAX_ITEMS,
                "items": {"type": "string", "description": f"A {decl.system} code."},
            }
        description = decl.description
        if decl.unit:
            description += f" ({decl.unit})"
        if decl.default is not None:
            description += f" Absent or null: {decl.default} ({decl.default_reason})"
        return {"anyOf": [one, {"type": "null"}], "description": description}

    def record_schema(description: str, facts: list[Fact]) -> dict[str, Any]:
        return {
            "type": "object",
            "description": description,
            "additionalProperties": False,
            "properties": {f.field: fact_schema(f) for f in facts},
        }

    properties: dict[str, Any] = {
        "case_id": {"type": "string", "minLength": 1, "maxLength": values.MAX_TEXT},
    }
    for name, record in d.records.items():
        facts = [case_format.facts[f"{name}.{f}"] for f in record.facts]
        properties[name] = {"anyOf": [record_schema(record.description, facts), {"type": "null"}]}
    for name, listed in d.lists.items():
        facts = [case_format.facts[f"{listed.item}.{f}"] for f in listed.facts]
        properties[name] = {
            "anyOf": [
                {
                    "type": "array",
                    "maxItems": listed.max_items,
                    "items": record_schema(listed.description, facts),
                },
                {"type": "null"},
            ]
        }
    line = record_schema(
        "A requested service line: a service of the rule file, a procedure code, or both.",
        [case_format.facts[f"service.{f}"] for f in d.service.facts],
    )
    line["properties"] = {
        "service": {"enum": services},
        "code": {"type": "string", "pattern": "^([0-9]{4}[0-9FT]|[A-V][0-9]{4})$"},
        **line["properties"],
    }
    line["anyOf"] = [{"required": ["service"]}, {"required": ["code"]}]
    properties["services"] = {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": line}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": list(ENGINE_FIELDS),
        "properties": properties,
    }
