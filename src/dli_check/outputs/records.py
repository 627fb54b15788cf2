"""The batch record format, in one place: what a record holds (`Record`), the error record
written for an input that gave no decision, and reading records back (resume, CSV, diff,
summaries), each checked for its shape first (`record_problem`).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from dli_check.errors import CaseError


class Record(NamedTuple):
    """The outcome for one input: its JSON Lines record and what a summary needs."""

    source: str
    json: str
    decision: str | None
    """The case decision, or None for an error record."""
    error_kind: str | None
    lines: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    """Per service line: (decision, criteria not met, criteria unknown)."""
    read: tuple[int, int, str] | None = None
    """What was read: (size, modification time in ns or -1, sha256), for ``--resume``."""


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


def _problem_in_line(line: Any, where: str) -> str | None:
    if not isinstance(line, dict):
        return f"{where}: not an object"
    for key in ("service", "code", "action"):
        if not isinstance(line.get(key), str | None):
            return f"{where}.{key}: not a string or null"
    if not isinstance(line.get("decision"), str):
        return f"{where}.decision: not a string"
    if "reasons" in line:
        reasons = line["reasons"]
        if not isinstance(reasons, list):
            return f"{where}.reasons: not a list"
        for k, reason in enumerate(reasons):
            if not isinstance(reason, dict) or not all(
                isinstance(reason.get(key), str) for key in ("criterion", "status")
            ):
                return f"{where}.reasons[{k}]: not a reason (criterion and status)"
        return None
    for key in ("not_met", "unknown"):
        names = line.get(key)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return f"{where}.{key}: not a list of criteria"
    return None


def record_problem(data: Any) -> str | None:
    """What keeps decoded JSON from being a batch record (full, decisions or error), in
    words with its field path; None for a record. Everything that reads records back
    (resume, CSV, diff) checks this first, so a malformed one is refused, not fallen over.

    >>> record_problem({"source": "x", "decision": "medically_necessary", "services": 5})
    'services: not a list'
    >>> record_problem({"source": "x", "error": {"kind": "invalid_json"}}) is None
    True
    """
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("source"), str):
        return "source: not a string"
    if not isinstance(data.get("case_id"), str | None):
        return "case_id: not a string or null"
    if "error" in data:
        error = data["error"]
        if not isinstance(error, dict) or not isinstance(error.get("kind"), str):
            return "error.kind: not a string"
        return None
    if not isinstance(data.get("decision"), str):
        return "decision: not a string"
    lines = data.get("services")
    if not isinstance(lines, list):
        return "services: not a list"
    for i, line in enumerate(lines):
        problem = _problem_in_line(line, f"services[{i}]")
        if problem:
            return problem
    return None


def record_from_json(line: bytes) -> Record:
    """The summary's view of a record read back from an output file; raises ValueError
    for a line that is not a dli-check record."""
    data = json.loads(line)
    problem = record_problem(data)
    if problem is not None:
        raise ValueError(problem)
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
