"""The ``dli-check`` command: a thin layer over the library. Its exit codes are in
``dli_check.exit_codes`` (also in ``--help`` and the README)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from dli_check.cli.one_case import APPROVED
from dli_check.cli.one_case import say as _say
from dli_check.engine.about import bundled_rules_path, version_text
from dli_check.errors import RuleFileError
from dli_check.exit_codes import (
    EXIT_CODES_HELP,
    EXIT_INVALID_CASE,
    EXIT_NOT_APPROVED,
    EXIT_OUTPUT_FAILED,
    EXIT_USAGE,
)
from dli_check.inert import terminal, terminal_json
from dli_check.values.case import MAX_ITEMS as MAX_LINES_PER_CASE

# What a command needs is imported inside it: start-up time is paid by every command.
if TYPE_CHECKING:
    from rich.console import Console

    from dli_check.engine.decider import Decider
    from dli_check.outputs.dashboard import Tally
    from dli_check.service.log import DecisionLog


class _DefaultToCheck(TyperGroup):
    """``dli-check CASE.json`` means ``dli-check check CASE.json``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and (args[0] == "-" or args[0][:1] != "-"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToCheck,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Apply a clinical UM guideline (CG-TRANS-03) to patient cases, citing the guideline.\n\n"
    "Usage: dli-check CASE.json [OPTIONS], or one of the commands below.\n\n" + EXIT_CODES_HELP,
)
rules_app = typer.Typer(help="Validate or show a rule file.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
log_app = typer.Typer(help="Read the decision log of dli-check serve.", no_args_is_help=True)
app.add_typer(log_app, name="log")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class TextOrJson(StrEnum):
    text = "text"
    json = "json"
    questionnaire = "questionnaire"
    html = "html"


class Detail(StrEnum):
    full = "full"
    decisions = "decisions"


DetailOption = Annotated[
    Detail,
    typer.Option(
        "--detail",
        help="JSON records: full (cited reasons, the default) or decisions (per line the "
        "decision, action, criteria not met or unknown, missing facts and rule sha256).",
    ),
]


class BatchFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


class RulesFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    python = "python"


class SchemaKind(StrEnum):
    case = "case"
    result = "result"
    record = "record"
    rules = "rules"
    tests = "tests"


RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Rule file to apply (default: the bundled CG-TRANS-03)."),
]
WorksheetsOption = Annotated[
    Path | None,
    typer.Option(
        "--worksheets",
        help="Also write each decided case's worksheet (HTML) into this directory, named by "
        "its decision_id; the --report dashboard links to them.",
    ),
]
FailOption = Annotated[
    bool,
    typer.Option(
        "--fail-unless-approved",
        help="Exit 3 when a case is not medically necessary or lacks information.",
    ),
]


def _out() -> Console:
    from rich.console import Console

    class _Out(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1; a closed output is exit 4 here, like everywhere else.
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    return _Out(highlight=False, soft_wrap=not sys.stdout.isatty())


def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _say(message)
    raise typer.Exit(code)


def _rules(path: Path | None) -> Decider:
    from dli_check.api import load_rules

    try:
        return load_rules(path)
    except RuleFileError as exc:
        _fail_rules(exc)


def _fail_rules(exc: RuleFileError) -> NoReturn:
    for problem in exc.problems:
        _say(str(problem))
    raise typer.Exit(EXIT_USAGE) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text(bundled_rules_path()))
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show versions and exit."),
    ] = False,
) -> None:
    """Apply a clinical UM guideline to patient cases."""


@app.command()
def check(
    case: Annotated[str, typer.Argument(metavar="CASE.json", help="A case file, or - for stdin.")],
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    detail: DetailOption = Detail.full,
    rules_path: RulesOption = None,
    fail_unless_approved: FailOption = False,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (whole, or not at all) instead of standard output.",
        ),
    ] = "-",
) -> None:
    """Decide one case: each service line, criterion by criterion, with citations; as
    text, JSON, the questionnaire of what is missing, or an HTML worksheet."""
    from dli_check.cli.one_case import Failed, check_case

    try:
        code = check_case(
            case,
            format=format.value,
            detail=detail.value,
            rules_path=rules_path,
            fail_unless_approved=fail_unless_approved,
            output=output,
        )
    except Failed as exc:
        raise typer.Exit(exc.code) from None
    if code:
        raise typer.Exit(code)


