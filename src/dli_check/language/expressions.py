"""Derived numbers: formulas a rule file writes over number facts, parsed into a small
expression tree, never evaluated as Python text.

A formula is numbers (optionally with a unit word: ``28 days``), facts (``dose.mg``),
``+ - * /``, parentheses, and the functions ``min(a, b, ...)``, ``max(a, b, ...)`` and
``round(x)`` / ``round(x, digits)`` (half away from zero, not Python's banker's rounding):

>>> tree = parse("dose.mg * 28 days / dose.every_days")
>>> text(tree)
'dose.mg * 28 days / dose.every_days'
>>> references(tree)
('dose.mg', 'dose.every_days')
>>> str(unit_of(tree, {"dose.mg": "mg", "dose.every_days": "days"}.get))
'mg'
>>> parse("dose.mg * (2")
Traceback (most recent call last):
...
dli_check.language.expressions.FormulaError: at character 13: expected ')', found the end

Units are checked as the formula is read: ``+``, ``-``, ``min`` and ``max`` take numbers of
one unit (a number written without a unit takes the other side's), ``*`` and ``/``
multiply and divide units (``mg * days / days`` is ``mg``). A fact declared without a unit
has none (a score, a count).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

MAX_LENGTH = 500
"""Characters a formula may have."""
MAX_DEPTH = 32
"""How deeply a formula may nest: a tree is compiled by recursion."""
FUNCTIONS = ("min", "max", "round")


class FormulaError(ValueError):
    """A formula that cannot be read, or whose units do not agree; the message says where
    (``at character N``) and what."""


@dataclass(frozen=True)
class Num:
    """A number of the formula, with its unit word if it has one (``28 days``)."""

    value: Fraction
    unit: str | None
    written: str


@dataclass(frozen=True)
class Ref:
    """A number fact (``dose.mg``)."""

    path: str


@dataclass(frozen=True)
class BinOp:
    """``left op right``, op one of ``+ - * /``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    """``-operand``."""

    operand: Node


@dataclass(frozen=True)
class Call:
    """``min``, ``max`` or ``round`` of its arguments."""

    function: str
    args: tuple[Node, ...]


Node = Union[Num, Ref, BinOp, Neg, Call]  # noqa: UP007 (a runtime alias of dataclasses)

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[0-9]+(?:\.[0-9]+)?)|(?P<path>[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)"
    r"|(?P<word>[A-Za-z%][A-Za-z0-9_%]*)|(?P<op>[-+*/(),]))",
    re.ASCII,
)


def _tokens(formula: str) -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    at = 0
    while at < len(formula):
        if formula[at:].strip() == "":
            break
        match = _TOKEN.match(formula, at)
        if match is None or match.lastgroup is None:
            start = len(formula) - len(formula[at:].lstrip())
            raise FormulaError(f"at character {start + 1}: {formula[start]!r} is not understood")
        found.append((match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup)))
        at = match.end()
    return found


