"""The operators of the rule language, each defined once: its arguments (a pydantic model,
which validates it), the fact types it applies to, the Python it compiles to, and its
explanation in words (which the text tree and the Mermaid flowchart show).

A condition is a mapping with exactly one operator::

    all: [COND, ...]                      every one is met
    any: [COND, ...]                      at least one is met
    not: COND                             the condition is not met
    equals: {fact: F, value: V}           the fact equals V (a word, true/false, a number)
    at_least_of: {count: N, of: [COND, ...]}
                                          at least N of the conditions are met
    one_of: {fact: F, values: [V, ...]}   the fact is one of the values
    is_true: F                            a boolean fact is true
    present: F                            the fact is given (never unknown)
    stated: F                             the case gives it, not its default (never unknown)
    in_code_set: {fact: F, code_set: S}   the code (for a list, any code) is in the set
    same_as: {fact: F, other: G}          two facts hold the same value
    before / after: {fact: F, other: G | value: DATE}
                                          date F is before / after date G (or a date)
    on_or_before / on_or_after: {fact: F, other: G | value: DATE}
    within: {fact: F, before: G | after: G, days | weeks | months | years: N}
                                          F is at most N units before (after) G, ends included
    duration: {from: F, to: G, at_least: SPAN, at_most: SPAN}
                                          the time from date F to date G is within bounds
    age: {birth: F, as_of: G, at_least: N, at_most: N}
                                          the age in whole years on G (service.date) of F
    at_least / at_most / greater_than / less_than: {fact: F, value: N | other: G}
    between: {fact: F, min: N, max: N}    min <= F <= max
    some: {of: LIST, where: COND}         some record of a declared list meets COND
    none / every: {of: LIST, where: COND} no record / every record of the list meets COND
    count: {of: LIST, where: COND, distinct: F, at_least: N | at_most: N}
                                          how many records meet COND (or how many different
                                          values of F they hold), against N
    other_line: {service: S, where: COND, note: TEXT}
                                          some other line of the case, decided as S, meets
                                          COND (on its facts, other.F, and this line's)
    use: NAME                             the condition the rule file defines by that name
    constant: true | false                a fixed answer ("never medically necessary")

Compiled, each condition is three expressions: its status (``met``, ``not_met`` or
``unknown``), the facts it misses, and its notes. Kleene's three-valued logic joins them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from dli_check.errors import PathKey
from dli_check.results import BY_DEFAULT

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=False)
"""The configuration of every model of a rule file or suite: no coercion, no unknown keys."""

FACT_PATH = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
FactPath = Annotated[str, Field(pattern=FACT_PATH)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
"""The name of a code set, a criterion or a service."""
"""``record.fact``: a fact of a declared record, of a list's item, or of the service line."""
ListName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Number = int | float

Triple = tuple[str, str, str]
"""The Python expressions for a condition's status, missing facts and notes."""


class FactInfo(Protocol):
    """What an operator needs to know of a declared fact."""

    @property
    def type(self) -> str:
        """The fact's type: boolean, date, choice, identifier, number, code or codes."""

    @property
    def kind(self) -> str:
        """``record``, ``list`` or ``service`` (a line's fact)."""

    @property
    def field(self) -> str:
        """The fact's key in its record or line."""

    @property
    def has_default(self) -> bool:
        """Whether the fact declares a default."""

    @property
    def bounds(self) -> tuple[int | float | None, int | float | None]:
        """A number's declared minimum and maximum (None: no bound)."""

    @property
    def unit(self) -> str | None:
        """A number's declared unit, if any."""


class Builder(Protocol):
    """The code writer operators compile with, as the compiler provides it
    (`dli_check.compiler.builder.Builder`): the language names what it needs, and the
    compiler, a layer above, supplies it."""

    def build(self, cond: Any, path: PathKey) -> Triple:
        """Compile a condition (any operator)."""

    def lookup(self, path: str, where: PathKey) -> FactInfo | None:
        """The declared fact a path names, or None with a problem recorded."""

    def typed(
        self, path: str, where: PathKey, allowed: tuple[str, ...], operator: str
    ) -> FactInfo | None:
        """The fact, if it exists and its type suits the operator."""

    def choice(self, fact: Any, value: object, where: PathKey) -> None:
        """Check that a value is one the fact may hold."""

    def fact(self, path: str) -> str:
        """The local that holds a fact's value."""

    def constant(self, value: object) -> str:
        """A name for a value of the rule file."""

    def not_given(self, path: str) -> str:
        """That a fact was not given, in words."""

    def new(self) -> int:
        """A fresh number for a statement's locals."""

    def line(self, statement: str) -> None:
        """Add a statement to the function being written."""

    def fail(self, where: PathKey, message: str) -> Triple:
        """Record a problem; the condition compiles to not met."""

    def failed(self) -> Triple:
        """What a condition that cannot compile stands for."""

    def test(self, path: str, expression: str, failed: str | None = None) -> Triple:
        """A leaf on one fact."""

    def compare(self, first: str, compare: str, other: str, words: str) -> Triple:
        """Two facts compared."""

    def compare_value(self, first: str, compare: str, value: object, words: str) -> Triple:
        """A fact compared with a number."""

    def in_code_set(self, path: str, fact: Any, code_set_name: str, where: PathKey) -> Triple:
        """A code (or codes) in an ICD-10-CM code set."""

    def junction(self, triples: list[Triple], *, is_all: bool) -> Triple:
        """Kleene's all or any over compiled parts."""

    def count_of(self, triples: list[Triple], count: int) -> Triple:
        """At least `count` of the compiled parts are met."""

    def some(
        self, list_name: str, where_cond: Any, path: PathKey, quantifier: str = "some"
    ) -> Triple:
        """Some (or no, or every) record of a declared list meets a condition."""

    def other_line(self, service: str, where_cond: Any, note: str, path: PathKey) -> Triple:
        """Some other line of the case, decided as `service`, meets a condition."""

    def dated(self, function: str, first: str, other: str, args: tuple[object, ...]) -> Triple:
        """Two dates related by a function of the compiler's logic."""

    def named(self, name: str, path: PathKey) -> Triple:
        """The condition the rule file defines by `name` (its ``conditions``)."""

    def count(
        self,
        list_name: str,
        where_cond: Any,
        distinct: str | None,
        bounds: tuple[int | None, int | None],
        path: PathKey,
    ) -> Triple:
        """How many records of a list meet a condition, against bounds."""

    def saw(self, path: str) -> str:
        """The notes expression saying the value a fact holds ("the visit's kind is video")."""

    def holder(self, path: str) -> str:
        """The local that holds the line a line fact is read from (this line, or the other
        line of an `other_line`)."""


