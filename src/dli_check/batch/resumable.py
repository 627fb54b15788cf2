"""A batch run to an output file, as ``dli-check batch`` makes it: guarded, locked,
resumable, and ended cleanly however it ends.

`run_to_output` refuses an output that is an input (or the rule file, or another run's),
holds the output's lock, writes records to a temporary file renamed at the end (or
appends, resuming), keeps the run file that `--resume` checks, and stops within a poll
when `should_stop()` says so, committing every whole record it has. The command line
only parses flags, installs signal handlers, draws progress and picks the exit code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dli_check._version import __version__
from dli_check.batch.runner import (
    MAX_LINES_PER_CASE,
    Input,
    InputError,
    Inputs,
    ProtectedInput,
    RunIdentity,
    Summary,
    WorkerDied,
    WorksheetNotWritten,
    Worksheets,
    changed_input,
    digest_line,
    list_inputs,
    lock_output,
    read_digests,
    read_recorded,
    run_batch,
    run_identity_path,
)
from dli_check.engine.decider import Decider
from dli_check.errors import DliCheckError
from dli_check.inert import terminal
from dli_check.outputs.csv import CSV_COLUMNS, csv_lines, csv_rows
from dli_check.outputs.records import Record
from dli_check.outputs.writer import Identity, Output, OutputError, identity, open_output
from dli_check.results import Detail

Format = Literal["jsonl", "csv"]

WRITE_BYTES = 1 << 20
"""Record bytes gathered before one write to the output."""


class BatchRefused(DliCheckError):
    """A run that cannot start: its output is an input or the rule file, another run
    writes it, it cannot be opened, or a resume does not fit it. Nothing was written."""


@dataclass
class BatchOutcome:
    """How a run ended: its counts, and whether it stopped early and why."""

    summary: Summary
    stopped: bool
    """`should_stop` ended it (Ctrl-C, SIGTERM)."""
    ended: str | None
    """What ended it early otherwise (a worker died, memory ran out), in words."""
    seconds: float


def run_to_output(
    path: Path,
    output: str,
    rules: Decider,
    *,
    format: Format = "jsonl",
    detail: Detail = "full",
    workers: int | None = None,
    resume: bool = False,
    max_lines: int = MAX_LINES_PER_CASE,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_record: Callable[[Record], None] | None = None,
    worksheets: Worksheets | None = None,
) -> BatchOutcome:
    """Evaluate every input under `path` into `output` (``-`` for standard output).

    Raises `BatchRefused` before anything is written; `OSError` when writing fails (the
    output is then left as it was, or, resuming, cut back to whole records).
    `on_start(count)` is told how many inputs are to do, `on_progress(done)` after each,
    `on_record(record)` of each record the output holds (those a resumed run found too).
    With `worksheets`, each case decided writes its worksheet there.
    """
    if resume and (output == "-" or format != "jsonl"):
        raise BatchRefused("--resume needs --output FILE in the jsonl format")
    summary = Summary(watch=on_record)
    locked = None
    try:
        guarded = _guard_output(output, rules)
        try:
            run, label = _run_identity(path, output, rules, format, detail, resume)
        except InputError:
            list_inputs(path, protect=guarded)  # an output that is an input says so first
            raise
        locked = lock_output(Path(output)) if output != "-" else None
        found = list_inputs(path, label=label, protect=guarded)
        done: set[str] = set()
        if resume:
            done = read_recorded(Path(output), summary)
            digests = read_digests(run_identity_path(Path(output)))
            changed = changed_input(list_inputs(path, label=label, protect=guarded), digests)
            if changed is not None:
                raise InputError(
                    f"{output}: cannot resume: the input {terminal(changed)} changed since "
                    "its record was written"
                )
        summary.total, summary.skipped = found.total, found.skipped
        sink, run_log = _open(output, resume, run)
    except ProtectedInput as exc:
        _unlock(locked)
        raise BatchRefused(
            f"{output}: is the same file as {exc.path}, an input; refusing to overwrite it"
        ) from None
    except (InputError, OutputError, BatchRefused) as exc:
        _unlock(locked)
        raise BatchRefused(str(exc)) from None
    if on_start is not None:
        on_start(max(summary.total - len(done), 0))
    started = time.perf_counter()
    ended: str | None = None
    stopped = False
    try:
        # CSV rows need only the decisions: workers make the compact records for them.
        made: Detail = "decisions" if format == "csv" else detail
        try:
            stopped = _write_records(
                sink, run_log, found, done, summary, rules, format, made, workers,
                max_lines, should_stop, on_progress, worksheets,
            )  # fmt: skip
        except (WorkerDied, WorksheetNotWritten) as exc:
            ended = str(exc)
        except MemoryError:
            ended = "dli-check ran out of memory"
        if run_log is not None:
            run_log.commit()
        sink.commit()
    finally:
        sink.abandon()
        if run_log is not None:
            run_log.abandon()
        _unlock(locked)
    return BatchOutcome(summary, stopped, ended, time.perf_counter() - started)


def _unlock(locked: int | None) -> None:
    if locked is not None:
        os.close(locked)


def _open(output: str, resume: bool, run: RunIdentity | None) -> tuple[Output, Output | None]:
    try:
        sink = open_output(output, append=resume)
        run_log = None
        if resume or run is not None:  # what each record was made of, for --resume
            run_log = open_output(str(run_identity_path(Path(output))), append=resume)
            if run is not None:
                run_log.write(run.to_bytes())
    except OSError as exc:
        raise BatchRefused(f"{output}: cannot write: {exc.strerror}") from None
    return sink, run_log


def _guard_output(output: str, rules: Decider) -> set[Identity]:
    """The identities an input must not have; refuses an output that is the rule file."""
    if output == "-":
        return set()
    guarded = {i for i in (identity(output), identity(run_identity_path(Path(output)))) if i}
    rules_identity = identity(rules.source)
    if rules_identity is not None and rules_identity in guarded:
        raise OutputError(f"{output}: is the same file as the rule file; refusing to overwrite it")
    return guarded


def _run_identity(
    path: Path, output: str, rules: Decider, format: Format, detail: Detail, resume: bool
) -> tuple[RunIdentity | None, str | None]:
    """The identity to keep beside a JSON Lines output (None when there is none to keep),
    and, when resuming, the input's spelling in the records already written."""
    if output == "-" or format != "jsonl":
        return None, None
    this = RunIdentity(str(path), str(path.resolve()), rules.sha256, format, __version__, detail)
    if not resume:
        return this, None
    recorded = RunIdentity.read(run_identity_path(Path(output)))
    if recorded is None:
        if Path(output).exists() and Path(output).stat().st_size:
            raise InputError(
                f"{output}: has no run record ({run_identity_path(Path(output)).name}); "
                "cannot tell which run made it, so cannot resume"
            )
        return this, None
    differences = this.differences(recorded)
    if differences:
        raise InputError(f"{output}: was made by another run: {'; '.join(differences)}")
    return None, recorded.input


