"""The ``dli-check`` command: a thin layer over the library.

Exit codes (also in ``--help`` and the README):

* 0: every case was evaluated;
* 1: at least one case was invalid (the others were still evaluated);
* 2: usage error, unreadable input path, or invalid rule file;
* 3: with ``--fail-unless-approved``, at least one case was not medically necessary or
  lacked information (and none was invalid);
* 4: the output could not be written (disk full, closed pipe); what was written is whole;
* 130: interrupted by Ctrl-C; what was written is whole records.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, NoReturn

import typer
from typer.core import TyperGroup

from dli_check.about import bundled_rules_path, version_text
from dli_check.errors import CaseError, RuleFileError

# What a command needs is imported inside it: start-up time is paid by every command.
if TYPE_CHECKING:
    from rich.console import Console

    from dli_check.batch import Input, Record, Summary
    from dli_check.engine import Rules

EXIT_OK, EXIT_INVALID_CASE, EXIT_USAGE, EXIT_NOT_APPROVED, EXIT_OUTPUT_FAILED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 every case evaluated; 1 at least one case invalid (the others still "
    "evaluated); 2 usage error, unreadable input path or invalid rule file; 3 with "
    "--fail-unless-approved, a case not medically necessary or lacking information; 4 the "
    "output could not be written (disk full, closed pipe); 130 interrupted (what was written "
    "is whole records)."
)


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


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


class BatchFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


class RulesFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"


class SchemaKind(StrEnum):
    case = "case"
    result = "result"
    rules = "rules"


RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Rule file to apply (default: the bundled CG-TRANS-03)."),
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

    return Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _say(message)
    raise typer.Exit(code)


def _say(message: str) -> None:
    """One line on standard error: never wrapped, never styled."""
    print(f"dli-check: {message}", file=sys.stderr)


def _rules(path: Path | None) -> Rules:
    from dli_check.engine import load_rules

    try:
        return load_rules(path)
    except RuleFileError as exc:
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
    rules_path: RulesOption = None,
    fail_unless_approved: FailOption = False,
) -> None:
    """Decide one case: each service line, criterion by criterion, with citations."""
    from dli_check.engine import evaluate
    from dli_check.loaders import parse_case_json

    rules = _rules(rules_path)
    try:
        if case == "-":
            result = evaluate(
                parse_case_json(sys.stdin.buffer.read(), "<stdin>"), rules, source="<stdin>"
            )
        elif Path(case).is_file():
            result = evaluate(Path(case), rules)
        else:
            _fail(f"{case}: {'not a file' if Path(case).exists() else 'no such file'}")
    except CaseError as exc:
        _fail(str(exc), EXIT_INVALID_CASE)
    if format is TextOrJson.json:
        typer.echo(result.to_json())
    else:
        from dli_check.explain import result_lines

        out = _out()
        for line in result_lines(result, symbols=out.is_terminal):
            out.print(line)
    if fail_unless_approved and result.decision != "medically_necessary":
        raise typer.Exit(EXIT_NOT_APPROVED)


CSV_COLUMNS = [
    "source",
    "case_id",
    "case_decision",
    "line",
    "service",
    "cpt",
    "decision",
    "action",
    "not_met",
    "unknown",
    "missing",
    "error_kind",
    "error_message",
]


def _cell(text: str) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``) gets a leading apostrophe, so a crafted case id cannot run as one."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(record: Record) -> list[list[str]]:
    data = json.loads(record.json)
    source, case_id = _cell(record.source), _cell(data["case_id"] or "")
    if "error" in data:
        error = data["error"]
        empty = [""] * 8
        return [[source, case_id, *empty, error["kind"], error["message"]]]
    rows = []
    for number, line in enumerate(data["services"]):
        rows.append(
            [
                source,
                case_id,
                data["decision"],
                str(number),
                line["service"],
                line["cpt"] or "",
                line["decision"],
                line["action"],
                ";".join(r["criterion"] for r in line["reasons"] if r["status"] == "not_met"),
                ";".join(r["criterion"] for r in line["reasons"] if r["status"] == "unknown"),
                ";".join(line["missing"]),
                "",
                "",
            ]
        )
    return rows


@app.command()
def batch(
    path: Annotated[Path, typer.Argument(help="A directory of *.json cases, or a .jsonl file.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write records (- for stdout).")
    ] = "-",
    format: Annotated[BatchFormat, typer.Option("--format", "-f")] = BatchFormat.jsonl,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, help="Processes (default: cores).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Append to --output, evaluating only inputs it has no record of."
        ),
    ] = False,
    rules_path: RulesOption = None,
    fail_unless_approved: FailOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
) -> None:
    """Evaluate every case under a directory (or in a JSON Lines file): one record per case,
    in sorted path order, whatever the number of workers."""
    from dli_check.batch import InputError, Summary, list_inputs, recorded_sources, run_batch
    from dli_check.explain import summary_tables

    _rules(rules_path)
    if resume and (output == "-" or format is not BatchFormat.jsonl):
        _fail("--resume needs --output FILE in the jsonl format")
    try:
        found = list_inputs(path, exclude=[] if output == "-" else [Path(output)])
        done = recorded_sources(Path(output)) if resume else set()
    except InputError as exc:
        _fail(str(exc))
    summary = Summary(total=found.total, skipped=found.skipped)
    inputs = _not_done(found.items, done, summary) if done else found.items
    try:
        sink = sys.stdout.buffer if output == "-" else open(output, "ab" if resume else "wb")  # noqa: SIM115
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror}")
    err = _err()
    progress = _progress(err, max(summary.total - len(done), 0)) if not quiet else None
    encode = _CsvEncoder().encode if format is BatchFormat.csv else _jsonl
    started = time.perf_counter()
    pending: list[bytes] = []
    records = run_batch(
        inputs, rules_path, min(workers or os.cpu_count() or 1, max(summary.total, 1))
    )
    try:
        with _GracefulStop() as stop:
            for record in records:
                summary.add(record)
                pending.append(encode(record))
                if len(pending) >= 256:
                    _write(sink, pending)
                if progress:
                    progress.step(summary.evaluated)
                if stop.requested:
                    break
            records.close()  # stops the workers
            _write(sink, pending)
    except OSError as exc:
        _output_failed(output, exc)
    finally:
        if progress:
            progress.stop()
        _close(sink)
    if not quiet:
        for table in summary_tables(summary, time.perf_counter() - started):
            err.print(table)
    if stop.requested:
        raise typer.Exit(EXIT_INTERRUPTED)
    if summary.errors:
        raise typer.Exit(EXIT_INVALID_CASE)
    if fail_unless_approved and set(summary.cases) - {"medically_necessary"}:
        raise typer.Exit(EXIT_NOT_APPROVED)


def _jsonl(record: Record) -> bytes:
    return record.json.encode() + b"\n"


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


def _progress(console: Console, total: int) -> _Progress | None:
    return _Progress(console, total) if console.is_terminal else None


def _not_done(items: Iterator[Input], done: set[str], summary: Summary) -> Iterator[Input]:
    for item in items:
        if item.source in done:
            summary.already_done += 1
        else:
            yield item


def _write(sink: BinaryIO, pending: list[bytes]) -> None:
    """Write whole records only, so an interrupted run never ends in half a record."""
    if pending:
        data = b"".join(pending)
        pending.clear()
        sink.write(data)
        sink.flush()


class _GracefulStop:
    """The first Ctrl-C asks the batch to stop after the record at hand; a second one
    stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> _GracefulStop:
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self.previous)


