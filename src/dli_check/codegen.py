"""What the two code generators share (the case validator and each service's criteria):
values of the rule file passed in as named constants, each shown in a comment, and source
compiled so that a traceback through it shows its lines. A generated function remembers
how it was made, so that compiled rules can be cached (`rules_cache`): pickle cannot
name it, but it can make it again."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from types import FunctionType
from typing import Any


def describe_constant(value: object) -> str:
    """A constant of generated code, as the comment that shows it."""
    if isinstance(value, frozenset):
        return "one of " + ", ".join(sorted(map(str, value)))
    name = getattr(value, "name", None) or getattr(value, "__name__", None)
    if isinstance(name, str) and not isinstance(value, str | int | float):
        return f"{type(value).__name__} {name}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Constants:
    """Named constants for generated code: the same value gets the same name."""

    def __init__(self, prefix: str, namespace: dict[str, object]) -> None:
        self.prefix, self.namespace = prefix, namespace
        self.values: list[tuple[str, object]] = []

    def name(self, value: object) -> str:
        """The name that stands for `value` in the generated code."""
        for name, known in self.values:
            if known is value or (type(known) is type(value) and known == value):
                return name
        name = f"{self.prefix}{len(self.values)}"
        self.namespace[name] = value
        self.values.append((name, value))
        return name

    def comments(self) -> list[str]:
        """One comment line per constant, showing its value."""
        return [f"# {name} = {describe_constant(value)}" for name, value in self.values]


def compile_function(
    source: str, filename: str, namespace: dict[str, object], function: str
) -> Callable[..., Any]:
    """Compile generated source and return one of its functions; the source is registered
    with `linecache`, so tracebacks show its lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    found: Callable[..., Any] = scope[function]  # type: ignore[assignment]
    found.__dict__[_RECIPE] = (source, filename, namespace, function)
    return found


_RECIPE = "dli_check_recipe"


def recipe(value: object) -> tuple[str, str, dict[str, object], str] | None:
    """How a generated function was made (the arguments of `compile_function`), or None
    for anything else."""
    if type(value) is not FunctionType:
        return None
    made: tuple[str, str, dict[str, object], str] | None = value.__dict__.get(_RECIPE)
    return made
