"""Evaluating many cases: a directory of JSON files or a JSON Lines file, in parallel.

Every input yields exactly one record, in input order whatever the number of workers and
whatever order the file system lists files in: the result JSON with its ``source``, or an
error record naming the problem. A case that exhausts memory gets a ``too_large`` record.
A worker process that dies ends the run (`WorkerDied`) after every record before the first
one lost, so that an output of them can be resumed. Every record of a run is decided by
the same compiled rules, and workers end when the parent does, however it ends. The
inputs and records in flight are bounded by bytes, and `list_inputs` remembers each file's
device, inode, size and time, so that a file changed after listing is refused.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import multiprocessing
import os
import signal
import stat
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from dli_check.api import decide_data, load_rules
from dli_check.engine.rules import Rules, rules_from_bytes
from dli_check.errors import CaseError, CaseProblem, DliCheckError
from dli_check.files import MAX_CASE_FILE_BYTES
from dli_check.inert import terminal
from dli_check.inputs.loaders import parse_case_json, read_case_file, too_large
from dli_check.outputs.records import Record, decided_record, error_record, read_record
from dli_check.outputs.worksheet import write_worksheet
from dli_check.outputs.writer import Identity
from dli_check.results import Detail
from dli_check.values.case import MAX_ITEMS
from dli_check.values.icd10cm import code_index

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider

CHUNK = 256
"""Inputs sent to a worker at a time."""
MAX_DEPTH = 64
"""How deep a directory walk goes."""


class InputError(DliCheckError):
    """The batch input path cannot be used at all (not one case is read)."""


class ProtectedInput(InputError):
    """An input that is the output file: writing would destroy it."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is an input of this batch")
        self.path = path


FileVersion = tuple[int, int, int, int]
"""A file as listed: (device, inode, size, modification time in ns). An inode alone is
reused when a file is deleted and another made."""


class Input(NamedTuple):
    """One case to evaluate: a file, or one line of a JSON Lines file. (Named tuples, as
    `Record`: they cross to and from workers, and pickle in a third of the time that
    dataclasses take.)"""

    source: str
    path: str | None = None
    text: bytes | None = None
    identity: FileVersion | None = None
    """The file's (device, inode, size, mtime) when it was listed: a file swapped or
    changed since is refused."""
    too_large: bool = False
    """A JSON Lines line over the size limit, left unread."""


@dataclass
class Inputs:
    """The inputs under a path: how many, the inputs themselves, and what was passed over."""

    total: int
    items: Iterator[Input]
    skipped: Counter[str] = field(default_factory=Counter)

    def __iter__(self) -> Iterator[Input]:
        return self.items


def list_inputs(
    path: Path, *, label: str | None = None, protect: Iterable[Identity] = ()
) -> Inputs:
    """The inputs under a path.

    A directory gives every ``*.json`` file below it, in sorted path order. Symbolic links
    are followed only to targets inside the directory; loops are cut; a file reached by
    two paths is read once. A ``.jsonl`` file gives each non-blank line. Sources name
    files under `label` in place of `path` (``--resume`` keeps the spelling of the run it
    continues). Raises `InputError` if the path cannot be read, or if an input is one of
    the `protect` files (the output: it would be overwritten while it is read).
    """
    label = str(path) if label is None else label
    guarded = set(protect)
    if path.is_dir():
        return _directory_inputs(path, Path(label), guarded)
    if path.is_file() and path.suffix == ".jsonl":
        try:
            with path.open("rb") as handle:
                info = os.fstat(handle.fileno())
                if (info.st_dev, info.st_ino) in guarded:
                    raise ProtectedInput(str(path))
                count = sum(1 for _ in _jsonl_lines(handle))
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        return Inputs(count, _jsonl_inputs(path, label))
    if path.exists():
        raise InputError(f"{path}: not a directory or a .jsonl file")
    raise InputError(f"{path}: no such file or directory")