class FactAndValue(BaseModel):
    """Arguments of `equals`: a choice or identifier and a string, a boolean and true or
    false, or a number and a number."""

    model_config = STRICT
    fact: FactPath
    value: str | bool | Number


class FactAndValues(BaseModel):
    """Arguments of `one_of`."""

    model_config = STRICT
    fact: FactPath
    values: list[str] = Field(min_length=1)


class FactAndCodeSet(BaseModel):
    """Arguments of `in_code_set`."""

    model_config = STRICT
    fact: FactPath
    code_set: Name


class TwoFacts(BaseModel):
    """Arguments of `same_as`, `before` and `after`."""

    model_config = STRICT
    fact: FactPath
    other: FactPath


class Comparison(BaseModel):
    """Arguments of a numeric comparison: a fact and a number, or two facts."""

    model_config = STRICT
    fact: FactPath
    value: Number | None = None
    other: FactPath | None = None

    @model_validator(mode="after")
    def _one_operand(self) -> Comparison:
        if (self.value is None) == (self.other is None):
            raise ValueError("give a number as value, or a fact as other (one of them)")
        if isinstance(self.value, bool):
            raise ValueError("value must be a number")
        return self


class DateComparison(BaseModel):
    """Arguments of a date order: a date fact, and another date fact or a date."""

    model_config = STRICT
    fact: FactPath
    other: FactPath | None = None
    value: dt.date | None = None

    @model_validator(mode="after")
    def _one_operand(self) -> DateComparison:
        if (self.value is None) == (self.other is None):
            raise ValueError("give a date as value, or a date fact as other (one of them)")
        return self


def _need_a_bound(least: object, most: object) -> None:
    if least is None and most is None:
        raise ValueError("give at_least, at_most or both")


def _bound_words(least: object, most: object) -> str:
    """``at least 2 and at most 5``, leaving out a bound not given."""
    pairs = (("at least", least), ("at most", most))
    return " and ".join(f"{words} {bound}" for words, bound in pairs if bound is not None)


class Span(BaseModel):
    """A span of time: a number of days, weeks, or calendar months or years (one unit)."""

    model_config = STRICT
    days: int | None = Field(default=None, ge=0)
    weeks: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)
    years: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_unit(self) -> Span:
        if len(self.given()) != 1:
            raise ValueError("give one of days, weeks, months or years")
        return self

    def given(self) -> list[tuple[int, str]]:
        """The (amount, unit) pairs given: one, once valid."""
        units = ("days", "weeks", "months", "years")
        return [(n, u) for u in units if (n := getattr(self, u)) is not None]

    def __str__(self) -> str:
        amount, unit = self.given()[0]
        return f"{amount} {unit}"


class WithinArgs(Span):
    """Arguments of `within`: a date fact, the date fact it is before or after (one of
    them), and the span."""

    fact: FactPath
    before: FactPath | None = None
    after: FactPath | None = None

    @model_validator(mode="after")
    def _one_side(self) -> WithinArgs:
        if (self.before is None) == (self.after is None):
            raise ValueError("give before or after (one of them): the date it is near")
        return self


class DurationArgs(BaseModel):
    """Arguments of `duration`: two date facts, and at least one bound."""

    model_config = STRICT
    from_: FactPath = Field(alias="from")
    to: FactPath
    at_least: Span | None = None
    at_most: Span | None = None

    @model_validator(mode="after")
    def _bounded(self) -> DurationArgs:
        _need_a_bound(self.at_least, self.at_most)
        return self


class AgeArgs(BaseModel):
    """Arguments of `age`: a birth date fact, the date fact the age is taken on (`as_of`:
    by default the line's date of service; not ``on``, which YAML reads as true), and at
    least one bound in whole years."""

    model_config = STRICT
    birth: FactPath
    as_of: FactPath = "service.date"
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> AgeArgs:
        _need_a_bound(self.at_least, self.at_most)
        return self


class Range(BaseModel):
    """Arguments of `between`: both ends are included."""

    model_config = STRICT
    fact: FactPath
    min: Number
    max: Number

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if isinstance(self.min, bool) or isinstance(self.max, bool):
            raise ValueError("min and max must be numbers")
        if self.max < self.min:
            raise ValueError("max is less than min")
        return self


