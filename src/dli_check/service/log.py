"""The decision log of ``dli-check serve``: every decision served, appended to SQLite.

One row per case decided, written in one transaction (a crash leaves no partial entry), in
WAL mode so that readers never block the service. Each entry holds the decision id, the
time, the endpoint and hook instance, the rule file's sha256 and the guideline version,
the case's sha256, each line's decision and action, the compact decisions record of the
result, the response actually sent (compressed), the plan's configuration in force
(``--covered``, ``--auto-approve``, ``--payer``, ``--policy-url``), and the Questionnaire
of the missing facts, if any. Refused calls are kept too, in their own table: the time,
endpoint, status and reason, never the body. A CRD ``coverage-assertion-id`` or a PAS
review number is the decision id with the line's number after a dot (``ID.1``), so each
assertion leads back to its entry.

The log holds health information: whoever runs the service must protect the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dli_check.inert import escape_surrogates

DEFAULT_LOG = "dli-check-decisions.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    hook_instance TEXT,
    rules_sha256 TEXT NOT NULL,
    guideline TEXT NOT NULL,
    guideline_version TEXT NOT NULL,
    case_sha256 TEXT NOT NULL,
    decision TEXT NOT NULL,
    lines TEXT NOT NULL,
    result TEXT NOT NULL,
    questionnaire TEXT,
    response BLOB,
    configuration TEXT,
    request BLOB
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (time);
CREATE TABLE IF NOT EXISTS refusals (
    time TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Entry:
    """One decision served."""

    id: str
    time: str
    endpoint: str
    hook_instance: str | None
    rules_sha256: str
    guideline: str
    guideline_version: str
    case_sha256: str
    decision: str
    lines: list[dict[str, Any]]
    """Per line: its code, decision and action."""
    result: str
    """The decisions record of the result (``--detail decisions``): compact, no quotes."""
    questionnaire: str | None
    response: str | None = None
    """The response body sent (coverage information, ClaimResponse, result), as JSON;
    kept compressed."""
    configuration: str | None = None
    """The plan's configuration in force when it was served, as JSON."""
    request: str | None = None
    """What was decided, as JSON: the case or PAS Bundle as sent; for a CDS Hooks call,
    the Bundle of its orders and prefetched (or queried) resources, without its token;
    kept compressed."""

    def summary(self) -> dict[str, Any]:
        """The entry without the result and the questionnaire."""
        return {
            "id": self.id,
            "time": self.time,
            "endpoint": self.endpoint,
            "hook_instance": self.hook_instance,
            "rules_sha256": self.rules_sha256,
            "guideline": self.guideline,
            "guideline_version": self.guideline_version,
            "case_sha256": self.case_sha256,
            "decision": self.decision,
            "lines": self.lines,
            "configuration": json.loads(self.configuration) if self.configuration else None,
        }


class LogUnavailable(Exception):
    """The decision log cannot be used (gone, replaced, not ours, read-only, locked): the
    message says which, in words for the person who runs the service."""


BUSY_TIMEOUT_MS = 2000
"""How long a write waits for a lock another process holds on the log."""