def _jsonl_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each non-blank line; None for a line over the size limit,
    which is skipped without being held in memory."""
    number = 0
    while True:
        line = handle.readline(MAX_CASE_FILE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_CASE_FILE_BYTES and not line.endswith(b"\n"):
            blank = not line.strip()
            while not line.endswith(b"\n"):
                line = handle.readline(1 << 20)
                if not line:
                    break
                blank = blank and not line.strip()
            if not blank:
                yield number, None
        elif line.strip():
            yield number, line


def _jsonl_inputs(path: Path, label: str) -> Iterator[Input]:
    with path.open("rb") as handle:
        for number, line in _jsonl_lines(handle):
            yield Input(f"{label}:{number}", text=line, too_large=line is None)


def _directory_inputs(root: Path, label: Path, guarded: set[Identity]) -> Inputs:
    skipped: Counter[str] = Counter()
    found: list[tuple[str, Path, Path, FileVersion]] = []
    real_root = root.resolve()
    _walk(root, real_root, (real_root,), found, skipped)
    found.sort()
    seen: set[Path] = set()
    unique = []
    for _, path, real, ident in found:
        if ident[:2] in guarded:
            raise ProtectedInput(str(path))
        if real in seen:
            skipped["the same file by another path (symbolic link)"] += 1
            continue
        seen.add(real)
        unique.append((path, real, ident))
    relabel = label != root
    items = (
        Input(str(label / p.relative_to(root) if relabel else p), path=str(real), identity=ident)
        for p, real, ident in unique
    )
    return Inputs(len(unique), items, skipped)


def _walk(
    directory: Path,
    real_root: Path,
    chain: tuple[Path, ...],
    found: list[tuple[str, Path, Path, FileVersion]],
    skipped: Counter[str],
) -> None:
    """Walk `directory`, whose real path is ``chain[-1]``; only symbolic links cost a
    look-up of where they lead."""
    if len(chain) > MAX_DEPTH:
        skipped["directory nested too deeply"] += 1
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
        device = os.stat(directory).st_dev
    except OSError:
        skipped["unreadable directory"] += 1
        return
    for entry in entries:
        path = Path(entry.path)
        info: os.stat_result | None
        try:
            if entry.is_symlink():
                try:
                    real = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    skipped["broken symbolic link"] += 1
                    continue
                if not real.is_relative_to(real_root):
                    skipped["symbolic link out of the input directory"] += 1
                    continue
                info = os.stat(real)
                is_dir, is_file = stat.S_ISDIR(info.st_mode), stat.S_ISREG(info.st_mode)
            else:
                # The directory listing gives the type without a stat per entry.
                real = chain[-1] / entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=False)
                info = entry.stat(follow_symlinks=False) if is_file else None
            version = (
                (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
                if info is not None and is_file
                else (device, 0, 0, 0)
            )
        except OSError:
            skipped["vanished while listed"] += 1
            continue
        if is_dir:
            if real in chain:
                skipped["symbolic link loop"] += 1
            else:
                _walk(path, real_root, (*chain, real), found, skipped)
        elif is_file and entry.name.endswith(".json"):
            found.append((path.as_posix(), path, real, version))
        else:
            skipped["not a .json file"] += 1


MAX_LINES_PER_CASE = MAX_ITEMS
"""Service lines a case may have by default (``--max-lines-per-case``); a larger case is
one ``too_large`` record."""
MAX_RECORD_BYTES = 16 * 1024 * 1024
"""The largest record written: a larger result is a ``too_large`` record instead."""


def evaluate_input(
    item: Input,
    rules: Decider,
    detail: Detail = "full",
    max_lines: int = MAX_LINES_PER_CASE,
    digest: bool = False,
    worksheets: Worksheets | None = None,
) -> Record:
    """Evaluate one input into its record (full, or the compact decisions record); never
    raises for a bad case. A case of more than `max_lines` service lines, or whose record
    would pass `MAX_RECORD_BYTES`, gets a ``too_large`` record. With `digest`, the record
    says what was read (`Record.read`), for a run file that ``--resume`` checks. With
    `worksheets`, a decided case's worksheet is written too (`WorksheetNotWritten` when it
    cannot be)."""
    try:
        if item.too_large:
            raise too_large(item.source)
        if item.path is not None:
            raw = read_case_file(item.path, follow_symlinks=False, identity=item.identity)
        else:
            raw = item.text or b""
    except CaseError as exc:
        return error_record(item.source, None, exc, rules.sha256)
    record = _evaluate(item, raw, rules, detail, max_lines, worksheets)
    if not digest:
        return record
    mtime = item.identity[3] if item.identity is not None else -1
    return record._replace(read=(len(raw), mtime, hashlib.sha256(raw).hexdigest()))


def _evaluate(
    item: Input,
    raw: bytes,
    rules: Decider,
    detail: Detail,
    max_lines: int,
    worksheets: Worksheets | None,
) -> Record:
    data: Any = None
    try:
        data = parse_case_json(raw, item.source, field_names=rules.field_names)
        lines = data.get("services") if isinstance(data, dict) else None
        if isinstance(lines, list) and len(lines) > max_lines:
            raise _too_many_lines(item.source, max_lines)
        result = decide_data(data, rules, item.source, raw)
        if len(result.services) > max_lines:  # a FHIR Bundle's lines are known only now
            raise _too_many_lines(item.source, max_lines)
        body = result.to_json(indent=None, detail=detail)
        if len(body) > MAX_RECORD_BYTES:
            limit = MAX_RECORD_BYTES // (1024 * 1024)
            message = f"its record would be larger than the {limit} MiB limit"
            raise CaseError.one(item.source, message, kind="too_large")
    except CaseError as exc:
        return error_record(item.source, data, exc, rules.sha256)
    except DliCheckError as exc:  # a FHIR Bundle without the fhir extra, a bad FHIRPath
        return _failed(item.source, str(exc), "unsupported", rules)
    except MemoryError:
        data = None  # let the memory go before anything else is made
        return _failed(item.source, "the case needs more memory than there is", "too_large", rules)
    except Exception as exc:  # one case must not end a night's run
        name = type(exc).__name__
        message = f"dli-check failed on this case ({name}); please report it"
        return _failed(item.source, message, "internal_error", rules)
    if worksheets is not None:
        try:
            write_worksheet(Path(worksheets.directory), result, rules, worksheets.decided_on)
        except OSError as exc:
            raise WorksheetNotWritten(worksheets.directory, exc) from None
    return decided_record(item.source, result, body, detail)


def _too_many_lines(source: str, limit: int) -> CaseError:
    message = f"more than {limit} service lines (--max-lines-per-case)"
    return CaseError.one(source, message, path=("services",), kind="too_large")


def _failed(source: str, message: str, kind: str, rules: Decider) -> Record:
    problem = CaseProblem((), message, kind)
    return error_record(source, None, CaseError(source, [problem]), rules.sha256)


class Worksheets(NamedTuple):
    """Where a batch writes each decided case's worksheet (``--worksheets``), and the date
    every worksheet of the run says it was decided on."""

    directory: str
    decided_on: str


class WorksheetNotWritten(DliCheckError):
    """A worksheet could not be written: the batch ends there, every record before the
    case's kept (``--resume`` continues)."""

    def __init__(self, directory: str, exc: OSError) -> None:
        super().__init__(f"cannot write a worksheet in {directory}: {exc.strerror or exc}")


