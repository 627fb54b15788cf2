"""Evaluating many cases: a directory of JSON files or a JSON Lines file, in parallel.

Every input yields exactly one record, in input order whatever the number of workers and
whatever order the file system lists files in: the result JSON with its ``source``, or an
error record naming the problem. A worker process that dies takes no input with it: its
cases are tried again one by one, and the one that kills a worker gets an error record. A
case that exhausts memory gets a ``too_large`` record. Workers get the rule file's bytes
from the parent, read once, so that every record of a run is decided by the same rules,
and they end when the parent does, however it ends.
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
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from dli_check.engine import Rules, load_rules, rules_from_bytes
from dli_check.errors import CaseError, CaseProblem, DliCheckError
from dli_check.icd10cm import code_index
from dli_check.loaders import MAX_CASE_FILE_BYTES, parse_case_json, read_case_file, too_large
from dli_check.output import Identity
from dli_check.results import Detail

if TYPE_CHECKING:
    from dli_check.versions import RuleSet

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


class Input(NamedTuple):
    """One case to evaluate: a file, or one line of a JSON Lines file. (Named tuples, as
    `Record`: they cross to and from workers, and pickle in a third of the time that
    dataclasses take.)"""

    source: str
    path: str | None = None
    text: bytes | None = None
    identity: Identity | None = None
    """The file's (device, inode) when it was listed: a file swapped since is refused."""
    too_large: bool = False
    """A JSON Lines line over the size limit, left unread."""


class Record(NamedTuple):
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
    found: list[tuple[str, Path, Path, Identity]] = []
    real_root = root.resolve()
    _walk(root, real_root, (real_root,), found, skipped)
    found.sort()
    seen: set[Path] = set()
    unique = []
    for _, path, real, ident in found:
        if ident in guarded:
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
    found: list[tuple[str, Path, Path, Identity]],
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
                identity = (info.st_dev, info.st_ino)
            else:
                # The directory listing gives the type and inode without a stat per file.
                real = chain[-1] / entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=False)
                identity = (device, entry.inode())
        except OSError:
            skipped["vanished while listed"] += 1
            continue
        if is_dir:
            if real in chain:
                skipped["symbolic link loop"] += 1
            else:
                _walk(path, real_root, (*chain, real), found, skipped)
        elif is_file and entry.name.endswith(".json"):
            found.append((path.as_posix(), path, real, identity))
        else:
            skipped["not a .json file"] += 1


def evaluate_input(item: Input, rules: Rules | RuleSet, detail: Detail = "full") -> Record:
    """Evaluate one input into its record (full, or the compact decisions record); never
    raises for a bad case."""
    data: Any = None
    try:
        if item.too_large:
            raise too_large(item.source)
        if item.path is not None:
            raw = read_case_file(item.path, follow_symlinks=False, identity=item.identity)
        else:
            raw = item.text or b""
        data = parse_case_json(raw, item.source, field_names=rules.field_names)
        result = rules.decide_data(data, item.source, raw)
        body = result.to_json(indent=None, detail=detail)
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
    lines = tuple(
        (s.decision, (), ())
        if s.service is None  # no criterion of the guideline was judged
        else (
            s.decision,
            tuple(r.criterion for r in s.reasons if r.status == "not_met"),
            tuple(r.criterion for r in s.reasons if r.status == "unknown"),
        )
        for s in result.services
    )
    record = f'{{"source":{json.dumps(item.source)},{body[1:]}'
    return Record(item.source, record, result.decision, None, lines)


def error_record(source: str, data: Any, error: CaseError, rules_sha256: str) -> Record:
    """The record of an input that gave no decision; the message never holds its content."""
    case_id = data.get("case_id") if isinstance(data, dict) else None
    record = {
        "source": source,
        "case_id": case_id if isinstance(case_id, str) else None,
        "error": {
            "kind": error.kind,
            "message": error.detail,
            "problems": [p.as_json() for p in error.problems],
        },
        "rules_sha256": rules_sha256,
    }
    return Record(source, json.dumps(record, separators=(",", ":")), None, error.kind)


def _failed(source: str, message: str, kind: str, rules: Rules | RuleSet) -> Record:
    problem = CaseProblem((), message, kind)
    return error_record(source, None, CaseError(source, [problem]), rules.sha256)


_worker_rules: Rules | RuleSet | None = None
_worker_detail: Detail = "full"


RulePayload = tuple[str | None, tuple[tuple[bytes, str, str], ...]]
"""What a worker needs to rebuild the rules: the directory of a rule set (None for one rule
file), and each rule file's bytes, name and sha256."""


def _payload(rules: Rules | RuleSet) -> RulePayload:
    if isinstance(rules, Rules):
        return None, ((rules.raw, rules.source, rules.sha256),)
    return rules.source, tuple((v.raw, v.source, v.sha256) for v in rules.versions)