@app.command()
def batch(
    path: Annotated[Path, typer.Argument(help="A directory of *.json cases, or a .jsonl file.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write records (- for stdout).")
    ] = "-",
    format: Annotated[BatchFormat, typer.Option("--format", "-f")] = BatchFormat.jsonl,
    detail: DetailOption = Detail.full,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, help="Processes (default: cores).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the run that wrote --output (a jsonl file): evaluate only the inputs "
            "it has no record of, and append their records.",
        ),
    ] = False,
    rules_path: RulesOption = None,
    fail_unless_approved: FailOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
    max_lines: Annotated[
        int,
        typer.Option(
            "--max-lines-per-case",
            min=1,
            max=MAX_LINES_PER_CASE,
            help="The most service lines a case may have; a larger case is a too_large record.",
        ),
    ] = MAX_LINES_PER_CASE,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Also write a dashboard of the records (HTML) to this file.",
        ),
    ] = None,
    worksheets: WorksheetsOption = None,
) -> None:
    """Evaluate every case under a directory (or in a JSON Lines file): one record per case,
    in sorted path order, whatever the number of workers."""
    from dli_check.batch.resumable import BatchRefused, run_to_output
    from dli_check.batch.runner import Worksheets
    from dli_check.cli.tables import summary_tables
    from dli_check.outputs.dashboard import Tally, worksheet_links
    from dli_check.outputs.worksheet import decided_today

    rules = _rules(rules_path)
    written = None
    if worksheets is not None:
        _worksheets_directory(worksheets)
        written = Worksheets(str(worksheets), decided_today())
    counted = None
    if report is not None:
        links = worksheet_links(worksheets, report) if worksheets is not None else None
        counted = Tally(link=links)
    err = _err()
    progress: list[_Progress] = []

    def start(total: int) -> None:
        if not quiet and err.is_terminal:
            progress.append(_Progress(err, total))

    try:
        with _GracefulStop() as stop:
            outcome = run_to_output(
                path,
                output,
                rules,
                format=format.value,
                detail=detail.value,
                workers=workers,
                resume=resume,
                max_lines=max_lines,
                should_stop=lambda: bool(stop.signal),
                on_start=start,
                on_progress=lambda done: progress[0].step(done) if progress else None,
                on_record=counted.add if counted is not None else None,
                worksheets=written,
            )
    except BatchRefused as exc:
        _fail(str(exc))
    except OSError as exc:
        _output_failed(output, exc)
    finally:
        if progress:
            progress[0].stop()
    summary = outcome.summary
    if not quiet:
        for table in summary_tables(summary, outcome.seconds):
            err.print(table)
    if report is not None and counted is not None:
        _write_dashboard(counted, f"{rules.guideline_id}: {path}", report)
    if outcome.ended is not None:
        kept = "" if output == "-" else f"; {output} keeps every record made before it"
        again = " (--resume continues)" if format is BatchFormat.jsonl and output != "-" else ""
        _fail(f"the batch ended early: {outcome.ended}{kept}{again}", EXIT_OUTPUT_FAILED)
    if outcome.stopped:
        raise typer.Exit(128 + stop.signal)
    if summary.errors:
        raise typer.Exit(EXIT_INVALID_CASE)
    if fail_unless_approved and set(summary.cases) - APPROVED:
        raise typer.Exit(EXIT_NOT_APPROVED)


class _Progress:
    """A progress bar with rate and time left, on a terminal."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("cases", total=total, rate="")
        self.started = time.perf_counter()
        self.bar.start()

    def step(self, done: int) -> None:
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(self.task, completed=done, rate=f"{rate:,.0f} cases/s")

    def stop(self) -> None:
        self.bar.stop()


class _GracefulStop:
    """The first Ctrl-C (or SIGTERM) asks the batch to stop after the record at hand;
    `signal` says which came. A second Ctrl-C stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal = 0

    def __enter__(self) -> _GracefulStop:
        self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signal = self.signal or signum
        signal.signal(signal.SIGINT, self.previous[signal.SIGINT])

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _print(text: str, end: str = "\n") -> None:
    """Write to standard output (click's echo would hide a closed pipe)."""
    sys.stdout.write(text + end)


