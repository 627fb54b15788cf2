"""Evaluating many cases: a directory of JSON files or a JSON Lines file, in parallel.

Every input yields exactly one record, in input order whatever the number of workers and
whatever order the file system lists files in: the result JSON with its ``source``, or an
error record naming the problem. A worker process that dies takes no input with it: its
cases are tried again one by one, and the one that kills a worker gets an error record.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from dli_check.engine import Rules, evaluate, load_rules
from dli_check.errors import CaseError, DliCheckError
from dli_check.loaders import parse_case_json, read_case_file

CHUNK = 256
"""Inputs sent to a worker at a time."""
MAX_DEPTH = 64
"""How deep a directory walk goes."""


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


@dataclass
class Inputs:
    """The inputs under a path: how many, the inputs themselves, and what was passed over."""

    total: int
    items: Iterator[Input]
    skipped: Counter[str] = field(default_factory=Counter)


def list_inputs(path: Path, *, exclude: Iterable[Path] = ()) -> Inputs:
    """The inputs under a path.

    A directory gives every ``*.json`` file below it, in sorted path order. Symbolic links
    are followed only to targets inside the directory; loops are cut; a file reached by
    two paths is read once. A ``.jsonl`` file gives each non-blank line. `exclude` names
    files never to read (the output file). Raises `InputError` if the path cannot be read.
    """
    if path.is_dir():
        return _directory_inputs(path, {p.resolve() for p in exclude})
    if path.is_file() and path.suffix == ".jsonl":
        try:
            with path.open("rb") as handle:
                count = sum(1 for line in handle if line.strip())
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        return Inputs(count, _jsonl_inputs(path))
    if path.exists():
        raise InputError(f"{path}: not a directory or a .jsonl file")
    raise InputError(f"{path}: no such file or directory")


def _jsonl_inputs(path: Path) -> Iterator[Input]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Input(f"{path}:{number}", text=line)


def _directory_inputs(root: Path, exclude: set[Path]) -> Inputs:
    skipped: Counter[str] = Counter()
    found: list[tuple[str, Path, Path]] = []
    real_root = root.resolve()
    _walk(root, real_root, (real_root,), found, skipped, exclude)
    found.sort()
    seen: set[Path] = set()
    unique = []
    for _, path, real in found:
        if real in seen:
            skipped["the same file by another path (symbolic link)"] += 1
            continue
        seen.add(real)
        unique.append(path)
    return Inputs(len(unique), (Input(str(p), path=str(p)) for p in unique), skipped)


def _walk(
    directory: Path,
    real_root: Path,
    chain: tuple[Path, ...],
    found: list[tuple[str, Path, Path]],
    skipped: Counter[str],
    exclude: set[Path],
) -> None:
    """Walk `directory`, whose real path is ``chain[-1]``; only symbolic links cost a
    look-up of where they lead."""
    if len(chain) > MAX_DEPTH:
        skipped["directory nested too deeply"] += 1
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        skipped["unreadable directory"] += 1
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):
                skipped["broken symbolic link"] += 1
                continue
            if not real.is_relative_to(real_root):
                skipped["symbolic link out of the input directory"] += 1
                continue
            is_dir = real.is_dir()
        else:
            real = chain[-1] / entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
        if is_dir:
            if real in chain:
                skipped["symbolic link loop"] += 1
            else:
                _walk(path, real_root, (*chain, real), found, skipped, exclude)
        elif real in exclude:
            skipped["the output file"] += 1
        elif entry.name.endswith(".json") and entry.is_file():
            found.append((path.as_posix(), path, real))
        else:
            skipped["not a .json file"] += 1


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
        return error_record(item.source, data, exc.kind, exc.detail, rules.sha256)
    lines = tuple(
        (
            s.decision,
            tuple(r.criterion for r in s.reasons if r.status == "not_met"),
            tuple(r.criterion for r in s.reasons if r.status == "unknown"),
        )
        for s in result.services
    )
    body = result.to_json(indent=None)
    record = f'{{"source":{json.dumps(item.source)},{body[1:]}'
    return Record(item.source, record, result.decision, None, lines)


def error_record(source: str, data: Any, kind: str, message: str, rules_sha256: str) -> Record:
    """The record of an input that gave no decision; the message never holds its content."""
    case_id = data.get("case_id") if isinstance(data, dict) else None
    error = {
        "source": source,
        "case_id": case_id if isinstance(case_id, str) else None,
        "error": {"kind": kind, "message": message},
        "rules_sha256": rules_sha256,
    }
    return Record(source, json.dumps(error, separators=(",", ":")), None, kind)


_worker_rules: Rules | None = None


def _init_worker(rules_path: str | None) -> None:
    global _worker_rules
    # Ctrl-C is the parent's to handle: it stops cleanly and writes what is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_rules = load_rules(rules_path)


def _work(items: list[Input]) -> list[Record]:
    assert _worker_rules is not None
    return [evaluate_input(item, _worker_rules) for item in items]


def run_batch(
    inputs: Iterable[Input], rules_path: str | os.PathLike[str] | None = None, workers: int = 1
) -> Generator[Record, None, None]:
    """Evaluate inputs over `workers` processes; records come back in input order, and
    only a bounded number of inputs is in flight, so memory does not grow with the input."""
    path = None if rules_path is None else str(rules_path)
    rules = load_rules(path)  # fails here, once, for a bad rule file
    if workers <= 1:
        for item in inputs:
            yield evaluate_input(item, rules)
        return
    yield from _Pool(path, workers, rules.sha256).run(iter(inputs))


class _Pool:
    """A process pool that survives its workers' deaths."""

    def __init__(self, rules_path: str | None, workers: int, rules_sha256: str) -> None:
        self.rules_path, self.workers, self.rules_sha256 = rules_path, workers, rules_sha256
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(self.rules_path,),
        )

    def run(self, inputs: Iterator[Input]) -> Iterator[Record]:
        window: deque[tuple[list[Input], Future[list[Record]]]] = deque()
        try:
            while True:
                while len(window) < self.workers * 4:
                    chunk = list(islice(inputs, CHUNK))
                    if not chunk:
                        break
                    window.append((chunk, self._submit(chunk)))
                if not window:
                    return
                chunk, future = window.popleft()
                yield from self._collect(chunk, future)
        finally:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self, chunk: list[Input]) -> Future[list[Record]]:
        try:
            return self.executor.submit(_work, chunk)
        except BrokenProcessPool:
            self._restart()
            return self.executor.submit(_work, chunk)

    def _restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._start()

    def _collect(self, chunk: list[Input], future: Future[list[Record]]) -> Iterator[Record]:
        try:
            yield from future.result()
            return
        except BrokenProcessPool:
            pass
        # A worker died on one of these inputs (or beside them): try each alone.
        for item in chunk:
            try:
                yield from self._submit([item]).result()
            except BrokenProcessPool:
                self._restart()
                yield error_record(
                    item.source,
                    None,
                    "worker_died",
                    "the process evaluating this case died",
                    self.rules_sha256,
                )