class All(BaseModel):
    """Every condition is met."""

    model_config = STRICT
    all: list[Condition] = Field(min_length=1)


class Any_(BaseModel):
    """At least one condition is met."""

    model_config = STRICT
    any: list[Condition] = Field(min_length=1)


class Not(BaseModel):
    """The condition is not met."""

    model_config = STRICT
    not_: Condition = Field(alias="not")


class Equals(BaseModel):
    """A fact equals a value."""

    model_config = STRICT
    equals: FactAndValue


class OneOf(BaseModel):
    """A fact is one of several values."""

    model_config = STRICT
    one_of: FactAndValues


class CountOf(BaseModel):
    """Arguments of `at_least_of`: how many of the conditions must be met."""

    model_config = STRICT
    count: int = Field(ge=1)
    of: list[Condition] = Field(min_length=2)

    @model_validator(mode="after")
    def _reachable(self) -> CountOf:
        if self.count > len(self.of):
            raise ValueError(f"count is {self.count}, but there are {len(self.of)} conditions")
        return self


class AtLeastOf(BaseModel):
    """At least `count` of the conditions are met ("2 of 3"): met once that many are,
    not met once too few can be, else unknown."""

    model_config = STRICT
    at_least_of: CountOf


class IsTrue(BaseModel):
    """A boolean fact is true."""

    model_config = STRICT
    is_true: FactPath


class Present(BaseModel):
    """A fact is given; never unknown."""

    model_config = STRICT
    present: FactPath


class Stated(BaseModel):
    """The case itself gives a fact: it is present, and not by its declared default (a
    line's ``genetically_modified: false`` written out, not left to the default); never
    unknown. For a fact with no default, the same as `present`."""

    model_config = STRICT
    stated: FactPath


class InCodeSet(BaseModel):
    """A code (or, for a list of codes, any of them) is in a named code set."""

    model_config = STRICT
    in_code_set: FactAndCodeSet


class SameAs(BaseModel):
    """Two facts hold the same value."""

    model_config = STRICT
    same_as: TwoFacts


class Before(BaseModel):
    """One date is strictly before another, or before a date."""

    model_config = STRICT
    before: DateComparison


class After(BaseModel):
    """One date is strictly after another, or after a date."""

    model_config = STRICT
    after: DateComparison


class OnOrBefore(BaseModel):
    """One date is on or before another, or a date."""

    model_config = STRICT
    on_or_before: DateComparison


class OnOrAfter(BaseModel):
    """One date is on or after another, or a date."""

    model_config = STRICT
    on_or_after: DateComparison


class Within(BaseModel):
    """A date is within a span before (or after) another date fact, both ends included:
    ``within: {fact: test.date, months: 6, before: service.date}``. Calendar months and
    years: 2024-08-31 less 6 months is 2024-02-29. The note shows both dates and the days
    between."""

    model_config = STRICT
    within: WithinArgs


class Duration(BaseModel):
    """The time from one date fact to another is at least (at most) a span: calendar
    months and years are counted from the first date."""

    model_config = STRICT
    duration: DurationArgs


class Age(BaseModel):
    """The age in whole years, on a date (the line's date of service by default), of one
    born on a date fact is within bounds."""

    model_config = STRICT
    age: AgeArgs


class AtLeast(BaseModel):
    """A number is at least a value or another fact."""

    model_config = STRICT
    at_least: Comparison


class AtMost(BaseModel):
    """A number is at most a value or another fact."""

    model_config = STRICT
    at_most: Comparison


class GreaterThan(BaseModel):
    """A number is greater than a value or another fact."""

    model_config = STRICT
    greater_than: Comparison


class LessThan(BaseModel):
    """A number is less than a value or another fact."""

    model_config = STRICT
    less_than: Comparison


class Between(BaseModel):
    """A number lies between two values, both included."""

    model_config = STRICT
    between: Range


class Quantifier(BaseModel):
    """Arguments of `some`: a declared list, and the condition one of its records meets."""

    model_config = STRICT
    of: ListName
    where: Condition


class OtherLines(BaseModel):
    """Arguments of `other_line`: the service the other line is decided as, the condition
    it meets (its facts are ``other.<field>``; ``service.<field>`` is still this line's),
    and the note said when one does (the engine adds which line)."""

    model_config = STRICT
    service: Name
    where: Condition
    note: Annotated[str, Field(min_length=1)]


class OtherLine(BaseModel):
    """Some other line of the case, decided as the named service, meets the condition: met
    if one does (a note names it), not met if none can or there is none (a case holds all
    its lines), else unknown."""

    model_config = STRICT
    other_line: OtherLines


class Some(BaseModel):
    """Some record of a declared list meets the condition."""

    model_config = STRICT
    some: Quantifier


class Counting(BaseModel):
    """Arguments of `count`: a declared list; optionally the condition a record meets to
    count, and a fact whose different values are counted instead of records; and the
    bounds, at least one of them."""

    model_config = STRICT
    of: ListName
    where: Condition | None = None
    distinct: FactPath | None = None
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> Counting:
        _need_a_bound(self.at_least, self.at_most)
        low, high = self.at_least, self.at_most
        if low is not None and high is not None and high < low:
            raise ValueError("at_most is less than at_least")
        return self