def _print_json(text: str) -> None:
    """Write JSON text to standard output; on a terminal, with nothing it would obey."""
    _print(terminal_json(text) if sys.stdout.isatty() else text)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """Output to standard output that a closed pipe (``| head``) ends with exit 4."""
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        _output_failed("<stdout>", exc)


def _output_failed(output: str, exc: OSError) -> NoReturn:
    from dli_check.outputs.writer import write_failure

    _fail(write_failure(output, exc), EXIT_OUTPUT_FAILED)


@rules_app.command("validate")
def rules_validate(
    path: Annotated[Path, typer.Argument(help="The rule file to check.")],
    guideline: Annotated[
        Path | None,
        typer.Option(
            "--guideline",
            help="The guideline's text: report every quote that is not verbatim in it "
            "(white space normalised).",
        ),
    ] = None,
) -> None:
    """Report every problem in a rule file (or a directory of versions), with
    file:line:column."""
    loaded = _rules(path)
    if guideline is not None:
        _check_quotes(loaded, guideline)
    with _writing():
        _report_valid(loaded)


def _count(number: int, one: str, many: str | None = None) -> str:
    """``1 service``, ``2 services``."""
    return f"{number} {one if number == 1 else many or one + 's'}"


def _check_quotes(loaded: Decider, guideline: Path) -> None:
    """Every quote of each version verbatim in the guideline's text, or fail naming each."""
    from dli_check.language.quotes import unquoted
    from dli_check.language.text import load_rule_text

    try:
        text = guideline.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(terminal(f"{guideline}: cannot read the guideline's text ({type(exc).__name__})"))
    problems = [
        problem
        for rules in loaded.versions
        for problem in unquoted(load_rule_text(rules.raw, rules.source), rules.source, text)
    ]
    for problem in problems:
        _say(terminal(str(problem)))
    if problems:
        raise typer.Exit(EXIT_USAGE)


def _report_valid(loaded: Decider) -> None:
    for rules in loaded.versions:
        criteria = sum(len(s.criteria) for s in rules.services.values())
        effective = rules.model.effective
        period = (
            f"; in effect {effective.from_ or '...'} to {effective.to or '...'}"
            if effective
            else ""
        )
        _print(
            terminal(
                f"{rules.source}: OK ({rules.guideline_id}: "
                f"{_count(len(rules.services), 'service')}, "
                f"{_count(criteria, 'criterion', 'criteria')}, "
                f"{_count(len(rules.model.code_sets), 'code set')}{period})"
            )
        )


@rules_app.command("show")
def rules_show(
    path: Annotated[Path | None, typer.Argument(help="Rule file (default: bundled).")] = None,
    format: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.text,
) -> None:
    """Print a rule file's logic as a readable tree, as a Mermaid flowchart, or as the Python
    it compiles to (the case validator, then one function per service)."""
    from dli_check.outputs.explain import mermaid, python_source, rules_lines

    loaded = _rules(path)
    out = _out()
    with _writing():
        for rules in loaded.versions:
            if format is RulesFormat.mermaid:
                _print(mermaid(rules), end="")
            elif format is RulesFormat.python:
                _print(python_source(rules), end="")
            else:
                for line in rules_lines(rules):
                    out.print(line)


def _write_dashboard(counted: Tally, title: str, output: str) -> None:
    from dli_check.outputs.dashboard import dashboard

    _write_page(lambda: dashboard(counted, title=title), output)


def _write_page(make: Callable[[], str], output: str) -> None:
    """Make an HTML page and write it whole to `output`, or fail saying why."""
    from dli_check.cli.one_case import Failed, write_whole
    from dli_check.outputs.worksheet import ReportSupportMissing

    try:
        page = make()
    except ReportSupportMissing as exc:
        _fail(str(exc))
    try:
        write_whole(page, output)
    except Failed as exc:
        raise typer.Exit(exc.code) from None


