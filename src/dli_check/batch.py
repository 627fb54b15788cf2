"""Evaluating many cases: a directory of JSON files or a JSON Lines file, in parallel.

Every input yields exactly one record, in input order whatever the number of workers: the
result JSON with its ``source``, or an error record naming the problem. Records are JSON
text, ready to be written as JSON Lines.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dli_check.engine import Rules, evaluate, load_rules
from dli_check.errors import CaseError, DliCheckError
from dli_check.loaders import parse_case_json, read_case_file


class InputError(DliCheckError):
    """The batch input path cannot be used at all (not one case is read)."""


@dataclass(frozen=True)
class Input:
    """One case to evaluate: a file, or one line of a JSON Lines file."""

    source: str
    path: str | None = None
    text: bytes | None = None


@dataclass(frozen=True)
class Record:
    """The outcome for one input: its JSON Lines record and what a summary needs."""

    source: str
    json: str
    decision: str | None
    """The case decision, or None for an error record."""
    error_kind: str | None
    lines: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    """Per service line: (decision, criteria not met, criteria unknown)."""


def list_inputs(path: Path) -> tuple[int, Iterator[Input]]:
    """The inputs under a path, and how many there are.

    A directory gives every ``*.json`` file below it, in sorted path order; a ``.jsonl``
    file gives each non-blank line. Raises `InputError` if the path cannot be read.
    """
    if path.is_dir():
        files = sorted((p for p in path.rglob("*.json") if p.is_file()), key=lambda p: p.as_posix())
        return len(files), (Input(str(p), path=str(p)) for p in files)
    if path.is_file() and path.suffix == ".jsonl":
        try:
            with path.open("rb") as handle:
                count = sum(1 for line in handle if line.strip())
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        return count, _jsonl_inputs(path)
    if path.exists():
        raise InputError(f"{path}: not a directory or a .jsonl file")
    raise InputError(f"{path}: no such file or directory")


def _jsonl_inputs(path: Path) -> Iterator[Input]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Input(f"{path}:{number}", text=line)


def evaluate_input(item: Input, rules: Rules) -> Record:
    """Evaluate one input into its record; never raises for a bad case."""
    data: Any = None
    try:
        if item.path is not None:
            data = read_case_file(Path(item.path))
        else:
            data = parse_case_json(item.text or b"", item.source)
        result = evaluate(data, rules, source=item.source)
    except CaseError as exc:
        return _error_record(item.source, data, exc.kind, exc.detail)
    lines = tuple(
        (
            s.decision,
            tuple(r.criterion for r in s.reasons if r.status == "not_met"),
            tuple(r.criterion for r in s.reasons if r.status == "unknown"),
        )
        for s in result.services
    )
    body = result.model_dump_json()
    record = f'{{"source":{json.dumps(item.source)},{body[1:]}'
    return Record(item.source, record, result.decision, None, lines)


def _error_record(source: str, data: Any, kind: str, message: str) -> Record:
    case_id = data.get("case_id") if isinstance(data, dict) else None
    error = {
        "source": source,
        "case_id": case_id if isinstance(case_id, str) else None,
        "error": {"kind": kind, "message": message},
    }
    return Record(source, json.dumps(error, separators=(",", ":")), None, kind)


_worker_rules: Rules | None = None


def _init_worker(rules_path: str | None) -> None:
    global _worker_rules
    _worker_rules = load_rules(rules_path)


def _work(item: Input) -> Record:
    assert _worker_rules is not None
    return evaluate_input(item, _worker_rules)


def run_batch(
    inputs: Iterable[Input], rules_path: str | os.PathLike[str] | None = None, workers: int = 1
) -> Iterator[Record]:
    """Evaluate inputs over `workers` processes; records come back in input order."""
    path = None if rules_path is None else str(rules_path)
    rules = load_rules(path)  # fails here, once, for a bad rule file
    if workers <= 1:
        for item in inputs:
            yield evaluate_input(item, rules)
        return
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(path,)) as pool:
        yield from pool.imap(_work, inputs, chunksize=32)