class Count(BaseModel):
    """How many records of a list meet a condition ("at least 2 trials of 12 weeks"), or
    how many different values of a fact they hold ("at least 2 different drugs"), is
    within bounds: met or not met when it is so however the unknown records turn out,
    else unknown. The note names the records counted."""

    model_config = STRICT
    count: Counting


class NoRecord(BaseModel):
    """No record of a declared list meets the condition: met if none can, not met if one
    does, else unknown. An empty list is unknown unless the list is complete when given
    and the case gives it: then it is met."""

    model_config = STRICT
    none: Quantifier


class Every(BaseModel):
    """Every record of a declared list meets the condition: not met if one does not, met
    if all do, else unknown. An empty list is unknown unless the list is complete when
    given and the case gives it: then it is met."""

    model_config = STRICT
    every: Quantifier


class Use(BaseModel):
    """A condition the rule file defines once by name (under ``conditions``) and uses in
    several criteria; `rules show` prints its name. YAML anchors (``&name``, ``*name``)
    work too, but copy the condition, so `rules show` prints it in full."""

    model_config = STRICT
    use: Name


class Constant(BaseModel):
    """A fixed answer, for what a guideline never (or always) allows."""

    model_config = STRICT
    constant: bool


@dataclass(frozen=True)
class Operator:
    """One operator: its model, how it compiles, and how it reads."""

    name: str
    model: type[BaseModel]
    compile: Callable[[Builder, Any, PathKey], Triple]
    text: Callable[[Any], list[str]]
    """The condition in words, one or more lines (nested conditions indented)."""
    example: str = ""
    """The condition as a rule file writes it (YAML), for the reference."""
    parts: Callable[[Any], list[tuple[Any, PathKey]]] | None = None
    """The conditions it is made of, judged with it (not once per record), each with
    its place under it: ``[(cond, ("all", 0)), ...]``."""


@dataclass(frozen=True)
class ConditionNode:
    """A condition as a reviewer reads it, part by part (`condition_tree`)."""

    text: str
    path: PathKey | None
    """Where it is in the rule file (the key of `dli_check.results.CaseResult.conditions`);
    None for the words of a condition answered once per record or line."""
    parts: tuple[ConditionNode, ...] = ()


def condition_tree(cond: BaseModel, path: PathKey) -> ConditionNode:
    """A condition at `path` as the tree `condition_text` writes as indented lines."""
    operator = OPERATORS[operator_of(cond) or ""]
    lines = operator.text(cond)
    if operator.parts is not None and len(lines) > 1:
        parts = operator.parts(cond)
        return ConditionNode(
            lines[0], path, tuple(condition_tree(c, (*path, *at)) for c, at in parts)
        )
    return ConditionNode(lines[0], path, _indented(lines[1:]))


def _indented(lines: list[str]) -> tuple[ConditionNode, ...]:
    """Indented lines ("all of:", "  - x is true") as nodes with no place of their own."""
    nodes, i = [], 0
    while i < len(lines):
        depth, j = _depth(lines[i]), i + 1
        while j < len(lines) and _depth(lines[j]) > depth:
            j += 1
        text = lines[i].strip().removeprefix("- ")
        nodes.append(ConditionNode(text, None, _indented(lines[i + 1 : j])))
        i = j
    return tuple(nodes)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _bullet(lines: list[str]) -> list[str]:
    return [f"- {lines[0]}"] + [f"  {line}" for line in lines[1:]]


def condition_text(cond: BaseModel) -> list[str]:
    """A condition as indented lines of plain words."""
    return OPERATORS[operator_of(cond) or ""].text(cond)


def _junction_text(cond: All | Any_) -> list[str]:
    head, parts = ("all of:", cond.all) if isinstance(cond, All) else ("any of:", cond.any)
    return [head] + [f"  {line}" for part in parts for line in _bullet(condition_text(part))]


def _not_text(cond: Not) -> list[str]:
    if isinstance(cond.not_, Present):
        return [f"{cond.not_.present} is not given"]
    if isinstance(cond.not_, IsTrue):
        return [f"{cond.not_.is_true} is not true"]
    inner = condition_text(cond.not_)
    return [f"not {inner[0]}"] if len(inner) == 1 else ["not:", *(f"  {x}" for x in inner)]


def _value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _compare_text(words: str) -> Callable[[Any], list[str]]:
    def text(cond: Any) -> list[str]:
        args: Comparison = next(iter(cond.__dict__.values()))
        operand = args.other if args.other is not None else _value(args.value)
        return [f"{args.fact} is {words} {operand}"]

    return text


# How each operator compiles. `b` is the code writer (`Builder`, supplied by the compiler).


def _junction_parts(cond: All | Any_) -> list[tuple[Any, PathKey]]:
    op, parts = ("all", cond.all) if isinstance(cond, All) else ("any", cond.any)
    return [(c, (op, k)) for k, c in enumerate(parts)]


def _compile_junction(b: Builder, cond: All | Any_, path: PathKey) -> Triple:
    triples = [b.build(c, (*path, *at)) for c, at in _junction_parts(cond)]
    return b.junction(triples, is_all=isinstance(cond, All))