def _worksheets_directory(directory: Path) -> None:
    """Make the directory worksheets go to, or fail saying why it cannot be written (before
    any case is decided); fail too without the report extra."""
    from dli_check.outputs.worksheet import ReportSupportMissing, environment

    try:
        environment()
    except ReportSupportMissing as exc:
        _fail(str(exc))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "Permission denied")
    except OSError as exc:
        _fail(f"{directory}: cannot write worksheets there: {exc.strerror or exc}")


@app.command("report")
def report_command(
    results: Annotated[
        Path, typer.Argument(help="A batch's JSON Lines output (full or decisions records).")
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write the dashboard (HTML).")
    ] = "-",
    worksheets: Annotated[
        Path | None,
        typer.Option(
            "--worksheets",
            help="Link each line to its worksheet in this directory, where batch "
            "--worksheets wrote it.",
        ),
    ] = None,
) -> None:
    """Build the dashboard of an existing batch output, in one streaming pass."""
    from dli_check.outputs.dashboard import Tally, worksheet_links
    from dli_check.outputs.records import read_record

    counted = Tally(link=worksheet_links(worksheets, output) if worksheets is not None else None)
    try:
        with results.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    counted.add(read_record(line))
                except ValueError as exc:
                    _fail(f"{results}:{number}: not a dli-check record: {exc}")
    except OSError as exc:
        _fail(f"{results}: cannot read: {exc.strerror}")
    _write_dashboard(counted, f"Batch results: {results.name}", output)


@app.command()
def diff(
    cases: Annotated[
        Path | None,
        typer.Argument(help="A directory of *.json cases, or a .jsonl file (as batch takes)."),
    ] = None,
    old_rules: Annotated[
        Path | None, typer.Option("--old", help="The rule file as it is (default: bundled).")
    ] = None,
    new_rules: Annotated[Path | None, typer.Option("--new", help="The revised rule file.")] = None,
    results: Annotated[
        tuple[Path, Path] | None,
        typer.Option("--results", help="Compare two batch outputs: OLD.jsonl NEW.jsonl."),
    ] = None,
    format: Annotated[BatchFormat, typer.Option("--format", "-f")] = BatchFormat.jsonl,
    detail: DetailOption = Detail.full,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, help="Processes per rule file.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
    report: Annotated[
        str | None,
        typer.Option("--report", help="Also write the diff as an HTML page to this file."),
    ] = None,
) -> None:
    """Report every service line whose decision or action a rule-file revision changes, and
    the criteria that changed with it. Exit 0: no change; 1: changes (like diff)."""
    from dli_check.batch.diff import (
        CHANGE_COLUMNS,
        DiffSummary,
        LineChange,
        diff_results,
        diff_rules,
    )
    from dli_check.batch.runner import InputError, list_inputs
    from dli_check.cli.tables import diff_tables
    from dli_check.inert import csv_cell
    from dli_check.outputs.csv import csv_text
    from dli_check.outputs.dashboard import diff_page

    if results is not None:
        if cases is not None or new_rules is not None or old_rules is not None:
            _fail("give --results OLD NEW, or --new RULES with CASES; not both")
        changes_per_case = diff_results(*results)
        title = f"{results[0].name} and {results[1].name}"
    else:
        if cases is None or new_rules is None:
            _fail("give CASES and --new RULES (and --old RULES, default the bundled), or --results")
        old, new = _rules(old_rules), _rules(new_rules)
        try:
            found_old, found_new = list_inputs(cases), list_inputs(cases)
        except InputError as exc:
            _fail(str(exc))
        processes = min(workers or os.cpu_count() or 1, max(found_old.total, 1))
        changes_per_case = diff_rules(found_old, found_new, old, new, processes)
        title = f"{old.source} and {new.source} over {cases}"
    summary = DiffSummary()
    out = sys.stdout.buffer
    if format is BatchFormat.csv:
        out.write(csv_text([CHANGE_COLUMNS]))

    def encode(change: LineChange) -> bytes:
        if format is BatchFormat.csv:
            return csv_text([[csv_cell(cell) for cell in change.as_row()]])
        return (json.dumps(change.as_json(), separators=(",", ":")) + "\n").encode()

    try:
        for changes in changes_per_case:
            summary.add(changes)
            if changes:
                out.write(b"".join(encode(c) for c in changes))
        out.flush()
    except InputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _output_failed("<stdout>", exc)
    if not quiet:
        err = _err()
        for table in diff_tables(summary):
            err.print(table)
    if report is not None:
        _write_page(lambda: diff_page(summary, title=f"Decision diff: {title}"), report)
    if summary.transitions:
        raise typer.Exit(1)


