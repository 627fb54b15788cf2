"""The case validator, generated from a rule file's declared facts, and the checks it calls.

The validator is one Python function written as source (``dli-check rules show --format
python`` prints it): straight-line code, a statement or two per fact, that checks a case as
strictly as a pydantic model would — unknown fields, wrong types, limits — and builds the
plain data the criteria read. Every problem is kept with its path; none repeats a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dli_check.compiler.codegen import Constants, compile_function, identifier, source_name
from dli_check.errors import CaseProblem, PathKey
from dli_check.language.fact_types import FACT_TYPES
from dli_check.values import case as values
from dli_check.values.case import MAX_ITEMS, Case, Line, ValueProblem

if TYPE_CHECKING:
    from dli_check.language.facts import Fact
    from dli_check.language.model import CaseDeclaration

ENGINE_FIELDS = ("case_id", "services")
"""What every case has, whatever the rule file declares."""
LINE_FIELDS = ("service", "code", "modifiers")
"""What every service line has: the service it names, its procedure code (as billed, with
modifiers: ``38242-59``), and its modifiers apart."""
RETIRED_LINE_FIELDS = {"cpt": "code"}
"""Line keys of earlier versions, refused with a message naming the key that replaced them."""

Problems = list[CaseProblem]

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


def billed(
    line: Mapping[str, Any], path: PathKey, problems: Problems
) -> tuple[Any, tuple[str, ...]]:
    """A line's procedure code and modifiers: those written with the code (``38242-59``)
    and those in ``modifiers``, in that order, each once. The code is None when absent and
    BAD when it breaks its type."""
    code: Any = line.get("code")
    modifiers: tuple[str, ...] = ()
    if code is not None:
        try:
            code, modifiers = values.billed_code(code)
        except ValueProblem as exc:
            code = problem(problems, (*path, "code"), str(exc))
    given = line.get("modifiers")
    if given is not None and is_list(given, (*path, "modifiers"), values.MAX_MODIFIERS, problems):
        items: list[object] = given
        for i, item in enumerate(items):
            try:
                modifiers = (*modifiers, values.modifier(item))
            except ValueProblem as exc:
                problem(problems, (*path, "modifiers", i), str(exc))
        modifiers = tuple(dict.fromkeys(modifiers))
    return code, modifiers


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
            problem(problems, (*path, key), renamed[key])
        elif key in field_names:
            problem(problems, (*path, key), "is not a known field")
        else:
            subject = "has" if path else "the case has"
            message = f"{subject} an unknown field (its key number {number})"
            problems.append(CaseProblem(path, message, key=key))


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


def write_validator(
    declaration: CaseDeclaration, facts: dict[str, Fact], *, read_from_fhir: bool = False
) -> tuple[str, Callable[[Any, Problems], Case | None]]:
    """The validator's source, and the function compiled from it; for cases read from
    FHIR, declared defaults apply only where a fact says ``default_for_fhir``."""
    return _ValidatorWriter(declaration, facts, read_from_fhir).write()


class _ValidatorWriter:
    """Writes the validator's source: straight-line code, one statement or two per fact."""

    def __init__(
        self, declaration: CaseDeclaration, facts: dict[str, Fact], read_from_fhir: bool
    ) -> None:
        self.declaration, self.facts = declaration, facts
        self.read_from_fhir = read_from_fhir
        self.lines: list[str] = []
        self.names: dict[str, object] = {
            "_BAD": BAD,
            "_ABSENT": ABSENT,
            "_problem": problem,
            "_check": check,
            "_ValueProblem": ValueProblem,
            "_INVISIBLE": values.ASCII_INVISIBLE,
            "_object": is_object,
            "_list": is_list,
            "_unknown": unknown_keys,
            "_codes": codes,
            "_identifier": values.identifier,
            "_billed": billed,
            "_Case": Case,
            "_Line": Line,
        }
        self.constants = Constants("_k", self.names)

    def constant(self, value: object) -> str:
        return self.constants.name(value)

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def fact_value(
        self,
        fact: Fact,
        source: str,
        path: str,
        depth: int,
        target: str,
        defaulted: str | None = None,
    ) -> None:
        """Emit ``target = <the checked value of fact.field in source>``; with `defaulted`,
        the tuple it names also gets the field when the declared default applies."""
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
        elif FACT_TYPES[d.type].many:
            checker = self.constant(FACT_TYPES[d.type].checker(d))
            self.emit(depth, f"{target} = {get}")
            self.emit(
                depth,
                f"if {target} is not None: "
                f"{target} = _codes({target}, {checker}, {where}, problems)",
            )
        else:
            checker = self.constant(FACT_TYPES[d.type].checker(d))
            self.emit(depth, f"{target} = {get}")
            self.emit(depth, f"if {target} is not None:")
            self.emit(depth + 1, f"try: {target} = {checker}({target})")
            self.emit(
                depth + 1,
                f"except _ValueProblem as e: {target} = _problem(problems, {where}, str(e))",
            )
        if d.default is not None and (d.default_for_fhir or not self.read_from_fhir):
            default = self.constant(values.iso_date(d.default) if d.type == "date" else d.default)
            said = "" if defaulted is None else f"; {defaulted} += ({fact.field!r},)"
            self.emit(depth, f"if {target} is None: {target} = {default}{said}")

    def record_dict(
        self, facts: list[Fact], source: str, path: str, depth: int, defaulted: str | None = None
    ) -> str:
        """Emit the checks of a record's facts; the expression of the record as a dict."""
        parts = []
        for k, fact in enumerate(facts):
            target = f"v{depth}_{k}"
            self.fact_value(fact, source, path, depth, target, defaulted)
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
            self.emit(1, f"rec_{identifier(name)} = None")
            self.emit(1, f"if r is not None and _object(r, ({name!r},), problems):")
            allowed = self.allowed(list(record.facts))
            checked = self.record_dict(facts, "r", repr((name,)), 2)
            self.emit(2, f"rec_{identifier(name)} = {checked}")
            self.emit(2, f"if not r.keys() <= {allowed}:")
            self.emit(3, f"_unknown(r, {allowed}, ({name!r},), {unknown}")
        for name, listed in d.lists.items():
            facts = [self.facts[f"{listed.item}.{f}"] for f in listed.facts]
            self.emit(1, f"r = data.get({name!r})")
            self.emit(1, f"list_{identifier(name)} = []")
            self.emit(
                1, f"if r is not None and _list(r, ({name!r},), {listed.max_items}, problems):"
            )
            self.emit(2, "for i, x in enumerate(r):")
            self.emit(3, f"p = ({name!r}, i)")
            self.emit(3, "if _object(x, p, problems):")
            allowed = self.allowed(list(listed.facts))
            self.emit(4, f"list_{identifier(name)}.append({self.record_dict(facts, 'x', 'p', 4)})")
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
        self.emit(3, "code, modifiers = _billed(x, p, problems)")
        self.emit(
            3,
            "if service is None and code is None: "
            "_problem(problems, p, 'needs a service or a code (or both)')",
        )
        self.emit(3, "defaulted = ()")
        line_dict = self.record_dict(line_facts, "x", "p", 3, "defaulted")
        self.emit(3, f"lines.append(_Line(service, code, {line_dict}, modifiers, defaulted))")
        self.emit(3, f"if not x.keys() <= {allowed_line}: _unknown(x, {allowed_line}, p, {unknown}")
        allowed_top = self.allowed(top)
        self.emit(1, f"if not data.keys() <= {allowed_top}:")
        self.emit(2, f"_unknown(data, {allowed_top}, (), {unknown}")
        self.emit(1, "if problems: return None")
        records = ", ".join(f"{n!r}: rec_{identifier(n)}" for n in d.records)
        lists = ", ".join(f"{n!r}: tuple(list_{identifier(n)})" for n in d.lists)
        complete = tuple(n for n, listed in d.lists.items() if listed.complete_when_given)
        given = ""
        if complete:  # a list given empty is known to hold nothing
            given = f", frozenset(n for n in {complete!r} if data.get(n) is not None)"
        self.emit(1, f"return _Case(case_id, {{{records}}}, {{{lists}}}, tuple(lines){given})")
        words = "The case validator: generated from the rule file's case section."
        header = [self.constants.comment(words)]
        source = "\n".join(
            [*header, *self.constants.comments(), "def validate(data, problems):", *self.lines, ""]
        )
        filename = source_name("dli-check case validator", source)
        written = self.constants.written
        run = compile_function(source, filename, self.names, "validate", written)
        return source, run

    def field_names(self) -> frozenset[str]:
        d = self.declaration
        names = {*ENGINE_FIELDS, *LINE_FIELDS, *d.records, *d.lists}
        names.update(f.field for f in self.facts.values())
        return frozenset(names)

    def renamed(self) -> dict[str, str]:
        """Keys a case may not give, named with what to do instead."""
        d = self.declaration
        renamed = {
            old: f"is no longer a field: use {new} (a line's procedure code)"
            for old, new in RETIRED_LINE_FIELDS.items()
        }
        for name, listed in d.lists.items():
            if listed.replaces:
                renamed[listed.replaces] = f"is no longer a field: use {name}, a list of records"
        derived = [r.derived for r in d.records.values()] + [x.derived for x in d.lists.values()]
        for fields in (*derived, d.service.derived):
            for field in fields:
                renamed[field] = "is computed by the rule file (derived), not given by a case"
        return renamed