class WorkerDied(DliCheckError):
    """A worker process died (killed, say, by the out-of-memory killer): the batch ends.
    Every record before the first one lost was yielded, in order, so an output made of
    them can be resumed."""


RulePayload = tuple[str | None, tuple[tuple[bytes, str, str], ...]]
"""What a worker needs to rebuild the rules: the directory of a rule set (None for one rule
file), and each rule file's bytes, name and sha256."""


def _payload(rules: Decider) -> RulePayload:
    files = tuple((v.raw, v.source, v.sha256) for v in rules.versions)
    return (None if isinstance(rules, Rules) else rules.source), files


def _from_payload(payload: RulePayload) -> Decider:
    directory, files = payload
    versions = []
    for raw, name, sha256 in files:
        if hashlib.sha256(raw).hexdigest() != sha256:  # pragma: no cover - a broken pipe
            raise RuntimeError("the rule file's bytes changed on the way to a worker")
        versions.append(rules_from_bytes(raw, name))
    if directory is None:
        return versions[0]
    from dli_check.engine.versions import RuleSet, check_versions

    return RuleSet(directory, tuple(check_versions(versions)))


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so that a killed
    batch leaves no worker behind holding its output open."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


CHUNK_BYTES = 256 * 1024
"""Input text sent to a worker at a time, at most (and at most `CHUNK` inputs)."""
FLUSH_BYTES = 1024 * 1024
"""Record text a worker holds before it sends what it has."""
MAX_HELD_BYTES = 64 * 1024 * 1024
"""Record text the parent holds for order (records done before an earlier one): past it,
no new work is handed out until the earliest input's records arrive."""
_POLL = 0.2
"""Seconds between checks of `should_stop` while waiting for workers."""