def _compile_not(b: Builder, cond: Not, path: PathKey) -> Triple:
    if isinstance(cond.not_, Present):
        # Met by absence: the note says so, and is kept only if the criterion is met.
        fact = cond.not_.present
        b.lookup(fact, (*path, "not", "present"))
        v = b.fact(fact)
        note = b.constant(BY_DEFAULT + b.not_given(fact))
        return (f"(_N if {v} is not None else _M)", "()", f"(() if {v} is not None else ({note},))")
    status, missing, notes = b.build(cond.not_, (*path, "not"))
    k = b.new()  # a statement, not a nested expression: nesting has a limit
    b.line(f"s{k} = _NEG[{status}]")
    leaf = _one_fact(cond.not_)
    if leaf is not None:  # a leaf is mostly silent when met: the value it saw says why
        notes = b.saw(leaf) if notes == "()" else f"({notes} or {b.saw(leaf)})"
    if notes == "()":
        return (f"s{k}", missing, "()")
    # The inner condition's notes say why it was met, which is why this one is not.
    b.line(f"n{k} = {notes} if {status} == _M else ()")
    return (f"s{k}", missing, f"n{k}")


def _one_fact(cond: BaseModel) -> str | None:
    """The fact a leaf condition tests against a value, if it is one."""
    if isinstance(cond, IsTrue):
        return cond.is_true
    args = next(iter(cond.__dict__.values()))
    if isinstance(args, FactAndValue | FactAndValues | Range):
        return args.fact
    if isinstance(args, Comparison) and args.other is None:
        return args.fact
    return None


_EQUALS_VALUES = {"boolean": "true or false", "number": "a number"}
"""What `equals` compares a fact of each type with (a string, for the others)."""


def _equals_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


def _compile_equals(b: Builder, cond: Equals, path: PathKey) -> Triple:
    args, where = cond.equals, (*path, "equals")
    types = ("choice", "identifier", "boolean", "number")
    fact = b.typed(args.fact, (*where, "fact"), types, "equals")
    if fact is None:
        return b.failed()
    if fact.type == "number" and not _within_bounds(fact, args.value):
        return b.fail((*where, "value"), _outside(args.fact, fact, args.value))
    wanted = fact.type if fact.type in _EQUALS_VALUES else "text"
    if _equals_kind(args.value) != wanted:
        words = _EQUALS_VALUES.get(fact.type, "a string")
        return b.fail(
            (*where, "value"), f"{args.fact!r} is a {fact.type}: equals compares it with {words}"
        )
    b.choice(fact, args.value, (*where, "value"))
    shown = _value(args.value).replace("{", "{{").replace("}", "}}")
    return b.test(args.fact, "{v} == " + b.constant(args.value), "{label} is {value}, not " + shown)


def _at_least_of_parts(cond: AtLeastOf) -> list[tuple[Any, PathKey]]:
    return [(c, ("at_least_of", "of", k)) for k, c in enumerate(cond.at_least_of.of)]


def _compile_at_least_of(b: Builder, cond: AtLeastOf, path: PathKey) -> Triple:
    triples = [b.build(c, (*path, *at)) for c, at in _at_least_of_parts(cond)]
    return b.count_of(triples, cond.at_least_of.count)


def _at_least_of_text(cond: AtLeastOf) -> list[str]:
    parts = cond.at_least_of.of
    head = f"at least {cond.at_least_of.count} of these {len(parts)}:"
    return [head] + [f"  {line}" for part in parts for line in _bullet(condition_text(part))]


def _compile_one_of(b: Builder, cond: OneOf, path: PathKey) -> Triple:
    args, where = cond.one_of, (*path, "one_of")
    fact = b.typed(args.fact, (*where, "fact"), ("choice", "identifier"), "one_of")
    if fact is not None:
        for k, value in enumerate(args.values):
            b.choice(fact, value, (*where, "values", k))
    shown = ", ".join(args.values).replace("{", "{{").replace("}", "}}")
    return b.test(
        args.fact,
        "{v} in " + b.constant(frozenset(args.values)),
        "{label} is {value}, not one of " + shown,
    )


def _compile_is_true(b: Builder, cond: IsTrue, path: PathKey) -> Triple:
    b.typed(cond.is_true, (*path, "is_true"), ("boolean",), "is_true")
    return b.test(cond.is_true, "{v} is True", "{label}: no")


def _compile_present(b: Builder, cond: Present, path: PathKey) -> Triple:
    b.lookup(cond.present, (*path, "present"))
    return (f"(_M if {b.fact(cond.present)} is not None else _N)", "()", "()")


def _compile_stated(b: Builder, cond: Stated, path: PathKey) -> Triple:
    fact = b.lookup(cond.stated, (*path, "stated"))
    if fact is None:
        return b.failed()
    value = b.fact(cond.stated)
    if not fact.has_default:
        return (f"(_M if {value} is not None else _N)", "()", "()")
    if fact.kind not in ("service", "other"):
        message = "applies to a fact with a default only on a line (service.*)"
        return b.fail((*path, "stated"), message)
    held = f"{fact.field!r} not in {b.holder(cond.stated)}.defaulted"
    return (f"(_M if {value} is not None and {held} else _N)", "()", "()")


def _compile_in_code_set(b: Builder, cond: InCodeSet, path: PathKey) -> Triple:
    args, where = cond.in_code_set, (*path, "in_code_set")
    fact = b.typed(args.fact, (*where, "fact"), ("code", "codes"), "in_code_set")
    return b.in_code_set(args.fact, fact, args.code_set, where)