def _from_payload(payload: RulePayload) -> Rules | RuleSet:
    directory, files = payload
    versions = []
    for raw, name, sha256 in files:
        if hashlib.sha256(raw).hexdigest() != sha256:  # pragma: no cover - a broken pipe
            raise RuntimeError("the rule file's bytes changed on the way to a worker")
        versions.append(rules_from_bytes(raw, name))
    if directory is None:
        return versions[0]
    from dli_check.versions import RuleSet, check_versions

    return RuleSet(directory, tuple(check_versions(versions)))


def _init_worker(payload: RulePayload, parent: int, detail: Detail) -> None:
    global _worker_rules, _worker_detail
    # Stopping is the parent's to decide: it stops cleanly and writes what is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent)
    _worker_rules = _from_payload(payload)
    _worker_detail = detail
    # What the worker has now (the parent's objects, the rules) lives as long as it does:
    # out of the collector's sight, its pages stay shared with the parent's, not copied.
    gc.freeze()


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


def _work(items: list[Input]) -> list[Record]:
    assert _worker_rules is not None
    return [evaluate_input(item, _worker_rules, _worker_detail) for item in items]


def run_batch(
    inputs: Iterable[Input],
    rules: Rules | RuleSet | str | os.PathLike[str] | None = None,
    workers: int = 1,
    *,
    detail: Detail = "full",
) -> Generator[Record, None, None]:
    """Evaluate inputs (an `Inputs` from `list_inputs`, or any iterable of `Input`) over
    `workers` processes; records come back in input order, and only a bounded number of
    inputs is in flight, so memory does not grow with the input. `rules` is a loaded
    `Rules`, a rule file's path, or None for the bundled rules; every worker gets the
    same bytes. `detail` chooses full records or compact decisions records."""
    if rules is None or isinstance(rules, str | os.PathLike):
        rules = load_rules(rules)  # fails here, once, for a bad rule file
    if workers <= 1:
        for item in inputs:
            yield evaluate_input(item, rules, detail)
        return
    yield from _Pool(rules, workers, detail).run(iter(inputs))


class _Pool:
    """A process pool that survives its workers' deaths."""

    def __init__(self, rules: Rules | RuleSet, workers: int, detail: Detail) -> None:
        self.rules, self.workers, self.detail = rules, workers, detail
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":
            code_index().prepare()
        rules = self.rules
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(_payload(rules), os.getpid(), self.detail),
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
        except RuntimeError:  # BrokenProcessPool, or shut down after a death
            self._restart()
            return self.executor.submit(_work, chunk)

    def _restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._start()

    def _collect(self, chunk: list[Input], future: Future[list[Record]]) -> Iterator[Record]:
        try:
            yield from future.result()
            return
        except Exception:  # a worker died, or its answer could not come back
            pass
        # Try each input alone, so that only the one at fault is lost.
        for item in chunk:
            try:
                yield from self._submit([item]).result()
            except Exception:
                self._restart()
                message = "the process evaluating this case died"
                yield _failed(item.source, message, "worker_died", self.rules)


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

    def add(self, record: Record, *, earlier: bool = False) -> None:
        """Count one record; `earlier` for one already in the output."""
        self.already_done += earlier
        if record.decision is None:
            self.errors[record.error_kind or "error"] += 1
            return
        self.cases[record.decision] += 1
        for decision, not_met, unknown in record.lines:
            self.lines[decision] += 1
            self.not_met.update(not_met)
            self.unknown.update(unknown)

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


def record_from_json(line: bytes) -> Record:
    """The summary's view of a record read back from an output file; raises ValueError
    for a line that is not a dli-check record."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        raise ValueError("not a record")
    if "error" in data:
        return Record(data["source"], "", None, str(data["error"]["kind"]))
    lines = tuple(
        (str(s["decision"]), (), ())
        if s["service"] is None
        else (str(s["decision"]), *criteria_by_status(s))
        for s in data["services"]
    )
    return Record(data["source"], "", str(data["decision"]), None, lines)


def criteria_by_status(line: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The criteria not met and unknown of a record's line, full or compact."""
    if "reasons" not in line:  # a decisions record
        return tuple(map(str, line["not_met"])), tuple(map(str, line["unknown"]))
    reasons = line["reasons"]
    return (
        tuple(r["criterion"] for r in reasons if r["status"] == "not_met"),
        tuple(r["criterion"] for r in reasons if r["status"] == "unknown"),
    )


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
                record = record_from_json(line)
            except (ValueError, KeyError, TypeError):
                raise InputError(
                    f"{output}:{number}: not a dli-check record; cannot resume"
                ) from None
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
            data = json.loads(path.read_bytes())
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