_Message = tuple[int, bool, list[Record]] | str
"""What a worker sends the parent: a chunk's number, whether these are its last records,
and the records; or, before it exits, why it cannot go on."""

_NO_MEMORY, _FAILED = 75, 70
"""How a worker that cannot go on exits: out of memory outside any one case, or a bug (or
a worksheet it could not write, having said so first)."""


def _worker_main(
    tasks: Any,
    results: Connection,
    rules: Decider | RulePayload,
    parent: int,
    detail: Detail,
    max_lines: int,
    digest: bool,
    worksheets: Worksheets | None,
) -> None:
    # Stopping is the parent's to decide: it ends its workers with SIGKILL when it stops,
    # and the kernel ends them when it dies.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent)
    try:
        _serve(tasks, results, rules, detail, max_lines, digest, worksheets)
    except MemoryError:
        os._exit(_NO_MEMORY)
    except BaseException:  # no traceback: the parent names what happened
        os._exit(_FAILED)


def _serve(
    tasks: Any,
    results: Connection,
    rules: Decider | RulePayload,
    detail: Detail,
    max_lines: int,
    digest: bool,
    worksheets: Worksheets | None,
) -> None:
    if isinstance(rules, tuple):  # spawned: the rules come as bytes, compiled here
        rules = _from_payload(rules)
    # What the worker has now (the parent's objects, the rules) lives as long as it does:
    # out of the collector's sight, its pages stay shared with the parent's, not copied.
    gc.freeze()
    while True:
        task: tuple[int, list[Input]] | None = tasks.get()
        if task is None:
            return
        number, chunk = task
        done: list[Record] = []
        held = 0
        for item in chunk:
            try:
                record = evaluate_input(item, rules, detail, max_lines, digest, worksheets)
            except WorksheetNotWritten as exc:
                results.send((number, False, done))  # the records before it are kept
                results.send(str(exc))  # its last word: why it stops
                raise
            done.append(record)
            held += len(record.json)
            if held >= FLUSH_BYTES:
                results.send((number, False, done))
                done, held = [], 0
        results.send((number, True, done))


def run_batch(
    inputs: Iterable[Input],
    rules: Decider | str | os.PathLike[str] | None = None,
    workers: int = 1,
    *,
    detail: Detail = "full",
    max_lines: int = MAX_LINES_PER_CASE,
    should_stop: Callable[[], bool] | None = None,
    digests: bool = False,
    worksheets: Worksheets | None = None,
) -> Generator[Record, None, None]:
    """Evaluate inputs (an `Inputs` from `list_inputs`, or any iterable of `Input`) over
    `workers` processes; records come back in input order.

    Memory does not grow with the input: the inputs and records in flight are bounded by
    bytes, not only by count. `rules` is a loaded `Rules` (or `RuleSet`), a rule file's
    path, or None for the bundled rules; every worker decides by the same compiled rules
    (forked workers share the parent's; spawned ones compile the same bytes, checked by
    sha256). `detail` chooses full records or
    compact decisions records; `max_lines` is the most service lines a case may have;
    `digests`: each record says what was read to make it (`Record.read`); `worksheets`:
    where each decided case's worksheet is written (a worksheet that cannot be written
    ends the run with `WorksheetNotWritten` or, from a worker, `WorkerDied`, after every
    record before it).

    The run ends early, without raising, when `should_stop()` (checked at least every
    0.2 s, whatever the workers are doing) says so. A worker that dies ends it with
    `WorkerDied`, after every record before the first one lost. Either way the workers
    are gone within seconds.
    """
    if rules is None or isinstance(rules, str | os.PathLike):
        rules = load_rules(rules)  # fails here, once, for a bad rule file
    stop = should_stop or (lambda: False)
    if workers <= 1:
        for item in inputs:
            if stop():
                return
            yield evaluate_input(item, rules, detail, max_lines, digests, worksheets)
        return
    pool = _Pool(rules, workers, detail, max_lines, digests, worksheets)
    try:
        yield from pool.run(iter(inputs), stop)
    finally:
        pool.close()


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    results: Connection


