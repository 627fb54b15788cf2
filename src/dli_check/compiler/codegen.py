"""What the two code generators share (the case validator and each service's criteria):
values of the rule file passed in as named constants, each shown in a comment, and source
compiled so that a traceback through it shows its lines. A generated function remembers
how it was made, so that compiled rules can be cached (`dli_check.engine.cache`): pickle cannot
name it, but it can make it again.

Rule files are untrusted: their text reaches generated source only as Python literals
written by `repr`, inside comments too, and names in the source come only from a safe
pattern. `check_source` holds every source to that before it is compiled: a comment the
generator did not write, a string literal not in `repr`'s own form, or a name outside the
pattern is refused (`UnsafeSource`), and nothing of it runs.
"""

from __future__ import annotations

import hashlib
import io
import keyword
import linecache
import re
import tokenize
from ast import literal_eval
from collections.abc import Callable, Collection
from functools import lru_cache
from types import FunctionType
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}", re.ASCII)
_COMMENT_TEXT = re.compile(r"[ -~]*", re.ASCII)


class UnsafeSource(Exception):
    """Generated source that holds something its generator did not write as data: a bug
    in dli-check, never to be compiled."""


def identifier(text: str) -> str:
    """`text` as a name in generated code; it must already be one of the safe pattern
    (ASCII letters, digits and underscores, not a keyword). Raises `UnsafeSource` for
    anything else.

    >>> identifier("record_date")
    'record_date'
    >>> identifier("x\\nimport os")
    Traceback (most recent call last):
    ...
    dli_check.compiler.codegen.UnsafeSource: not a safe name for generated code
    """
    if not _NAME.fullmatch(text) or keyword.iskeyword(text):
        raise UnsafeSource("not a safe name for generated code")
    return text


def describe_constant(value: object) -> str:
    """A constant of generated code, as the comment shows it: every piece of text a rule
    file gave is written by `repr`, so no character of it can end the comment.

    >>> describe_constant(frozenset({"b", "a\\nimport os"}))
    "one of 'a\\\\nimport os', 'b'"
    """
    if isinstance(value, frozenset):
        return "one of " + ", ".join(sorted(map(repr, value)))
    name = getattr(value, "name", None) or getattr(value, "__name__", None)
    if isinstance(name, str) and not isinstance(value, str | int | float):
        return f"{type(value).__name__} {name!r}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Constants:
    """Named constants for generated code (the same value gets the same name), and the
    comments the generator writes, kept so that `check_source` knows them."""

    def __init__(self, prefix: str, namespace: dict[str, object]) -> None:
        self.prefix, self.namespace = prefix, namespace
        self.values: list[tuple[str, object]] = []
        self.written: set[str] = set()
        """Every comment line this generator wrote (without leading spaces)."""

    def name(self, value: object) -> str:
        """The name that stands for `value` in the generated code."""
        for name, known in self.values:
            if known is value or (type(known) is type(value) and known == value):
                return name
        name = f"{self.prefix}{len(self.values)}"
        self.namespace[name] = value
        self.values.append((name, value))
        return name

    def comment(self, text: str) -> str:
        """A comment line of generated code; `text` is the generator's own words with any
        rule-file text already written by `repr` (printable ASCII only, so nothing in it
        can end the line)."""
        line = "# " + text.encode("ascii", "backslashreplace").decode("ascii")
        if not _COMMENT_TEXT.fullmatch(line):
            raise UnsafeSource("a comment of generated code holds a control character")
        self.written.add(line)
        return line

    def comments(self) -> list[str]:
        """One comment line per constant, showing its value."""
        return [self.comment(f"{name} = {describe_constant(v)}") for name, v in self.values]


def check_source(source: str, comments: Collection[str]) -> None:
    """Refuse generated source (`UnsafeSource`) unless every comment in it is one of
    `comments` (those its generator wrote), every string literal is in the form `repr`
    writes, no f-string appears, and every name is of the safe pattern.

    Source that passed is remembered, with its comments: a rule file compiled again with
    one thing changed (a mutant, an edit) mostly makes the same functions."""
    _check(source, frozenset(comments))


@lru_cache(maxsize=256)
def _check(source: str, comments: frozenset[str]) -> None:
    # A pure function of its arguments, and a refusal raises (never remembered).
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise UnsafeSource(f"generated code does not tokenize: {exc}") from None
    for token in tokens:
        kind, text = token.type, token.string
        if kind == tokenize.COMMENT:
            if text not in comments:
                raise UnsafeSource(f"line {token.start[0]}: a comment the generator did not write")
        elif kind == tokenize.STRING:
            try:
                canonical = repr(literal_eval(text))
            except (ValueError, SyntaxError):
                canonical = None
            if canonical != text:
                raise UnsafeSource(f"line {token.start[0]}: a string literal not written by repr")
        elif kind == tokenize.NAME:
            if not _NAME.fullmatch(text):
                raise UnsafeSource(f"line {token.start[0]}: a name outside the safe pattern")
        elif kind == tokenize.ERRORTOKEN or tokenize.tok_name[kind].startswith("FSTRING"):
            raise UnsafeSource(f"line {token.start[0]}: a token the generator never writes")


def source_name(label: str, source: str) -> str:
    """The file name a generated source is compiled and registered under: unique to the
    source, so that two rule sets never show each other's lines in a traceback."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"<{label} {digest}>"


def compile_function(
    source: str,
    filename: str,
    namespace: dict[str, object],
    function: str,
    comments: Collection[str],
) -> Callable[..., Any]:
    """Check generated source (`check_source`), compile it and return one of its
    functions; the source is registered with `linecache`, so tracebacks show its lines."""
    check_source(source, comments)
    return recompile(source, filename, namespace, function, comments)


def recompile(
    source: str,
    filename: str,
    namespace: dict[str, object],
    function: str,
    comments: Collection[str],
) -> Callable[..., Any]:
    """`compile_function` for source it checked before (read back from the compiled-rules
    cache, which is trusted as Python's own ``__pycache__`` is): not checked again."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    found: Callable[..., Any] = scope[function]  # type: ignore[assignment]
    found.__dict__[_RECIPE] = (source, filename, namespace, function, frozenset(comments))
    return found


_RECIPE = "dli_check_recipe"

Recipe = tuple[str, str, dict[str, object], str, frozenset[str]]


def recipe(value: object) -> Recipe | None:
    """How a generated function was made (the arguments of `compile_function`), or None
    for anything else."""
    if type(value) is not FunctionType:
        return None
    made: Recipe | None = value.__dict__.get(_RECIPE)
    return made
