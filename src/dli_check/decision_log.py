"""The decision log of ``dli-check serve``: every decision served, appended to SQLite.

One row per case decided, written in one transaction (a crash leaves no partial entry), in
WAL mode so that readers never block the service. Each entry holds the decision id, the
time, the endpoint and hook instance, the rule file's sha256 and the guideline version,
the case's sha256, each line's decision and action, the whole result JSON, and the
Questionnaire of the missing facts, if any. A CRD ``coverage-assertion-id`` or a PAS
review number is the decision id with the line's number after a dot (``ID.1``), so each
assertion leads back to its entry.

The log holds health information: whoever runs the service must protect the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    questionnaire TEXT
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
    """The result JSON, as the engine wrote it."""
    questionnaire: str | None

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


class DecisionLog:
    """An append-only SQLite log, safe to share between the service's threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # Readable by its owner only: it holds health information (SQLite gives its -wal
        # and -shm files the same permissions).
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def append(self, entry: Entry) -> None:
        """Write one entry in one transaction."""
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
            entry.result,
            entry.questionnaire,
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(f"INSERT INTO decisions VALUES ({','.join('?' * 12)})", row)
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


def _entry(row: tuple[Any, ...]) -> Entry:
    head = dict(zip(_COLUMNS, row, strict=True))
    head["lines"] = json.loads(head["lines"])
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
)