class _Pool:
    """Worker processes that take chunks of inputs from one queue (its feeder thread never
    lets the parent block on a busy worker) and send records back, tagged with their
    chunk, each on a pipe of its own. The parent waits on those pipes and on each
    process's sentinel together, so a death is seen at once."""

    def __init__(
        self,
        rules: Decider,
        workers: int,
        detail: Detail,
        lines: int,
        digests: bool,
        worksheets: Worksheets | None,
    ) -> None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":
            code_index().prepare()
        context: Any = multiprocessing.get_context(method)
        # Forked workers share the parent's compiled rules; spawned ones compile the bytes.
        shared: Decider | RulePayload = rules if method == "fork" else _payload(rules)
        self.tasks: Any = context.Queue()
        self.workers: list[_Worker] = []
        self.received: dict[int, deque[Record]] = {}
        """Records received per chunk number, not yet yielded."""
        self.finished: set[int] = set()
        self.held = 0
        """Bytes of the records received and not yet yielded."""
        self.sent = self.head = 0
        """Chunks handed out; the chunk whose records come next."""
        self.last_word: str | None = None
        """What a worker said before it exited (a worksheet it could not write)."""
        for _ in range(workers):
            result_reader, result_writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_main,
                args=(
                    self.tasks,
                    result_writer,
                    shared,
                    os.getpid(),
                    detail,
                    lines,
                    digests,
                    worksheets,
                ),
                daemon=True,
            )
            process.start()
            result_writer.close()
            self.workers.append(_Worker(process, result_reader))

    def run(self, inputs: Iterator[Input], stop: Callable[[], bool]) -> Iterator[Record]:
        exhausted = False
        while True:
            # Hand out work while there is room: a few chunks per worker, so that none
            # waits for the parent between two.
            while not exhausted and self._room():
                chunk = _next_chunk(inputs)
                if not chunk:
                    exhausted = True
                    break
                self.tasks.put((self.sent, chunk))
                self.received[self.sent] = deque()
                self.sent += 1
            yield from self._in_order()
            if (exhausted and self.head == self.sent) or stop():
                return
            waiting: list[Any] = [w.results for w in self.workers]
            waiting += [w.process.sentinel for w in self.workers]
            for ready in wait(waiting, _POLL):
                worker = self._owner(ready)
                if ready is worker.results:
                    self._receive(worker)
                elif not worker.process.is_alive():
                    while self._receive(worker):  # what it sent before it died is kept
                        pass
                    yield from self._in_order()
                    raise WorkerDied(self.last_word or _death(worker.process.exitcode))

    def _room(self) -> bool:
        """Whether more work may be handed out (bounded by chunks and by bytes held)."""
        return self.held < MAX_HELD_BYTES and self.sent - self.head < 3 * len(self.workers)

    def _receive(self, worker: _Worker) -> bool:
        """Take one message from a worker; False when there was none (or it died: its
        sentinel says how)."""
        try:
            if not worker.results.poll():
                return False
            message: _Message = worker.results.recv()
        except (EOFError, OSError):
            return False
        if isinstance(message, str):  # a worker's last word, before it exits
            self.last_word = message
            return True
        number, last, records = message
        self.received[number].extend(records)
        self.held += sum(len(r.json) for r in records)
        if last:
            self.finished.add(number)
        return True

    def _in_order(self) -> Iterator[Record]:
        """The records received that come next in input order."""
        while self.head in self.received:
            ready = self.received[self.head]
            while ready:
                record = ready.popleft()
                self.held -= len(record.json)
                yield record
            if self.head not in self.finished:
                return
            del self.received[self.head]
            self.finished.discard(self.head)
            self.head += 1

    def _owner(self, ready: object) -> _Worker:
        for worker in self.workers:
            if ready is worker.results or ready == worker.process.sentinel:
                return worker
        raise AssertionError("wait() returned an object of no worker")  # pragma: no cover

    def close(self) -> None:
        """End every worker now (SIGKILL: nothing they hold is wanted any more), and the
        queue without waiting for what it still holds to be read."""
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()
        self.tasks.cancel_join_thread()
        self.tasks.close()
        for worker in self.workers:
            worker.process.join(5)
            worker.results.close()


def _next_chunk(inputs: Iterator[Input]) -> list[Input]:
    chunk: list[Input] = []
    size = 0
    for item in inputs:
        chunk.append(item)
        size += len(item.text or b"")
        if len(chunk) >= CHUNK or size >= CHUNK_BYTES:
            break
    return chunk