class _Parser:
    def __init__(self, formula: str) -> None:
        self.formula = formula
        self.tokens = _tokens(formula)
        self.at = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def where(self) -> int:
        token = self.peek()
        return (token[2] if token else len(self.formula)) + 1

    def fail(self, expected: str) -> FormulaError:
        token = self.peek()
        found = f"{token[1]!r}" if token else "the end"
        return FormulaError(f"at character {self.where()}: expected {expected}, found {found}")

    def take(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] == text:
            self.at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.take(text):
            raise self.fail(repr(text))

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"at character {self.where()}: nested more than {MAX_DEPTH} deep")
        node = self.term()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.at += 1
            node = BinOp(token[1], node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            self.at += 1
            node = BinOp(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("-"):
            return Neg(self.unary())
        return self.atom()

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("a number, a fact or '('")
        kind, value, _ = token
        if kind == "num":
            self.at += 1
            unit = None
            after = self.peek()
            if after is not None and after[0] == "word" and after[1] not in FUNCTIONS:
                unit = after[1]
                self.at += 1
            return Num(Fraction(value), unit, f"{value} {unit}" if unit else value)
        if kind == "path":
            self.at += 1
            return Ref(value)
        if kind == "word" and value in FUNCTIONS:
            self.at += 1
            self.expect("(")
            args = [self.expression()]
            while self.take(","):
                args.append(self.expression())
            self.expect(")")
            return _call(value, tuple(args), token[2] + 1)
        if self.take("("):
            node = self.expression()
            self.expect(")")
            return node
        raise self.fail("a number, a fact or '('")


def _call(function: str, args: tuple[Node, ...], at: int) -> Call:
    if function == "round":
        if len(args) > 2:
            raise FormulaError(f"at character {at}: round takes a number and how many digits")
        if len(args) == 2:
            digits = args[1]
            if not (
                isinstance(digits, Num) and digits.unit is None and digits.value.denominator == 1
            ):
                raise FormulaError(f"at character {at}: round's digits are a whole number")
    elif len(args) < 2:
        raise FormulaError(f"at character {at}: {function} takes two numbers or more")
    return Call(function, args)


def parse(formula: str) -> Node:
    """The tree of a formula; `FormulaError` says where it cannot be read."""
    if len(formula) > MAX_LENGTH:
        raise FormulaError(f"longer than {MAX_LENGTH} characters")
    parser = _Parser(formula)
    node = parser.expression()
    if parser.peek() is not None:
        raise parser.fail("an operator or the end")
    return node


def references(node: Node) -> tuple[str, ...]:
    """The facts a formula reads, each once, in the order written."""
    found: dict[str, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            found[n.path] = None
        elif isinstance(n, BinOp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Neg):
            walk(n.operand)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    walk(node)
    return tuple(found)


def divides_by_zero(node: Node) -> bool:
    """Whether the formula divides by a written 0 somewhere."""
    if isinstance(node, BinOp):
        zero = node.op == "/" and isinstance(node.right, Num) and node.right.value == 0
        return zero or divides_by_zero(node.left) or divides_by_zero(node.right)
    if isinstance(node, Neg):
        return divides_by_zero(node.operand)
    if isinstance(node, Call):
        return any(divides_by_zero(a) for a in node.args)
    return False


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def text(
    node: Node,
    show: Callable[[str], str] | None = None,
    *,
    number: Callable[[Num], str] | None = None,
    function: Callable[[str], str] | None = None,
) -> str:
    """The formula in its normal form, with no more parentheses than it needs. `show`
    writes a fact (its path by default), `number` a number (as written), `function` a
    function's name. The compiler writes
    Python with it too: Python's operators have the same precedence."""
    shown = show or (lambda path: path)
    numeral = number or (lambda n: n.written)
    named = function or (lambda name: name)

    def write(n: Node, outer: int = 0, right: bool = False) -> str:
        if isinstance(n, Num):
            return numeral(n)
        if isinstance(n, Ref):
            return shown(n.path)
        if isinstance(n, Neg):
            return f"-{write(n.operand, 3)}"
        if isinstance(n, Call):
            return f"{named(n.function)}({', '.join(write(a) for a in n.args)})"
        level = _PRECEDENCE[n.op]
        body = f"{write(n.left, level)} {n.op} {write(n.right, level, True)}"
        return f"({body})" if level < outer or (right and level == outer) else body

    return write(node)


@dataclass(frozen=True)
class Unit:
    """A product of unit words with powers: ``mg``, ``mg/days``; none for a pure number."""

    powers: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, word: str | None) -> Unit:
        """A declared unit, taken whole (``events/hour`` is one word)."""
        return cls(((word, 1),)) if word else cls()

    def times(self, other: Unit, sign: int = 1) -> Unit:
        """This unit multiplied by `other` (divided, with sign -1)."""
        powers: Counter[str] = Counter(dict(self.powers))
        for word, power in other.powers:
            powers[word] += sign * power
        return Unit(tuple(sorted((w, p) for w, p in powers.items() if p)))

    def __str__(self) -> str:
        up = [w if p == 1 else f"{w}^{p}" for w, p in self.powers if p > 0]
        down = [w if p == -1 else f"{w}^{-p}" for w, p in self.powers if p < 0]
        return "/".join(["*".join(up) or ("1" if down else ""), *down])


def unit_of(node: Node, unit: Callable[[str], str | None]) -> Unit:
    """The unit a formula gives, from each fact's declared `unit`; `FormulaError` when it
    adds, subtracts or takes the least or greatest of numbers of different units."""
    found = _unit(node, unit)
    return found if found is not None else Unit()


def _unit(node: Node, unit: Callable[[str], str | None]) -> Unit | None:
    """None: a number written without a unit, which takes the unit it meets."""
    if isinstance(node, Num):
        return Unit.of(node.unit) if node.unit else None
    if isinstance(node, Ref):
        return Unit.of(unit(node.path))
    if isinstance(node, Neg):
        return _unit(node.operand, unit)
    if isinstance(node, Call):
        if node.function == "round":
            return _unit(node.args[0], unit)
        return _same(node.function, [_unit(a, unit) for a in node.args], node.args)
    left, right = _unit(node.left, unit), _unit(node.right, unit)
    if node.op in ("*", "/"):
        sign = 1 if node.op == "*" else -1
        return (left or Unit()).times(right or Unit(), sign)
    return _same(f"'{node.op}'", [left, right], (node.left, node.right))


def _same(what: str, units: list[Unit | None], args: tuple[Node, ...]) -> Unit | None:
    known = [(u, a) for u, a in zip(units, args, strict=True) if u is not None]
    for u, a in known[1:]:
        if u != known[0][0]:
            first, other = text(known[0][1]), text(a)
            raise FormulaError(
                f"{what} combines {first} ({str(known[0][0]) or 'no unit'}) "
                f"with {other} ({str(u) or 'no unit'}): their units differ"
            )
    return known[0][0] if known else None