def _compile_two_facts(
    op: str, types: tuple[str, ...], compare: str, words: str
) -> Callable[[Builder, Any, PathKey], Triple]:
    def compile_(b: Builder, cond: Any, path: PathKey) -> Triple:
        args: TwoFacts = getattr(cond, op)
        where = (*path, op)
        a = b.typed(args.fact, (*where, "fact"), types, op)
        c = b.typed(args.other, (*where, "other"), types, op)
        if a is not None and c is not None and a.type != c.type:
            b.fail(
                where,
                f"{op} compares two facts of one type; {args.fact!r} and {args.other!r} are not",
            )
        return b.compare(args.fact, compare, args.other, words)

    return compile_


def _compile_comparison(
    op: str, compare: str, words: str
) -> Callable[[Builder, Any, PathKey], Triple]:
    def compile_(b: Builder, cond: Any, path: PathKey) -> Triple:
        args: Comparison = getattr(cond, op)
        where = (*path, op)
        fact = b.typed(args.fact, (*where, "fact"), ("number",), op)
        if args.other is not None:
            other = b.typed(args.other, (*where, "other"), ("number",), op)
            if fact is not None and other is not None and fact.unit != other.unit:
                units = f"{fact.unit or 'no unit'} and {other.unit or 'no unit'}"
                message = f"{args.fact!r} and {args.other!r} have different units ({units})"
                return b.fail(where, message)
            return b.compare(args.fact, compare, args.other, words)
        if fact is not None and not _within_bounds(fact, args.value):
            return b.fail((*where, "value"), _outside(args.fact, fact, args.value))
        return b.compare_value(args.fact, compare, args.value, words)

    return compile_


def _within_bounds(fact: FactInfo, value: object) -> bool:
    low, high = fact.bounds
    if not isinstance(value, int | float):
        return True
    return (low is None or value >= low) and (high is None or value <= high)


def _outside(path: str, fact: FactInfo, value: object) -> str:
    low, high = fact.bounds
    shown = f"{'' if low is None else low} to {'' if high is None else high}".strip()
    return f"{value} is outside what {path!r} may hold ({shown})"


def _compile_date_order(
    op: str, compare: str, words: str
) -> Callable[[Builder, Any, PathKey], Triple]:
    def compile_(b: Builder, cond: Any, path: PathKey) -> Triple:
        args: DateComparison = getattr(cond, op)
        where = (*path, op)
        b.typed(args.fact, (*where, "fact"), ("date",), op)
        if args.other is not None:
            b.typed(args.other, (*where, "other"), ("date",), op)
            return b.compare(args.fact, compare, args.other, words)
        return b.compare_value(args.fact, compare, args.value, words)

    return compile_


def _date_order_text(op: str, words: str) -> Callable[[Any], list[str]]:
    def text(cond: Any) -> list[str]:
        args: DateComparison = getattr(cond, op)
        return [f"{args.fact} is {words} {args.other or args.value}"]

    return text


def _compile_within(b: Builder, cond: Within, path: PathKey) -> Triple:
    args, where = cond.within, (*path, "within")
    (amount, unit), before = args.given()[0], args.before is not None
    near = args.before or args.after or ""
    b.typed(args.fact, (*where, "fact"), ("date",), "within")
    b.typed(near, (*where, "before" if before else "after"), ("date",), "within")
    return b.dated("within", args.fact, near, (amount, unit, before))


def _within_text(cond: Within) -> list[str]:
    args = cond.within
    (amount, unit), side = args.given()[0], "before" if args.before else "after"
    return [f"{args.fact} is within {amount} {unit} {side} {args.before or args.after}"]


def _compile_duration(b: Builder, cond: Duration, path: PathKey) -> Triple:
    args, where = cond.duration, (*path, "duration")
    b.typed(args.from_, (*where, "from"), ("date",), "duration")
    b.typed(args.to, (*where, "to"), ("date",), "duration")
    least = args.at_least.given()[0] if args.at_least else None
    most = args.at_most.given()[0] if args.at_most else None
    return b.dated("lasted", args.from_, args.to, (least, most))


def _duration_text(cond: Duration) -> list[str]:
    args = cond.duration
    return [f"from {args.from_} to {args.to} is {_bound_words(args.at_least, args.at_most)}"]


def _compile_age(b: Builder, cond: Age, path: PathKey) -> Triple:
    args, where = cond.age, (*path, "age")
    b.typed(args.birth, (*where, "birth"), ("date",), "age")
    b.typed(args.as_of, (*where, "as_of"), ("date",), "age")
    return b.dated("age", args.birth, args.as_of, (args.at_least, args.at_most))


def _age_text(cond: Age) -> list[str]:
    args = cond.age
    bounds = _bound_words(args.at_least, args.at_most)
    return [f"the age from {args.birth} on {args.as_of} is {bounds}"]


def _compile_between(b: Builder, cond: Between, path: PathKey) -> Triple:
    args = cond.between
    fact = b.typed(args.fact, (*path, "between", "fact"), ("number",), "between")
    for end in ("min", "max"):
        value = getattr(args, end)
        if fact is not None and not _within_bounds(fact, value):
            return b.fail((*path, "between", end), _outside(args.fact, fact, value))
    low, high = b.constant(args.min), b.constant(args.max)
    return b.test(
        args.fact,
        f"{low} <= {{v}} <= {high}",
        f"{{label}} ({{value}}) is not between {args.min} and {args.max}",
    )


def _compile_some(b: Builder, cond: Some, path: PathKey) -> Triple:
    return b.some(cond.some.of, cond.some.where, (*path, "some"))