def _death(exitcode: int | None) -> str:
    """What happened to a worker, in words."""
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "an unknown signal"
        likely = ", likely out of memory" if number == signal.SIGKILL else ""
        return f"a worker was killed (signal {number}, {name}{likely})"
    if exitcode == _NO_MEMORY:
        return "a worker ran out of memory"
    return f"a worker ended unexpectedly (exit status {exitcode})"


@dataclass
class Summary:
    """Counts over a batch's output; they always add up to the number of inputs."""

    total: int = 0
    already_done: int = 0
    """Records that were in the output already (``--resume``): counted in the decisions."""
    cases: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    not_met: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    """Files passed over that are not inputs (not .json, links out of the directory...)."""
    watch: Callable[[Record], None] | None = field(default=None, repr=False, compare=False)
    """Also told of each record counted (a dashboard's tally)."""

    def add(self, record: Record, *, earlier: bool = False) -> None:
        """Count one record; `earlier` for one already in the output."""
        if self.watch is not None:
            self.watch(record)
        self.already_done += earlier
        if record.decision is None:
            self.errors[record.error_kind or "error"] += 1
            return
        self.cases[record.decision] += 1
        for line in record.lines:
            self.lines[line.decision] += 1
            if line.not_met:  # most lines meet every criterion: no update to make
                self.not_met.update(line.not_met)
            if line.unknown:
                self.unknown.update(line.unknown)

    @property
    def recorded(self) -> int:
        """Inputs that have a record in the output."""
        return self.cases.total() + self.errors.total()

    @property
    def evaluated(self) -> int:
        """Inputs that got a record in this run."""
        return self.recorded - self.already_done

    @property
    def not_evaluated(self) -> int:
        """Inputs left when the run stopped early."""
        return max(self.total - self.recorded, 0)


def read_recorded(output: Path, summary: Summary) -> set[str]:
    """The sources that already have a whole record in a JSON Lines output, counting each
    record into `summary`. Streams the file: memory holds the set of sources only.

    A last line cut short by a crash is removed from the file, so that its input is
    evaluated again and the file stays valid JSON Lines.
    """
    try:
        _cut_partial_line(output)
        handle = output.open("rb")
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise InputError(f"{output}: cannot resume: {exc.strerror}") from None
    sources: set[str] = set()
    with handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = read_record(line)
            except ValueError:
                raise InputError(
                    f"{output}:{number}: not a dli-check record; cannot resume"
                ) from None
            if record.source in sources:
                raise InputError(
                    f"{output}:{number}: a second record of {terminal(record.source)}; "
                    "cannot resume"
                )
            sources.add(record.source)
            summary.add(record, earlier=True)
    return sources