def _output_failed(output: str, exc: OSError) -> NoReturn:
    if isinstance(exc, BrokenPipeError):
        # Keep the interpreter from failing again on the closed pipe when it exits.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _fail("output closed before all records were written", EXIT_OUTPUT_FAILED)
    _fail(f"{output}: cannot write: {exc.strerror}", EXIT_OUTPUT_FAILED)


def _close(sink: BinaryIO) -> None:
    if sink is not sys.stdout.buffer:
        with contextlib.suppress(OSError):  # a failed flush was reported already
            sink.close()


class _CsvEncoder:
    def __init__(self) -> None:
        self.header = True

    def encode(self, record: Record) -> bytes:
        text = io.StringIO()
        rows = csv.writer(text, lineterminator="\n")
        if self.header:
            rows.writerow(CSV_COLUMNS)
            self.header = False
        rows.writerows(_csv_rows(record))
        return text.getvalue().encode()


@rules_app.command("validate")
def rules_validate(path: Annotated[Path, typer.Argument(help="The rule file to check.")]) -> None:
    """Report every problem in a rule file, with file:line:column."""
    rules = _rules(path)
    criteria = sum(len(s.criteria) for s in rules.services.values())
    typer.echo(
        f"{path}: OK ({rules.guideline_id}: {len(rules.services)} services, {criteria} criteria, "
        f"{len(rules.model.code_sets)} code sets)"
    )


@rules_app.command("show")
def rules_show(
    path: Annotated[Path | None, typer.Argument(help="Rule file (default: bundled).")] = None,
    format: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.text,
) -> None:
    """Print a rule file's logic as a readable tree, or as a Mermaid flowchart."""
    from dli_check.explain import mermaid, rules_lines

    rules = _rules(path)
    if format is RulesFormat.mermaid:
        typer.echo(mermaid(rules), nl=False)
        return
    out = _out()
    for line in rules_lines(rules):
        out.print(line)


@app.command()
def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="case, result or rules.")],
    rules_path: RulesOption = None,
) -> None:
    """Print the JSON Schema of case files, results or rule files."""
    from dli_check.schemas import case_json_schema, result_json_schema, rules_json_schema

    if kind is SchemaKind.case:
        document = case_json_schema(list(_rules(rules_path).services))
    elif kind is SchemaKind.result:
        document = result_json_schema()
    else:
        document = rules_json_schema()
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


def main() -> None:
    """Entry point of the ``dli-check`` console script."""
    if sys.argv[1:] == ["--version"]:  # the common probe, answered without loading Typer
        print(version_text(bundled_rules_path()))
        return
    # The command uses no pydantic plugins; looking for them costs ~10 ms at every start.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        print(
            f"dli-check: internal error ({type(exc).__name__}); please report it", file=sys.stderr
        )
        sys.exit(70)