def _compile_count(b: Builder, cond: Count, path: PathKey) -> Triple:
    args = cond.count
    bounds = (args.at_least, args.at_most)
    return b.count(args.of, args.where, args.distinct, bounds, (*path, "count"))


def _count_text(cond: Count) -> list[str]:
    args = cond.count
    what = f"different {args.distinct} of {args.of}" if args.distinct else f"records of {args.of}"
    bounds = _bound_words(args.at_least, args.at_most)
    if args.where is None:
        return [f"the number of {what} is {bounds}"]
    inner = condition_text(args.where)
    return [f"the number of {what} that have:", *(f"  {x}" for x in inner), f"is {bounds}"]


def _compile_none(b: Builder, cond: NoRecord, path: PathKey) -> Triple:
    return b.some(cond.none.of, cond.none.where, (*path, "none"), "none")


def _compile_every(b: Builder, cond: Every, path: PathKey) -> Triple:
    return b.some(cond.every.of, cond.every.where, (*path, "every"), "every")


def _quantified_text(words: str, args: Quantifier) -> list[str]:
    inner = condition_text(args.where)
    return [f"{words} record of {args.of} has:", *(f"  {x}" for x in inner)]


def _compile_other_line(b: Builder, cond: OtherLine, path: PathKey) -> Triple:
    args = cond.other_line
    return b.other_line(
        args.service, args.where, " ".join(args.note.split()), (*path, "other_line")
    )


def _other_line_text(cond: OtherLine) -> list[str]:
    inner = condition_text(cond.other_line.where)
    head = f"some other line, decided as {cond.other_line.service}, has:"
    return [head, *(f"  {x}" for x in inner)]


def _compile_use(b: Builder, cond: Use, path: PathKey) -> Triple:
    return b.named(cond.use, (*path, "use"))


def _compile_constant(b: Builder, cond: Constant, path: PathKey) -> Triple:
    return ("_M" if cond.constant else "_N", "()", "()")


def _some_text(cond: Some) -> list[str]:
    return _quantified_text("some", cond.some)


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in [
        Operator(
            "all",
            All,
            _compile_junction,
            _junction_text,
            "all: [{is_true: visit.documented}, {present: visit.date}]",
            _junction_parts,
        ),
        Operator(
            "any",
            Any_,
            _compile_junction,
            _junction_text,
            "any: [{equals: {fact: visit.status, value: completed}}, {present: visit.date}]",
            _junction_parts,
        ),
        Operator(
            "not",
            Not,
            _compile_not,
            _not_text,
            "not: {is_true: service.repeat_request}",
            lambda c: [(c.not_, ("not",))],
        ),
        Operator(
            "equals",
            Equals,
            _compile_equals,
            lambda c: [f"{c.equals.fact} is {_value(c.equals.value)}"],
            example="equals: {fact: visit.kind, value: in_person}  # a number: value: 1",
        ),
        Operator(
            "at_least_of",
            AtLeastOf,
            _compile_at_least_of,
            _at_least_of_text,
            "at_least_of: {count: 2, of: [{is_true: history.tried_a},\n"
            "  {is_true: history.tried_b}, {is_true: history.tried_c}]}",
            _at_least_of_parts,
        ),
        Operator(
            "one_of",
            OneOf,
            _compile_one_of,
            lambda c: [f"{c.one_of.fact} is one of {', '.join(c.one_of.values)}"],
            example="one_of: {fact: visit.kind, values: [in_person, video]}",
        ),
        Operator(
            "is_true",
            IsTrue,
            _compile_is_true,
            lambda c: [f"{c.is_true} is true"],
            "is_true: visit.documented",
        ),
        Operator(
            "present",
            Present,
            _compile_present,
            lambda c: [f"{c.present} is given"],
            "present: visit.notes",
        ),
        Operator(
            "stated",
            Stated,
            _compile_stated,
            lambda c: [f"the case itself gives {c.stated} (not by its default)"],
            example="stated: service.repeat_request",
        ),
        Operator(
            "in_code_set",
            InCodeSet,
            _compile_in_code_set,
            lambda c: [f"{c.in_code_set.fact} has a code in {c.in_code_set.code_set}"],
            example="in_code_set: {fact: patient.diagnoses, code_set: qualifying_diagnoses}",
        ),
        Operator(
            "same_as",
            SameAs,
            _compile_two_facts(
                "same_as", ("identifier", "choice", "date", "number", "code"), "==", ""
            ),
            lambda c: [f"{c.same_as.fact} is the same as {c.same_as.other}"],
            example="same_as: {fact: service.prescriber_id, other: visit.prescriber_id}",
        ),
        Operator(
            "before",
            Before,
            _compile_date_order("before", "<", "before"),
            _date_order_text("before", "before"),
            example="before: {fact: visit.date, other: service.date}",
        ),
        Operator(
            "after",
            After,
            _compile_date_order("after", ">", "after"),
            _date_order_text("after", "after"),
            example="after: {fact: service.date, other: visit.date}",
        ),
        Operator(
            "on_or_before",
            OnOrBefore,
            _compile_date_order("on_or_before", "<=", "on or before"),
            _date_order_text("on_or_before", "on or before"),
            "on_or_before: {fact: visit.date, value: 2025-12-31}",
        ),
        Operator(
            "on_or_after",
            OnOrAfter,
            _compile_date_order("on_or_after", ">=", "on or after"),
            _date_order_text("on_or_after", "on or after"),
            "on_or_after: {fact: service.date, other: visit.date}",
        ),
        Operator(
            "within",
            Within,
            _compile_within,
            _within_text,
            "within: {fact: test.date, months: 6, before: service.date}",
        ),
        Operator(
            "duration",
            Duration,
            _compile_duration,
            _duration_text,
            "duration: {from: trial.start, to: trial.end, at_least: {weeks: 12}}",
        ),
        Operator(
            "age",
            Age,
            _compile_age,
            _age_text,
            "age: {birth: patient.birth_date, as_of: service.date, at_least: 18}",
        ),
        Operator(
            "at_least",
            AtLeast,
            _compile_comparison("at_least", ">=", "at least"),
            _compare_text("at least"),
            example="at_least: {fact: study.ahi, value: 15}",
        ),
        Operator(
            "at_most",
            AtMost,
            _compile_comparison("at_most", "<=", "at most"),
            _compare_text("at most"),
            example="at_most: {fact: test.pao2, value: 55}",
        ),
        Operator(
            "greater_than",
            GreaterThan,
            _compile_comparison("greater_than", ">", "greater than"),
            _compare_text("greater than"),
            example="greater_than: {fact: test.fev1, other: test.baseline}",
        ),
        Operator(
            "less_than",
            LessThan,
            _compile_comparison("less_than", "<", "less than"),
            _compare_text("less than"),
            example="less_than: {fact: test.spo2, value: 89}",
        ),
        Operator(
            "between",
            Between,
            _compile_between,
            lambda c: [f"{c.between.fact} is between {c.between.min} and {c.between.max}"],
            example="between: {fact: test.pao2, min: 56, max: 59}",
        ),
        Operator(
            "some",
            Some,
            _compile_some,
            _some_text,
            "some: {of: visits, where: {equals: {fact: visit.kind, value: in_person}}}",
        ),
        Operator(
            "none",
            NoRecord,
            _compile_none,
            lambda c: _quantified_text("no", c.none),
            "none: {of: drugs, where: {equals: {fact: drug.kind, value: biologic}}}",
        ),
        Operator(
            "every",
            Every,
            _compile_every,
            lambda c: _quantified_text("every", c.every),
            "every: {of: drugs, where: {at_least: {fact: drug.weeks, value: 12}}}",
        ),
        Operator(
            "count",
            Count,
            _compile_count,
            _count_text,
            "count: {of: drugs, distinct: drug.name, at_least: 2,\n"
            "  where: {at_least: {fact: drug.weeks, value: 12}}}",
        ),
        Operator(
            "other_line",
            OtherLine,
            _compile_other_line,
            _other_line_text,
            "other_line: {service: follow_up, note: a follow-up is on the same claim,\n"
            "  where: {same_as: {fact: other.date, other: service.date}}}",
        ),
        Operator(
            "use",
            Use,
            _compile_use,
            lambda c: [f"{c.use} (a named condition)"],
            "use: adult-patient   # conditions: {adult-patient: {age: {birth: ..., at_least: 18}}}",
        ),
        Operator(
            "constant",
            Constant,
            _compile_constant,
            lambda c: ["always" if c.constant else "never"],
            example="constant: false",
        ),
    ]
}
"""Operator name -> its definition; the one key of a condition mapping picks the operator."""

