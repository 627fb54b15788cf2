"""The decision log of ``dli-check serve``: every decision served, appended to SQLite.

One row per case decided, written in one transaction (a crash leaves no partial entry), in
WAL mode so that readers never block the service. Each entry holds the decision id, the
time, the endpoint and hook instance, the rule file's sha256 and the guideline version,
the case's sha256, each line's decision and action, the compact decisions record of the
result, the response actually sent (compressed), and the Questionnaire of the missing
facts, if any. A CRD ``coverage-assertion-id`` or a PAS
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
    response BLOB
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (time);
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

    def _migrate(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(decisions)")}
        if "response" not in columns:  # logs made before responses were kept
            self._db.execute("ALTER TABLE decisions ADD COLUMN response BLOB")

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
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(f"INSERT INTO decisions VALUES ({','.join('?' * 13)})", row)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, decision_id: str) -> Entry | None:
        """The entry of a decision id, or of an assertion id (``ID.n``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM decisions WHERE id = ?", (decision_id,)
            ).fetchone()
            if row is None and "." in decision_id:
                head = decision_id.rsplit(".", 1)[0]
                row = self._db.execute("SELECT * FROM decisions WHERE id = ?", (head,)).fetchone()
        return _entry(row) if row else None

    def questionnaire(self, questionnaire_id: str) -> str | None:
        """A Questionnaire a response referenced, by its id (the decision id)."""
        entry = self.get(questionnaire_id)
        return entry.questionnaire if entry else None

    def entries(self, *, since: str | None = None, decision: str | None = None) -> Iterator[Entry]:
        """Entries in time order, from `since` (an ISO time or date) on, of one decision."""
        query, args = "SELECT * FROM decisions WHERE 1 = 1", []
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
    response = head["response"]
    head["response"] = None if response is None else zlib.decompress(response).decode()
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
)