@rules_app.command("test")
def rules_test(
    path: Annotated[
        Path,
        typer.Argument(help="A suite (NAME.tests.yaml), a rule file, or a directory of suites."),
    ],
    min_coverage: Annotated[
        float,
        typer.Option(
            "--min-coverage", min=0, max=100, help="Fail when coverage is below this percent."
        ),
    ] = 0.0,
    mutate: Annotated[
        bool,
        typer.Option(
            "--mutate",
            help="Also mutation-test each rule file: make small mistakes in it one at a time "
            "and report the ones no test notices.",
        ),
    ] = False,
    min_mutation_score: Annotated[
        float,
        typer.Option(
            "--min-mutation-score",
            min=0,
            max=100,
            help="With --mutate: fail when the mutation score is below this percent.",
        ),
    ] = 0.0,
) -> None:
    """Run rule-file test suites: each case's expected decisions, criteria and missing facts,
    and which criteria statuses and decisions the suite never reached."""
    from dli_check.batch.suites import run_suite, suites_under

    failed = False
    found = suites_under(path)
    if not found:
        _fail(f"{path}: no test suite (*.tests.yaml) here")
    for suite_path in found:
        try:
            report = run_suite(suite_path)
        except RuleFileError as exc:
            _fail_rules(exc)
        total = report.passed + len(report.failures)
        coverage = report.coverage.percent
        with _writing():
            _print(
                f"{suite_path}: {total} tests, {report.passed} passed, {len(report.failures)} "
                f"failed; coverage {coverage:.1f}% of {report.rules.source}"
            )
            for name, differences in report.failures:
                for difference in differences:
                    _print(f"  FAIL {terminal(name)}: {difference}")
            for gap in report.coverage.gaps():
                _print(f"  not covered: {gap}")
        failed = failed or bool(report.failures) or coverage < min_coverage
        if mutate and not report.failures:
            failed = _mutation(suite_path, min_mutation_score) or failed
    if failed:
        raise typer.Exit(EXIT_INVALID_CASE)


def _mutation(suite_path: Path, min_score: float) -> bool:
    """Print a suite's mutation testing; whether it falls below `min_score`."""
    from dli_check.batch.mutation import run_mutation

    try:
        report = run_mutation(suite_path)
    except RuleFileError as exc:
        _fail_rules(exc)
    with _writing():
        _print(f"  {report.summary}")
        for mutant, (line, column) in report.survived:
            _print(f"  survived: {terminal(report.rules)}:{line}:{column}: {terminal(mutant.name)}")
        for mutant, reason in report.equivalent:
            _print(f"  equivalent: {terminal(mutant.name)} ({terminal(reason)})")
    return report.score < min_score


@app.command("questionnaire")
def questionnaire_command(
    rules_path: RulesOption = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="The FHIR base its canonical URL starts with (default: a urn)."
        ),
    ] = None,
) -> None:
    """Print a FHIR R4 Questionnaire (SDC, for DTR) of every fact the rule file declares:
    linkIds are fact paths, texts are the declared questions."""
    from dli_check.interop.questionnaires import questionnaire

    form = questionnaire(_rules(rules_path), base_url=base_url)
    with _writing():
        _print_json(json.dumps(form, indent=2, ensure_ascii=False))


@app.command()
def schema(
    kind: Annotated[
        SchemaKind, typer.Argument(help="case, result, record (batch), rules or tests (suites).")
    ],
    rules_path: RulesOption = None,
) -> None:
    """Print the JSON Schema of case files, results, batch records, rule files or rule-file
    test suites."""
    from dli_check.outputs import schemas

    if kind is SchemaKind.case:
        document = schemas.case_json_schema(_rules(rules_path))
    elif kind is SchemaKind.result:
        document = schemas.result_json_schema()
    elif kind is SchemaKind.record:
        document = schemas.record_json_schema()
    elif kind is SchemaKind.tests:
        from dli_check.batch.suites import Suite

        document = Suite.model_json_schema()
    else:
        document = schemas.rules_json_schema()
    with _writing():
        _print(json.dumps(document, indent=2, sort_keys=True))