@dataclass
class Summary:
    """Counts over a batch; they always add up to the number of inputs."""

    total: int = 0
    already_done: int = 0
    """Inputs that had a record already (``--resume``)."""
    cases: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    not_met: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    """Files passed over that are not inputs (not .json, links out of the directory...)."""

    def add(self, record: Record) -> None:
        """Count one record."""
        if record.decision is None:
            self.errors[record.error_kind or "error"] += 1
            return
        self.cases[record.decision] += 1
        for decision, not_met, unknown in record.lines:
            self.lines[decision] += 1
            self.not_met.update(not_met)
            self.unknown.update(unknown)

    @property
    def evaluated(self) -> int:
        """Inputs that got a record in this run."""
        return self.cases.total() + self.errors.total()

    @property
    def not_evaluated(self) -> int:
        """Inputs left when the run stopped early."""
        return self.total - self.already_done - self.evaluated


def recorded_sources(output: Path) -> set[str]:
    """The sources that already have a whole record in a JSON Lines output file.

    A last line cut short by a crash is removed from the file, so that its input is
    evaluated again and the file stays valid JSON Lines.
    """
    try:
        with output.open("r+b") as handle:
            data = handle.read()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                handle.truncate(end)
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise InputError(f"{output}: cannot resume: {exc.strerror}") from None
    sources = set()
    for number, line in enumerate(data[:end].splitlines(), start=1):
        try:
            sources.add(json.loads(line)["source"])
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{output}:{number}: not a dli-check record; cannot resume") from None
    return sources