def _write_records(
    sink: Output,
    run_log: Output | None,
    found: Inputs,
    done: set[str],
    summary: Summary,
    rules: Decider,
    format: Format,
    detail: Detail,
    workers: int | None,
    max_lines: int,
    should_stop: Callable[[], bool],
    on_progress: Callable[[int], None] | None,
    worksheets: Worksheets | None,
) -> bool:
    """Evaluate and write every input not done; whether `should_stop` ended it early."""
    matched = [0]
    inputs = _not_done(found.items, done, matched) if done else found.items
    processes = min(workers or os.cpu_count() or 1, max(summary.total - len(done), 1))
    # Record text, each piece ending in a line break, encoded once per write.
    pending: list[str] = [csv_lines([CSV_COLUMNS])] if format == "csv" else []
    read: list[bytes] = []  # the run log's lines: written after the records they describe
    size = 0
    stopped = False
    records = run_batch(
        inputs,
        rules,
        processes,
        detail=detail,
        max_lines=max_lines,
        should_stop=should_stop,
        digests=run_log is not None,
        worksheets=worksheets,
    )
    try:
        for record in records:
            summary.add(record)
            if format == "csv":
                pending.append(csv_lines(csv_rows(record)))
            else:
                pending.append(record.json + "\n")
            if run_log is not None:
                read.append(digest_line(record))
            size += len(pending[-1])
            if size >= WRITE_BYTES:
                _flush(sink, run_log, pending, read)
                size = 0
            if on_progress is not None:
                on_progress(summary.evaluated)
            if should_stop():
                break
    finally:
        records.close()  # ends the workers, whatever ended the loop
        _flush(sink, run_log, pending, read)  # every whole record received is kept
        stopped = should_stop()
    if not stopped:
        # Records of inputs that are gone since: still in the output, so still counted.
        summary.total += len(done) - matched[0]
    return stopped


def _flush(sink: Output, run_log: Output | None, pending: list[str], read: list[bytes]) -> None:
    if pending:
        sink.write("".join(pending).encode())
        pending.clear()
    if run_log is not None and read:
        run_log.write(b"".join(read))
        read.clear()


def _not_done(items: Iterator[Input], done: set[str], matched: list[int]) -> Iterator[Input]:
    for item in items:
        if item.source in done:
            matched[0] += 1
        else:
            yield item
