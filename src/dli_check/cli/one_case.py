"""``dli-check CASE.json``: decide one case and write it for a reviewer (text, or an HTML
worksheet), as JSON, or as the questionnaire of what is missing.

It is the command without its parser: `cli` calls it after Typer parsed the arguments,
and `__main__` calls it straight away for the plain forms (`parse_plain`), since a
command-line parser costs about as much as deciding the case.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Required, TypedDict, cast

from dli_check.errors import CaseError, CaseProblem, DliCheckError, RuleFileError
from dli_check.exit_codes import (
    EXIT_INVALID_CASE,
    EXIT_NOT_APPROVED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_USAGE,
)
from dli_check.inert import terminal, terminal_json

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult, Detail

FORMATS = ("text", "json", "questionnaire", "html")
DETAILS = ("full", "decisions")
APPROVED = frozenset({"medically_necessary", "not_applicable"})
"""Case decisions that --fail-unless-approved lets pass: a line the guideline does not
govern is never a failure."""
COMMANDS = (
    "check",
    "batch",
    "diff",
    "schema",
    "rules",
    "log",
    "questionnaire",
    "serve",
    "report",
)
"""The command names: ``dli-check NAME`` runs a command, never a case file named so."""


class Failed(Exception):
    """The command stops: its message (already said) and exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def say(message: str) -> None:
    """One line on standard error: never wrapped, never styled, and inert (a file name
    with a newline or an escape sequence in it cannot forge or colour a line)."""
    print(f"dli-check: {terminal(message)}", file=sys.stderr)


def fail(message: str, code: int = EXIT_USAGE) -> Failed:
    """Say why the command stops; the exception to raise."""
    say(message)
    return Failed(code)


def check_case(
    case: str,
    *,
    format: str = "text",
    detail: str = "full",
    rules_path: Path | None = None,
    fail_unless_approved: bool = False,
    output: str = "-",
) -> int:
    """Decide the case file `case` (``-``: standard input) and write it to `output`
    (``-``: standard output; a file is written whole or not at all); the exit code.
    Raises `Failed` after saying why."""
    from dli_check.api import evaluate, load_rules
    from dli_check.files import MAX_CASE_FILE_BYTES, read_at_most

    if detail == "decisions" and format != "json":
        raise fail("--detail decisions needs --format json")
    try:
        rules = load_rules(rules_path)
    except RuleFileError as exc:
        for problem in exc.problems:
            say(str(problem))
        raise Failed(EXIT_USAGE) from None
    if rules_path is None:
        _note_a_changed_checkout_copy()
    try:
        if case == "-":
            raw = read_at_most(sys.stdin.buffer, MAX_CASE_FILE_BYTES + 1)
            result = evaluate(raw, rules, source="<stdin>")
        elif Path(case).is_file():
            result = evaluate(Path(case), rules)
        else:
            raise fail(f"{case}: {'not a file' if Path(case).exists() else 'no such file'}")
    except CaseError as exc:
        said = str(exc)
        if rules_path is None and any(_undeclared(p) for p in exc.problems):
            said += (
                f" (checked against the installed {rules.guideline_id} rule file; "
                "--rules chooses another)"
            )
        raise fail(said, EXIT_INVALID_CASE) from None
    except DliCheckError as exc:  # FHIR input without the fhir extra, a bad FHIRPath
        raise fail(str(exc)) from None
    if output != "-" or format == "html":
        write_whole(_rendered(result, rules, format, detail), output)
    else:
        try:
            if format == "json":
                text = result.to_json(detail=cast("Detail", detail))
                sys.stdout.write((terminal_json(text) if sys.stdout.isatty() else text) + "\n")
            elif format == "questionnaire":
                sys.stdout.write(_rendered(result, rules, format, detail))
            else:
                from dli_check.outputs.report import write_report

                write_report(result, rules, sys.stdout)
            sys.stdout.flush()
        except OSError as exc:
            from dli_check.outputs.writer import write_failure

            raise fail(write_failure("<stdout>", exc), EXIT_OUTPUT_FAILED) from None
    if fail_unless_approved and result.decision not in APPROVED:
        return EXIT_NOT_APPROVED
    return EXIT_OK