def check_log_file(path: str) -> os.stat_result:
    """The log file's status, if it is one the service may keep health information in: a
    regular file (not a symbolic link), owned by this user, closed to others. Raises
    `LogUnavailable` otherwise."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise LogUnavailable(f"{path}: the decision log is gone") from None
    except OSError as exc:
        raise LogUnavailable(f"{path}: cannot read the decision log: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise LogUnavailable(f"{path}: is a symbolic link; give the log file itself")
    if not stat.S_ISREG(info.st_mode):
        raise LogUnavailable(f"{path}: not a regular file")
    if info.st_uid != os.geteuid():
        raise LogUnavailable(f"{path}: owned by another user; the log must be this user's own")
    if info.st_mode & 0o077:
        raise LogUnavailable(
            f"{path}: readable or writable by others (mode {stat.S_IMODE(info.st_mode):o}); "
            "it holds health information: chmod 600 it"
        )
    return info


class DecisionLog:
    """An append-only SQLite log, safe to share between the service's threads.

    Opening refuses a path that is a symbolic link, not a regular file, not this user's, or
    open to others (`LogUnavailable`), and a log that cannot be written. Every write first
    checks that the file is still the one opened: a log deleted or replaced while serving
    is reported, never written into an unlinked file.
    """

    def __init__(self, path: str | Path, *, writable: bool = True) -> None:
        self.path = str(path)
        # Readable by its owner only: it holds health information (SQLite gives its -wal
        # and -shm files the same permissions). O_NOFOLLOW: a link planted at the path,
        # dangling or not, is never followed.
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, flags, 0o600))
        info = check_log_file(self.path)
        self._identity = (info.st_dev, info.st_ino)
        self._lock = threading.Lock()
        self._selected: str | None = None
        self.failure: str | None = None
        """Why the last write failed, until one succeeds (for ``/healthz``)."""
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if writable:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._migrate()
                self._db.execute("BEGIN IMMEDIATE")  # can it be written at all?
                self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise LogUnavailable(f"{self.path}: cannot use the decision log ({exc})") from None

    def _select(self) -> str:
        """``SELECT`` of `_COLUMNS` from decisions; a column an older log lacks (one opened
        read-only is not migrated) reads as NULL."""
        if self._selected is None:
            present = {row[1] for row in self._db.execute("PRAGMA table_info(decisions)")}
            names = [c if c in present else f"NULL AS {c}" for c in _COLUMNS]
            self._selected = f"SELECT {','.join(names)} FROM decisions"
        return self._selected

    def _migrate(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(decisions)")}
        if "response" not in columns:  # logs made before responses were kept
            self._db.execute("ALTER TABLE decisions ADD COLUMN response BLOB")
        if "configuration" not in columns:  # logs made before 0.4.0
            self._db.execute("ALTER TABLE decisions ADD COLUMN configuration TEXT")
        if "request" not in columns:  # logs made before 0.5.0
            self._db.execute("ALTER TABLE decisions ADD COLUMN request BLOB")

    def _file_problem(self) -> str | None:
        try:
            info = check_log_file(self.path)
        except LogUnavailable as exc:
            return str(exc)
        if (info.st_dev, info.st_ino) != self._identity:
            return f"{self.path}: replaced since the service opened it"
        return None

    def state(self) -> str:
        """``ok``, or why the log cannot be written now, in words. Never waits on the
        database: it looks at the file and at the last write."""
        return self._file_problem() or self.failure or "ok"

    def append(self, entry: Entry) -> None:
        """Write one entry in one transaction; raises `LogUnavailable` when it cannot."""
        problem = self._file_problem()
        if problem is not None:
            self.failure = problem
            raise LogUnavailable(problem)
        try:
            self._append(entry)
        except (sqlite3.Error, OSError) as exc:
            self.failure = f"{self.path}: the last write failed ({type(exc).__name__}: {exc})"
            raise LogUnavailable(self.failure) from None
        self.failure = None

    def _append(self, entry: Entry) -> None:
        row = (
            entry.id,
            entry.time,
            entry.endpoint,
            entry.hook_instance,
            entry.rules_sha256,
            entry.guideline,
            entry.guideline_version,
            entry.case_sha256,
            entry.decision,
            json.dumps(entry.lines, separators=(",", ":")),
            escape_surrogates(entry.result),
            None if entry.questionnaire is None else escape_surrogates(entry.questionnaire),
            None if entry.response is None else zlib.compress(_utf8(entry.response), 6),
            entry.configuration,
            None if entry.request is None else zlib.compress(_utf8(entry.request), 6),
        )
        names = ",".join(_COLUMNS)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    f"INSERT INTO decisions ({names}) VALUES ({','.join('?' * len(row))})", row
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def refuse(self, time: str, endpoint: str, status: int, reason: str) -> None:
        """Keep a refused call: when, where, its status and the reason given (our words,
        never the request's). A refusal that cannot be kept is not an error: the caller
        is answered all the same, and `state` says why the log failed."""
        if self._file_problem() is not None:
            return
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO refusals VALUES (?, ?, ?, ?)",
                    (time, endpoint, status, escape_surrogates(reason)),
                )
        except sqlite3.Error as exc:
            self.failure = f"{self.path}: the last write failed ({type(exc).__name__}: {exc})"

    def refusals(self, *, since: str | None = None) -> list[dict[str, Any]]:
        """Refused calls in time order, from `since` on."""
        query, args = "SELECT * FROM refusals", []
        if since is not None:
            query, args = query + " WHERE time >= ?", [since]
        with self._lock:
            try:
                rows = self._db.execute(query + " ORDER BY time", args).fetchall()
            except sqlite3.OperationalError:  # a log from before refusals were kept
                return []
        names = ("time", "endpoint", "status", "reason")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def get(self, decision_id: str) -> Entry | None:
        """The entry of a decision id, or of an assertion id (``ID.n``)."""
        with self._lock:
            select = self._select() + " WHERE id = ?"
            row = self._db.execute(select, (decision_id,)).fetchone()
            if row is None and "." in decision_id:
                head = decision_id.rsplit(".", 1)[0]
                row = self._db.execute(select, (head,)).fetchone()
        return _entry(row) if row else None

    def questionnaire(self, questionnaire_id: str) -> str | None:
        """A Questionnaire a response referenced, by its id (the decision id)."""
        entry = self.get(questionnaire_id)
        return entry.questionnaire if entry else None

    def entries(self, *, since: str | None = None, decision: str | None = None) -> Iterator[Entry]:
        """Entries in time order, from `since` (an ISO time or date) on, of one decision."""
        with self._lock:
            query, args = self._select() + " WHERE 1 = 1", []
        if since is not None:
            query += " AND time >= ?"
            args.append(since)
        if decision is not None:
            query += " AND decision = ?"
            args.append(decision)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY time, id", args).fetchall()
        return (_entry(row) for row in rows)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _utf8(json_text: str) -> bytes:
    return escape_surrogates(json_text).encode("utf-8")


def _entry(row: tuple[Any, ...]) -> Entry:
    head = dict(zip(_COLUMNS, row, strict=True))
    head["lines"] = json.loads(head["lines"])
    for name in ("response", "request"):
        packed = head[name]
        head[name] = None if packed is None else zlib.decompress(packed).decode()
    return Entry(**head)


_COLUMNS = (
    "id",
    "time",
    "endpoint",
    "hook_instance",
    "rules_sha256",
    "guideline",
    "guideline_version",
    "case_sha256",
    "decision",
    "lines",
    "result",
    "questionnaire",
    "response",
    "configuration",
    "request",
)
