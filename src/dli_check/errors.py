"""The two errors users see: a bad rule file and a bad case.

Both are one line for a person: where (file, line:column or field path) and what is wrong.
Neither ever carries a case's content: case files hold health information.
"""

from __future__ import annotations

from dataclasses import dataclass


class DliCheckError(Exception):
    """Base of every error dli-check raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem in a rule file, located by line and column (1-based) and a field path."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RuleFileError(DliCheckError):
    """A rule file that cannot be used; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        first = self.problems[0]
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{first}{suffix}")


class CaseError(DliCheckError):
    """A case that breaks the case format: it never yields a decision.

    `path` is the field path (``services[0].cpt``), empty for the whole case; `line` and
    `column` are set when the problem is in the JSON text itself.
    """

    def __init__(
        self,
        source: str,
        path: str,
        message: str,
        *,
        kind: str = "invalid_case",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.message = message
        self.kind = kind
        self.line = line
        self.column = column
        separator = ":" if line is not None else ": "
        super().__init__(f"{source}{separator}{self.detail}")

    @property
    def detail(self) -> str:
        """The message without the source: ``services[0].cpt: ...`` or ``3:7: invalid JSON``."""
        if self.line is not None:
            return f"{self.line}:{self.column}: {self.message}"
        return f"{self.path}: {self.message}" if self.path else self.message