_BY_MODEL = {op.model: name for name, op in OPERATORS.items()}


def operator_of(value: Any) -> str | None:
    """The operator a condition (a mapping or a parsed model) uses, if it has exactly one."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    if isinstance(value, BaseModel):
        return _BY_MODEL.get(type(value))
    return None


Condition = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[Any_, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Equals, Tag("equals")]
    | Annotated[AtLeastOf, Tag("at_least_of")]
    | Annotated[OneOf, Tag("one_of")]
    | Annotated[IsTrue, Tag("is_true")]
    | Annotated[Present, Tag("present")]
    | Annotated[Stated, Tag("stated")]
    | Annotated[InCodeSet, Tag("in_code_set")]
    | Annotated[SameAs, Tag("same_as")]
    | Annotated[Before, Tag("before")]
    | Annotated[After, Tag("after")]
    | Annotated[OnOrBefore, Tag("on_or_before")]
    | Annotated[OnOrAfter, Tag("on_or_after")]
    | Annotated[Within, Tag("within")]
    | Annotated[Duration, Tag("duration")]
    | Annotated[Age, Tag("age")]
    | Annotated[AtLeast, Tag("at_least")]
    | Annotated[AtMost, Tag("at_most")]
    | Annotated[GreaterThan, Tag("greater_than")]
    | Annotated[LessThan, Tag("less_than")]
    | Annotated[Between, Tag("between")]
    | Annotated[Some, Tag("some")]
    | Annotated[NoRecord, Tag("none")]
    | Annotated[Count, Tag("count")]
    | Annotated[Every, Tag("every")]
    | Annotated[OtherLine, Tag("other_line")]
    | Annotated[Use, Tag("use")]
    | Annotated[Constant, Tag("constant")],
    Discriminator(
        operator_of,
        custom_error_type="condition_shape",
        custom_error_message="a condition is a mapping with exactly one operator",
    ),
]

for _model in (
    All,
    Any_,
    Not,
    CountOf,
    AtLeastOf,
    Quantifier,
    Some,
    NoRecord,
    Every,
    Counting,
    Count,
    OtherLines,
    OtherLine,
):
    _model.model_rebuild()
