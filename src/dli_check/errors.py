"""The two errors users see: a bad rule file and a bad case.

Both are one line for a person: where (file, line:column or field path) and what is wrong.
Neither ever carries a case's content: case files hold health information.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dli_check.inert import terminal


class DliCheckError(Exception):
    """Base of every error dli-check raises on purpose."""


PathKey = tuple[str | int, ...]
"""A field path as data: ``("services", 0, "code")``."""


@dataclass(frozen=True)
class Problem:
    """One problem in a rule file (or a suite): its field path as data, what is wrong, and
    where it is, file, line and column (1-based; 0 until it is located, as for a problem
    the compiler finds in the validated model: `RuleFileError` is raised located).

    >>> str(Problem(("services", 0, "id"), "defined twice", "r.yaml", 12, 9))
    'r.yaml:12:9: services[0].id: defined twice'
    """

    path: PathKey
    message: str
    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        # Rule files and their names are untrusted: no line break or escape of theirs is
        # ever printed as such.
        where = f"{self.file}:{self.line}:{self.column}"
        path = format_path(self.path)
        return terminal(f"{where}: {path}: {self.message}" if path else f"{where}: {self.message}")


class RuleFileError(DliCheckError):
    """A rule file that cannot be used; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        first = self.problems[0]
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{first}{suffix}")


class RuleProblems(DliCheckError):
    """Rule-file problems found together in the validated model, each with its path as
    data and not yet located: the loader raises them as a `RuleFileError`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def format_path(path: PathKey) -> str:
    """``("services", 0, "cpt")`` -> ``services[0].cpt``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class CaseProblem:
    """One problem in a case: its field path as data, the problem in words (never the
    value given), and, where the case was JSON text, the line and column (1-based)."""

    path: PathKey
    message: str
    kind: str = "invalid_case"
    line: int | None = None
    column: int | None = None
    key: str | None = field(default=None, repr=False, compare=False)
    """The key an unknown-field problem is about: used to locate it, never shown."""

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line is not None else ""
        return (
            f"{where}{format_path(self.path)}: {self.message}"
            if self.path
            else (f"{where}{self.message}")
        )

    def as_json(self) -> dict[str, object]:
        """The problem as a JSON object: path, message, line and column."""
        return {
            "path": format_path(self.path),
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }


def best_match(problems: list[CaseProblem]) -> CaseProblem:
    """The problem to show first: the one highest up in the case (the shortest path),
    and of those the first found, as python-jsonschema's ``best_match`` prefers the error
    that is least deep. A missing ``services`` says more than a bad date in one line."""
    return min(enumerate(problems), key=lambda item: (len(item[1].path), item[0]))[1]


class CaseError(DliCheckError):
    """A case that breaks the case format: it never yields a decision.

    `problems` lists every problem found, each with its path as data; `str()` is one
    line: the source, the most relevant problem (`best_match`), and how many more.
    """

    def __init__(self, source: str, problems: list[CaseProblem]) -> None:
        self.source = source
        self.problems = problems
        self.headline = best_match(problems)
        where = terminal(source)  # a file name can hold a line break or an escape sequence
        super().__init__(f"{where}:{'' if self.headline.line is not None else ' '}{self.detail}")

    @classmethod
    def one(
        cls,
        source: str,
        message: str,
        *,
        path: PathKey = (),
        kind: str = "invalid_case",
        line: int | None = None,
        column: int | None = None,
    ) -> CaseError:
        """A CaseError with a single problem."""
        return cls(source, [CaseProblem(path, message, kind, line, column)])

    @property
    def kind(self) -> str:
        """What kind of problem: ``invalid_json``, ``invalid_case``, ``too_large``..."""
        return self.headline.kind

    @property
    def path(self) -> str:
        """The headline problem's field path (``services[0].cpt``); empty for the case."""
        return format_path(self.headline.path)

    @property
    def detail(self) -> str:
        """The message without the source: the headline problem, and how many more."""
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        return f"{self.headline}{suffix}"
