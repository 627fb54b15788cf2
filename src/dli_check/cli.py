"""The ``dli-check`` command: a thin layer over the library.

Exit codes (also in ``--help`` and the README):

* 0: every case was evaluated;
* 1: at least one case was invalid (the others were still evaluated);
* 2: usage error, unreadable input path, or invalid rule file;
* 3: with ``--fail-unless-approved``, at least one case was not medically necessary or
  lacked information (and none was invalid).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from dli_check import __version__
from dli_check.batch import InputError, Record, list_inputs, run_batch
from dli_check.engine import evaluate, load_rules
from dli_check.errors import CaseError, RuleFileError
from dli_check.explain import mermaid, result_lines, rules_lines
from dli_check.loaders import parse_case_json
from dli_check.schemas import case_json_schema, result_json_schema, rules_json_schema

EXIT_OK, EXIT_INVALID_CASE, EXIT_USAGE, EXIT_NOT_APPROVED = 0, 1, 2, 3

EXIT_CODES_HELP = (
    "Exit codes: 0 every case evaluated; 1 at least one case invalid (the others still "
    "evaluated); 2 usage error, unreadable input path or invalid rule file; 3 with "
    "--fail-unless-approved, a case not medically necessary or lacking information."
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
    return Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _err().print(f"dli-check: {message}", markup=False)
    raise typer.Exit(code)


def _rules(path: Path | None) -> Any:
    try:
        return load_rules(path)
    except RuleFileError as exc:
        for problem in exc.problems:
            _err().print(f"dli-check: {problem}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def _version(value: bool) -> None:
    if value:
        rules = load_rules()
        g = rules.provenance.guideline
        code_system = rules.provenance.code_system
        typer.echo(
            f"dli-check {__version__}\n{g.id} (published {g.publish_date}, "
            f"last reviewed {g.last_review_date})\n"
            f"ICD-10-CM {code_system.release} from {code_system.source}"
        )
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
    rules = _rules(rules_path)
    try:
        if case == "-":
            result = evaluate(
                parse_case_json(sys.stdin.buffer.read(), "<stdin>"), rules, source="<stdin>"
            )
        elif Path(case).is_file():
            result = evaluate(Path(case), rules)
        else:
            _fail(f"{case}: no such file")
    except CaseError as exc:
        _fail(str(exc), EXIT_INVALID_CASE)
    if format is TextOrJson.json:
        typer.echo(result.to_json())
    else:
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


def _csv_rows(record: Record) -> list[list[str]]:
    data = json.loads(record.json)
    if "error" in data:
        error = data["error"]
        empty = [""] * 8
        return [[record.source, data["case_id"] or "", *empty, error["kind"], error["message"]]]
    rows = []
    for number, line in enumerate(data["services"]):
        rows.append(
            [
                record.source,
                data["case_id"],
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


class _Summary:
    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.lines: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.not_met: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()

    def add(self, record: Record) -> None:
        if record.decision is None:
            self.errors[record.error_kind or "error"] += 1
            return
        self.cases[record.decision] += 1
        for decision, not_met, unknown in record.lines:
            self.lines[decision] += 1
            self.not_met.update(not_met)
            self.unknown.update(unknown)

    def tables(self, total: int, seconds: float) -> list[Table]:
        """The decisions table, and the criteria that most often decided against or held up."""
        done = sum(self.cases.values()) + sum(self.errors.values())
        rate = done / seconds if seconds > 0 else 0.0
        decisions = Table(
            title="dli-check batch",
            caption=f"{done} cases in {seconds:.2f} s ({rate:,.0f} cases/s)",
        )
        decisions.add_column("decision")
        decisions.add_column("cases", justify="right")
        decisions.add_column("service lines", justify="right")
        for decision in (
            "medically_necessary",
            "not_medically_necessary",
            "insufficient_information",
        ):
            decisions.add_row(decision, str(self.cases[decision]), str(self.lines[decision]))
        for kind, count in sorted(self.errors.items()):
            decisions.add_row(f"error: {kind}", str(count), "")
        if done < total:
            decisions.add_row("not evaluated (interrupted)", str(total - done), "")
        decisions.add_row("total", str(total), str(sum(self.lines.values())), style="bold")
        criteria = Table(title="criteria most often not met or unknown")
        criteria.add_column("criterion")
        criteria.add_column("not met", justify="right")
        criteria.add_column("unknown", justify="right")
        ranked = (self.not_met + self.unknown).most_common(5)
        for criterion, _ in sorted(ranked, key=lambda item: (-item[1], item[0])):
            criteria.add_row(criterion, str(self.not_met[criterion]), str(self.unknown[criterion]))
        return [decisions, criteria] if ranked else [decisions]


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
    rules_path: RulesOption = None,
    fail_unless_approved: FailOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
) -> None:
    """Evaluate every case under a directory (or in a JSON Lines file): one record per case,
    in sorted path order, whatever the number of workers."""
    _rules(rules_path)
    try:
        total, inputs = list_inputs(path)
    except InputError as exc:
        _fail(str(exc))
    count = workers or os.cpu_count() or 1
    err = _err()
    summary = _Summary()
    started = time.perf_counter()
    try:
        sink = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror}")
    writer = _CsvWriter(sink) if format is BatchFormat.csv else None
    progress = None
    if err.is_terminal and not quiet:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        progress = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
    task = progress.add_task("cases", total=total, rate="") if progress else None
    interrupted = False
    try:
        if progress:
            progress.start()
        pending: list[bytes] = []
        for record in run_batch(inputs, rules_path, min(count, max(total, 1))):
            summary.add(record)
            pending.append(writer.encode(record) if writer else record.json.encode() + b"\n")
            if len(pending) >= 256:
                _write(sink, pending)
            if progress and task is not None:
                done = sum(summary.cases.values()) + sum(summary.errors.values())
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, advance=1, rate=f"{rate:,.0f} cases/s")
        _write(sink, pending)
    except KeyboardInterrupt:
        _write(sink, pending)
        interrupted = True
    except BrokenPipeError:
        _fail("output closed before all records were written")
    finally:
        if progress:
            progress.stop()
        if sink is not sys.stdout.buffer:
            sink.close()
    if not quiet:
        for table in summary.tables(total, time.perf_counter() - started):
            err.print(table)
    if interrupted:
        raise typer.Exit(130)
    if summary.errors:
        raise typer.Exit(EXIT_INVALID_CASE)
    if fail_unless_approved and set(summary.cases) - {"medically_necessary"}:
        raise typer.Exit(EXIT_NOT_APPROVED)


def _write(sink: Any, pending: list[bytes]) -> None:
    """Write whole records only, so an interrupted run never ends in half a record."""
    if pending:
        sink.write(b"".join(pending))
        sink.flush()
        pending.clear()


class _CsvWriter:
    def __init__(self, sink: Any) -> None:
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
    if kind is SchemaKind.case:
        document = case_json_schema(list(_rules(rules_path).services))
    elif kind is SchemaKind.result:
        document = result_json_schema()
    else:
        document = rules_json_schema()
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


def main() -> None:
    """Entry point of the ``dli-check`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        print(
            f"dli-check: internal error ({type(exc).__name__}); please report it", file=sys.stderr
        )
        sys.exit(70)
