"""``dli-check CASE.json`` starts fast: its plain forms skip the command-line parser, and
deciding a case from cached compiled rules loads neither pydantic, YAML, Typer nor rich.
Whichever path runs, the user sees the same bytes and the same exit code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BASE_CASE, ROOT, mutate
from dli_check import evaluate, load_rules
from dli_check.cli.one_case import COMMANDS, parse_plain
from dli_check.outputs.report import write_report

CASES = ROOT / "examples" / "cases"
RELAPSED = str(CASES / "dli-relapsed-aml.json")
MISSING = str(CASES / "dli-missing-information.json")
RULES = str(ROOT / "rules" / "cg-trans-03.yaml")


def _run(argv: list[str], *, parser: bool, stdin: str = "") -> tuple[int, str, str]:
    """Run the console script's entry point, or (`parser`) the Typer command line."""
    start = (
        "from dli_check.cli.commands import run as main"
        if parser
        else "from dli_check.__main__ import main"
    )
    probe = f"import sys\nsys.argv = ['dli-check', *{argv!r}]\n{start}\nmain()\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], input=stdin, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("argv", "stdin", "code"),
    [
        ([RELAPSED], "", 0),
        ([MISSING], "", 0),
        ([RELAPSED, "--format", "json"], "", 0),
        ([RELAPSED, "-f", "json", "--detail", "decisions"], "", 0),
        ([RELAPSED, "--format=json", "--detail=decisions"], "", 0),
        ([MISSING, "--format", "questionnaire"], "", 0),
        ([RELAPSED, "--rules", RULES, "--format", "json"], "", 0),
        ([MISSING, "--fail-unless-approved"], "", 3),
        ([RELAPSED, "--fail-unless-approved"], "", 0),
        (["-", "--format", "json"], json.dumps(BASE_CASE), 0),
        (["-"], json.dumps(mutate({"services.0.code": "3824"})), 1),
        (["-"], "{", 1),
        ([RELAPSED, "--detail", "decisions"], "", 2),
        (["no-such-case.json"], "", 2),
        ([str(CASES)], "", 2),
        ([RELAPSED, "--rules", "no-such-rules.yaml"], "", 2),
    ],
)
def test_the_plain_path_answers_as_the_parser_does(argv: list[str], stdin: str, code: int) -> None:
    assert parse_plain(argv) is not None
    plain = _run(argv, parser=False, stdin=stdin)
    assert plain[0] == code
    assert plain == _run(argv, parser=True, stdin=stdin)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["--version", "x"],
        ["--format", "json", "case.json"],
        *([name, "x"] for name in COMMANDS),
        ["case.json", "--help"],
        ["case.json", "--format", "yaml"],
        ["case.json", "--format"],
        ["case.json", "--format", "json", "--format", "text"],
        ["case.json", "-fjson"],
        ["case.json", "-f=json"],
        ["case.json", "--detail", "all"],
        ["case.json", "--rules"],
        ["case.json", "--rules", "--format"],
        ["case.json", "--rules="],
        ["case.json", "--fail-unless-approved", "--fail-unless-approved"],
        ["case.json", "--", "x"],
        ["case.json", "extra.json"],
        ["case.json", "--workers", "2"],
    ],
)
def test_everything_else_goes_to_the_parser(argv: list[str]) -> None:
    assert parse_plain(argv) is None


def test_commands_are_the_parsers() -> None:
    import typer

    from dli_check.cli.commands import app

    assert set(typer.main.get_command(app).commands) == set(COMMANDS)  # type: ignore[attr-defined]


def test_deciding_one_case_loads_no_parser_pydantic_yaml_or_terminal_library() -> None:
    _run([RELAPSED], parser=False)  # fills the cache
    probe = (
        f"import sys\nsys.argv = ['dli-check', {RELAPSED!r}]\n"
        "from dli_check.__main__ import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = {'typer', 'click', 'pydantic', 'pydantic_core', 'yaml', 'rich', "
        "'dli_check.cli.commands', 'dli_check.language.model', 'dli_check.language.operators'}\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.stdout.endswith("\n[]\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "environment", "symbols", "colour"),
    [
        (io.StringIO, {}, False, False),
        (_Terminal, {}, True, True),
        (_Terminal, {"NO_COLOR": "1"}, True, False),
        (_Terminal, {"TERM": "dumb"}, True, False),
    ],
)
def test_the_report_is_plain_off_a_terminal(
    stream: type[io.StringIO],
    environment: dict[str, str],
    symbols: bool,
    colour: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = stream()
    write_report(evaluate(Path(MISSING)), None, out)
    text = out.getvalue()
    assert ("✓" in text, "\x1b[" in text) == (symbols, colour)
    assert ("   met     not-genetically-modified" in text) == (not symbols)


def test_case_paths_in_brackets_are_shown() -> None:
    """A path such as ``[patient.diagnoses]`` looks like a markup tag to rich, which hid
    it; the report prints it."""
    out = io.StringIO()
    case = CASES / "reading-heading-code-on-the-claim.json"
    write_report(evaluate(case), load_rules(), out)
    assert "(billable codes)? [patient.diagnoses]\n" in out.getvalue()


def test_case_text_is_inert_in_colour() -> None:
    out = _Terminal()
    env = {k: os.environ.pop(k) for k in ("NO_COLOR", "TERM") if k in os.environ}
    try:
        write_report(evaluate(mutate({"case_id": "X\x1b[31mEVIL\n"})), None, out)
    finally:
        os.environ.update(env)
    first = out.getvalue().split("\n", 1)[0]
    assert first.startswith("\x1b[1mCase X\\x1b[31mEVIL\\n\x1b[0m: ")