def _cut_partial_line(path: Path) -> None:
    """Cut the file back to its last newline, reading only its end."""
    with path.open("r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            step = min(position, 1 << 16)
            handle.seek(position - step)
            block = handle.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                position = position - step + newline + 1
                break
            position -= step
        if position < end:
            handle.truncate(position)


@dataclass(frozen=True)
class RunIdentity:
    """What makes two batch runs the same run, kept beside a JSON Lines output (in
    ``OUTPUT.run``) so that ``--resume`` continues only the run that made the output."""

    input: str
    """The input path as it was given: the spelling the records' sources use."""
    input_resolved: str
    rules_sha256: str
    format: str
    engine_version: str
    detail: str = "full"
    """``full`` or ``decisions`` records (run records older than ``--detail`` are full)."""

    def to_bytes(self) -> bytes:
        """The identity as one line of JSON, the same bytes for the same run."""
        fields = {
            "input": self.input,
            "input_resolved": self.input_resolved,
            "rules_sha256": self.rules_sha256,
            "format": self.format,
            "engine_version": self.engine_version,
            "detail": self.detail,
        }
        return (json.dumps(fields, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, path: Path) -> RunIdentity | None:
        """The identity stored at `path`; None if there is none. Raises `InputError` for
        a file that is not one."""
        try:
            with path.open("rb") as handle:
                data = json.loads(handle.readline())
            fields = [name for name in cls.__dataclass_fields__ if name != "detail"]
            return cls(
                **{name: str(data[name]) for name in fields},
                detail=str(data.get("detail", "full")),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{path}: not a dli-check run record; cannot resume") from None

    def differences(self, other: RunIdentity) -> list[str]:
        """What differs from `other`, in words (never a case's content)."""
        words = []
        if self.input_resolved != other.input_resolved:
            words.append(f"input {other.input_resolved} (this run: {self.input_resolved})")
        if self.rules_sha256 != other.rules_sha256:
            words.append(
                f"rules sha256 {other.rules_sha256[:12]}… (this run: {self.rules_sha256[:12]}…)"
            )
        if self.format != other.format:
            words.append(f"format {other.format} (this run: {self.format})")
        if self.detail != other.detail:
            words.append(f"--detail {other.detail} (this run: {self.detail})")
        if self.engine_version != other.engine_version:
            words.append(f"dli-check {other.engine_version} (this run: {self.engine_version})")
        return words


def run_identity_path(output: Path) -> Path:
    """Where a JSON Lines output's run identity is kept: beside it, ``OUTPUT.run``."""
    return output.with_name(output.name + ".run")


_json_string: Any = getattr(json.encoder, "c_encode_basestring_ascii", None) or (
    json.encoder.encode_basestring_ascii
)

Digest = tuple[int, int, str | None]
"""What a run read of one input: size, modification time in ns (-1 for a line of a JSON
Lines file) and the sha256 of its bytes (None when it was not read)."""


def digest_line(record: Record) -> bytes:
    """The line a run file keeps for one record: what was read to make it (written as
    ``json.dumps`` would, without its set-up: the batch process writes one per case).

    >>> digest_line(Record("a.json", "{}", None, None, read=(3, 7, "ab")))
    b'{"source":"a.json","size":3,"mtime_ns":7,"sha256":"ab"}\\n'
    """
    size, mtime, sha256 = record.read if record.read is not None else (0, -1, None)
    digest = "null" if sha256 is None else f'"{sha256}"'
    source = _json_string(record.source)
    line = f'{{"source":{source},"size":{size},"mtime_ns":{mtime},"sha256":{digest}}}\n'
    return line.encode()


def read_digests(path: Path) -> dict[str, Digest]:
    """What earlier runs read, by source: the lines after a run file's first. Raises
    `InputError` for a line that is not one."""
    digests: dict[str, Digest] = {}
    try:
        with path.open("rb") as handle:
            handle.readline()  # the run's identity
            for number, line in enumerate(handle, start=2):
                try:
                    entry = json.loads(line)
                    sha256 = entry["sha256"]
                    digests[str(entry["source"])] = (
                        int(entry["size"]),
                        int(entry["mtime_ns"]),
                        None if sha256 is None else str(sha256),
                    )
                except (ValueError, KeyError, TypeError):
                    raise InputError(f"{path}:{number}: not a dli-check run record") from None
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return digests


def changed_input(inputs: Iterable[Input], digests: dict[str, Digest]) -> str | None:
    """The first input whose bytes differ from what an earlier run read of it (its record
    is in the output), or None. Files whose size or time differ are changed; the others
    are read again and hashed."""
    for item in inputs:
        known = digests.get(item.source)
        if known is None:
            continue
        size, mtime, sha256 = known
        if item.path is None:
            now = None if item.too_large else hashlib.sha256(item.text or b"").hexdigest()
            if now != sha256:
                return item.source
            continue
        if item.identity is None or (item.identity[2], item.identity[3]) != (size, mtime):
            return item.source
        try:
            raw = read_case_file(item.path, follow_symlinks=False, identity=item.identity)
        except CaseError:
            return item.source
        if hashlib.sha256(raw).hexdigest() != sha256:
            return item.source
    return None


class OutputLocked(InputError):
    """Another dli-check is writing the same output."""


def lock_output(output: Path) -> int | None:
    """Hold an exclusive lock for writing `output` (on ``OUTPUT.lock``, made beside it and
    left there: removing a lock file races with whoever opens it next); the descriptor,
    to close when the run ends, or None for an output that is not a file (a pipe, a
    device). Raises `OutputLocked` at once if another run holds it."""
    import fcntl

    try:
        if not stat.S_ISREG(os.stat(output).st_mode):
            return None
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise InputError(f"{output}: cannot write: {exc.strerror}") from None
    lock = output.with_name(output.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise InputError(f"{lock}: cannot lock: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutputLocked(f"another dli-check is writing {output}") from None
    return fd