def _rendered(result: CaseResult, rules: Decider, format: str, detail: str) -> str:
    """A result as the text a file gets (plain text, never coloured)."""
    if format == "json":
        return result.to_json(detail=cast("Detail", detail)) + "\n"
    if format == "questionnaire":
        import json

        from dli_check.interop.questionnaires import questionnaire

        return json.dumps(questionnaire(rules, result), indent=2, ensure_ascii=False) + "\n"
    if format == "html":
        from dli_check.outputs.worksheet import ReportSupportMissing, decided_today, worksheet

        try:
            return worksheet(result, rules, decided_today())
        except ReportSupportMissing as exc:
            raise fail(str(exc)) from None
    from dli_check.outputs.report import plain, result_lines

    return "".join(plain(line) + "\n" for line in result_lines(result, rules, symbols=False))


def write_whole(text: str, output: str) -> None:
    """Write all of `text` to `output`: a file appears whole, or not at all."""
    from dli_check.outputs.writer import open_output, write_failure

    try:
        out = open_output(output)
    except OSError as exc:
        raise fail(write_failure(output, exc), EXIT_OUTPUT_FAILED) from None
    try:
        out.write(text.encode("utf-8", "backslashreplace"))
        out.commit()
    except OSError as exc:
        out.abandon()
        raise fail(write_failure(output, exc), EXIT_OUTPUT_FAILED) from None


_OPTIONS = {
    "--format": "format",
    "-f": "format",
    "--detail": "detail",
    "--rules": "rules_path",
    "--output": "output",
    "-o": "output",
}


class Plain(TypedDict, total=False):
    """The arguments of a plain ``dli-check CASE.json``, as `check_case` takes them."""

    case: Required[str]
    format: str
    detail: str
    rules_path: Path
    fail_unless_approved: bool
    output: str


def parse_plain(args: list[str]) -> Plain | None:
    """The arguments of ``dli-check CASE [--format F] [--detail D] [--rules PATH]
    [--fail-unless-approved]`` as `check_case` takes them; None for anything else (help,
    a command, an unknown or repeated option, a value the option does not take), which is
    the command-line parser's to answer.

    >>> parse_plain(["case.json", "--format=json"])
    {'case': 'case.json', 'format': 'json'}
    >>> parse_plain(["case.json", "--format", "yaml"]) is None
    True
    """
    if not args or args[0] in COMMANDS or (args[0][:1] == "-" and args[0] != "-"):
        return None
    parsed: dict[str, object] = {"case": args[0]}  # checked below, option by option
    rest = args[1:]
    while rest:
        option, *rest = rest
        name, equals, value = option.partition("=")
        if option == "--fail-unless-approved" and "fail_unless_approved" not in parsed:
            parsed["fail_unless_approved"] = True
            continue
        key = _OPTIONS.get(name if equals and name.startswith("--") else option)
        if key is None or key in parsed:
            return None
        if not equals:
            if not rest:
                return None
            value, *rest = rest
        if value[:1] == "-":  # an option's value, or a missing value: the parser's to say
            return None
        if key == "rules_path":
            if not value:
                return None
            parsed[key] = Path(value)
        elif key == "output":
            if not value:
                return None
            parsed[key] = value
        elif value in (FORMATS if key == "format" else DETAILS):
            parsed[key] = value
        else:
            return None
    return cast(Plain, parsed)


def _undeclared(problem: CaseProblem) -> bool:
    """Whether a case problem is a field the rule file does not declare."""
    return problem.key is not None or problem.message == "is not a known field"


def _note_a_changed_checkout_copy() -> None:
    """In a checkout, a rule file edited under ``rules/`` is not the one used: say so."""
    from dli_check.engine.about import bundled_rules_path

    installed = bundled_rules_path()
    here = Path("rules") / installed.name
    try:
        changed = here.is_file() and here.read_bytes() != installed.read_bytes()
    except OSError:
        return
    if changed:
        say(
            f"note: {here} differs from the installed copy, which is used; "
            f"--rules {here} uses it (or reinstall)"
        )