class Covered(StrEnum):
    covered = "covered"
    conditional = "conditional"


class OtherOrders(StrEnum):
    no_auth = "no-auth"
    auth_needed = "auth-needed"


LogOption = Annotated[
    Path,
    typer.Option("--log", help="The SQLite decision log (it holds health information)."),
]


@app.command()
def serve(
    rules_path: Annotated[
        Path | None,
        typer.Option("--rules", help="A rule file, or a directory of them (default: CG-TRANS-03)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8080,
    log: LogOption = Path("dli-check-decisions.sqlite3"),
    jwks: Annotated[
        Path | None,
        typer.Option("--jwks", help="Verify CDS clients' bearer JWTs against this JWKS file."),
    ] = None,
    issuer: Annotated[
        list[str] | None, typer.Option("--issuer", help="A trusted JWT issuer (repeatable).")
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Bind beyond loopback without --jwks.")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="The base URL clients call (for aud and links)."),
    ] = None,
    payer: Annotated[
        str | None,
        typer.Option(
            help="The insurer's name, shown on cards (default: the service's title, "
            "'CG-TRANS-03 coverage requirements')."
        ),
    ] = None,
    covered: Annotated[
        Covered, typer.Option(help="The plan's benefit answer for the orders (not the engine's).")
    ] = Covered.covered,
    auto_approve: Annotated[
        bool,
        typer.Option(
            "--auto-approve", help="A medically necessary order is satisfied (an authorization)."
        ),
    ] = False,
    policy_url: Annotated[
        str | None, typer.Option("--policy-url", help="Where the guideline is published.")
    ] = None,
    payer_id: Annotated[
        list[str] | None,
        typer.Option(
            "--payer-id",
            help="A payer identifier this service answers for (repeatable); a request whose "
            "Coverage names no such payer is a 400, as CRD says. Default: any payer.",
        ),
    ] = None,
    other_orders: Annotated[
        OtherOrders | None,
        typer.Option(
            "--coverage-for-other-orders",
            help="Answer an order no rule file governs with coverage information saying this "
            "pa-needed (default: no action for it).",
        ),
    ] = None,
    fhir_server: Annotated[
        list[str] | None,
        typer.Option(
            "--fhir-server",
            help="An EHR FHIR server (base URL) this service may query, with the request's "
            "token, for what a CDS Hooks prefetch omits (repeatable). Default: none; an "
            "omitted key is then a 412.",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="A web origin whose pages may call the service (CORS; repeatable). Default: none.",
        ),
    ] = None,
    terminology_server: Annotated[
        str | None,
        typer.Option(
            "--terminology-server",
            help="A FHIR terminology server DTR clients look codes up on; by default the "
            "questionnaire package carries its value sets, expanded.",
        ),
    ] = None,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections", min=1, help="Open connections at most; 503 beyond (default 256)."
        ),
    ] = 256,
    read_timeout: Annotated[
        float,
        typer.Option(
            "--read-timeout",
            min=0.1,
            help="Seconds a request may take to arrive whole (headers and body); 408 beyond.",
        ),
    ] = 10.0,
    max_lines: Annotated[
        int,
        typer.Option(
            "--max-lines-per-case",
            min=1,
            max=MAX_LINES_PER_CASE,
            help="The most service lines one request may hold; 413 beyond.",
        ),
    ] = MAX_LINES_PER_CASE,
) -> None:
    """Serve CDS Hooks (Da Vinci CRD), PAS Claim/$submit and plain JSON over HTTP."""
    from dli_check.interop.crd import Policy
    from dli_check.service.auth import TokenChecker
    from dli_check.service.log import DecisionLog, LogUnavailable

    if jwks is not None and not public_url:
        _fail("--jwks needs --public-url: the URL clients call, which their tokens' aud names")
    if host not in LOOPBACK and jwks is None:
        if not insecure:
            _fail(
                f"refusing to serve on {host} without --jwks (client tokens); --insecure to do so"
            )
        _say(f"warning: serving on {host} with no client authentication (--insecure)")
    try:
        import uvicorn

        from dli_check.service._protocol import OncePerInterval, guarded_protocol
        from dli_check.service.app import Settings, create_app, served_hosts
        from dli_check.service.ehr import Ehr
    except ImportError:
        _fail("serve needs the serve extra: pip install 'dli-check[serve]'")
    guidelines = _guidelines(rules_path)
    try:
        tokens = TokenChecker(jwks, issuer or []) if jwks is not None else None
    except ValueError as exc:
        _fail(str(exc))
    try:
        decisions = DecisionLog(log)
    except LogUnavailable as exc:
        _fail(terminal(str(exc)))
    except OSError as exc:
        _fail(f"{log}: cannot open the decision log: {exc.strerror}")
    policy = Policy(
        payer,
        covered.value,
        auto_approve,
        policy_url,
        tuple(payer_id or ()),
        other_orders.value if other_orders is not None else None,
    )
    hosts = served_hosts(public_url, host, loopback=host in LOOPBACK)
    settings = Settings(
        guidelines,
        decisions,
        policy,
        tokens,
        public_url,
        hosts=hosts,
        max_lines=max_lines,
        ehr=Ehr(tuple(fhir_server or ())),
        terminology_server=terminology_server,
        cors_origins=tuple(cors_origin or ()),
    )
    logging.getLogger("asyncio").addFilter(OncePerInterval())
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        http=guarded_protocol(max_connections, read_timeout),
        timeout_keep_alive=5,
    )


def _guidelines(path: Path | None) -> list[Decider]:
    """``serve --rules``: one rule file, or a directory of the guidelines to serve, each with
    its versions (as `load_rules` reads a directory of one guideline)."""
    if path is None or not path.is_dir():
        return [_rules(path)]
    from dli_check.engine.versions import load_guidelines

    try:
        return list(load_guidelines(path))
    except RuleFileError as exc:
        _fail_rules(exc)


@log_app.command("list")
def log_list(
    log: LogOption = Path("dli-check-decisions.sqlite3"),
    since: Annotated[str | None, typer.Option(help="From this ISO date or time on (UTC).")] = None,
    decision: Annotated[str | None, typer.Option(help="Only this case decision.")] = None,
    refused: Annotated[
        bool, typer.Option("--refused", help="The refused calls instead: status and reason.")
    ] = False,
) -> None:
    """One line of JSON per decision served: id, time, endpoint, rule version, lines and the
    configuration in force; with --refused, per call refused: time, endpoint, status and
    reason."""
    opened = _open_log(log)
    with _writing():
        if refused:
            for refusal in opened.refusals(since=since):
                _print(json.dumps(refusal, separators=(",", ":")))
            return
        for entry in opened.entries(since=since, decision=decision):
            _print(json.dumps(entry.summary(), separators=(",", ":")))


@log_app.command("show")
def log_show(
    decision_id: Annotated[str, typer.Argument(help="A decision or coverage-assertion id.")],
    log: LogOption = Path("dli-check-decisions.sqlite3"),
) -> None:
    """One decision in full: the entry, what was decided, the result, the response sent and
    what it asked, as JSON."""
    entry = _open_log(log).get(decision_id)
    if entry is None:
        _fail(f"{log}: no decision {terminal(decision_id)!r}")
    document = {
        **entry.summary(),
        "result": json.loads(entry.result),
        "request": json.loads(entry.request) if entry.request else None,
        "response": json.loads(entry.response) if entry.response else None,
        "questionnaire": json.loads(entry.questionnaire) if entry.questionnaire else None,
    }
    with _writing():
        _print_json(json.dumps(document, indent=2, ensure_ascii=False))


def _open_log(path: Path) -> DecisionLog:
    from dli_check.service.log import DecisionLog, LogUnavailable

    if not path.is_file():
        _fail(f"{terminal(str(path))}: no decision log there")
    try:
        return DecisionLog(path, writable=False)
    except LogUnavailable as exc:
        _fail(terminal(str(exc)))


def run() -> None:
    """Run the command line on ``sys.argv``; ``dli_check.__main__.main`` calls it."""
    # The command uses no pydantic plugins; looking for them costs ~10 ms at every start.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()
