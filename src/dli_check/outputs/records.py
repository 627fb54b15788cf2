"""The batch record format, in one place: what a record holds (`Record`, one `Line` per
service line), the record made for a decided case (`decided_record`) and for an input that
gave no decision (`error_record`), and reading a record back from an output file
(`read_record`, which checks its shape first with `record_problem`).

Summaries, CSV, diff and resume all work on `Record`: a record just made and the same
record read back from its JSON are equal, so none of them parses our own JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from dli_check.errors import CaseError

if TYPE_CHECKING:
    from dli_check.results import CaseResult, ServiceResult


class Line(NamedTuple):
    """What a record says of one service line."""

    service: str | None
    code: str | None
    decision: str
    action: str
    not_met: tuple[str, ...]
    unknown: tuple[str, ...]
    missing: tuple[str, ...]
    met: tuple[str, ...] | None
    """The criteria met; None for a decisions record, which names only those not met or
    unknown (every other criterion of a governed line was met)."""


class Record(NamedTuple):
    """The outcome for one input: its JSON Lines record, and what that record says."""

    source: str
    json: str
    case_id: str | None
    decision: str | None
    """The case decision, or None for an error record."""
    error: tuple[str, str] | None = None
    """An error record's (kind, message)."""
    lines: tuple[Line, ...] = ()
    read: tuple[int, int, str] | None = None
    """What was read: (size, modification time in ns or -1, sha256), for ``--resume``."""
    dates: tuple[str | None, ...] = ()
    """Each line's date of service (ISO), for a full record; empty for a decisions record,
    which does not keep them."""
    decision_id: str | None = None
    """The decision's id (`dli_check.results.CaseResult.decision_id`), which names its
    worksheet; None for an error record."""

    @property
    def error_kind(self) -> str | None:
        """An error record's kind; None for a decision."""
        return None if self.error is None else self.error[0]


def decided_record(source: str, result: CaseResult, body: str, detail: str) -> Record:
    """The record of a decided case, whose result JSON (compact, `detail`) is `body`."""
    full = detail == "full"
    lines = tuple(_record_line(line, full) for line in result.services)
    record = f'{{"source":{json.dumps(source)},{body[1:]}'
    dates: tuple[str | None, ...] = ()
    if full and result.audit is not None:
        dates = tuple(
            line.date_of_service.isoformat() if line.date_of_service else None
            for line in result.audit.lines
        )
    return Record(
        source,
        record,
        result.case_id,
        result.decision,
        None,
        lines,
        None,
        dates,
        result.decision_id,
    )


def _record_line(line: ServiceResult, full: bool) -> Line:
    """What a record says of a line result, made once per result: lines that come out
    alike share one result, and so one `Line`, which a worker then sends once per chunk."""
    name = "_record_line" if full else "_record_line_compact"
    made: Line | None = line.__dict__.get(name)
    if made is None:
        statuses = [(r.criterion, r.status) for r in line.reasons]
        made = Line(
            line.service,
            line.code,
            line.decision,
            line.action,
            tuple(c for c, status in statuses if status == "not_met"),
            tuple(c for c, status in statuses if status == "unknown"),
            line.missing,
            tuple(c for c, status in statuses if status == "met") if full else None,
        )
        object.__setattr__(line, name, made)  # results are frozen, and never change
    return made


def error_record(source: str, data: Any, error: CaseError, rules_sha256: str) -> Record:
    """The record of an input that gave no decision; the message never holds its content."""
    case_id = data.get("case_id") if isinstance(data, dict) else None
    case_id = case_id if isinstance(case_id, str) else None
    record = {
        "source": source,
        "case_id": case_id,
        "error": {
            "kind": error.kind,
            "message": error.detail,
            "problems": [p.as_json() for p in error.problems],
        },
        "rules_sha256": rules_sha256,
    }
    text = json.dumps(record, separators=(",", ":"))
    return Record(source, text, case_id, None, (error.kind, error.detail))


def _problem_in_line(line: Any, where: str) -> str | None:
    if not isinstance(line, dict):
        return f"{where}: not an object"
    for key in ("service", "code"):
        if not isinstance(line.get(key), str | None):
            return f"{where}.{key}: not a string or null"
    for key in ("decision", "action"):
        if not isinstance(line.get(key), str):
            return f"{where}.{key}: not a string"
    if not _strings(line.get("missing")):
        return f"{where}.missing: not a list of facts"
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
        if not _strings(line.get(key)):
            return f"{where}.{key}: not a list of criteria"
    return None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def record_problem(data: Any) -> str | None:
    """What keeps decoded JSON from being a batch record (full, decisions or error), in
    words with its field path; None for a record. Everything that reads records back
    (resume, CSV, diff) checks this first, so a malformed one is refused, not fallen over.

    >>> record_problem({"source": "x", "decision": "medically_necessary", "services": 5})
    'services: not a list'
    >>> print(record_problem({"source": "x", "error": {"kind": "too_large", "message": "m"}}))
    None
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
        if not isinstance(error.get("message"), str):
            return "error.message: not a string"
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


def read_record(line: bytes | str) -> Record:
    """A record read back from an output file, equal to the `Record` its writer made;
    raises `ValueError`, naming the field, for a line that is not a dli-check record.

    >>> read_record(b'{"source":"a.json","case_id":null,"error":{"kind":"invalid_json",'
    ...             b'"message":"not JSON"}}').error
    ('invalid_json', 'not JSON')
    >>> read_record(b'{"source":"a.json","decision":5}')
    Traceback (most recent call last):
    ...
    ValueError: decision: not a string
    """
    data = json.loads(line)
    problem = record_problem(data)
    if problem is not None:
        raise ValueError(problem)
    text = line.decode() if isinstance(line, bytes) else line
    source, case_id = data["source"], data.get("case_id")
    if "error" in data:
        error = (data["error"]["kind"], data["error"]["message"])
        return Record(source, text.rstrip("\n"), case_id, None, error)
    lines = tuple(_line(line) for line in data["services"])
    audit = data.get("audit")
    dates: tuple[str | None, ...] = ()
    if isinstance(audit, dict) and isinstance(audit.get("lines"), list):
        dates = tuple(
            day if isinstance(day := a.get("date_of_service"), str) else None
            for a in audit["lines"]
            if isinstance(a, dict)
        )
    decision_id = data.get("decision_id")
    return Record(
        source,
        text.rstrip("\n"),
        case_id,
        data["decision"],
        None,
        lines,
        None,
        dates,
        decision_id if isinstance(decision_id, str) else None,
    )


def _line(line: dict[str, Any]) -> Line:
    reasons = line.get("reasons")
    if reasons is None:  # a decisions record
        not_met, unknown, met = tuple(line["not_met"]), tuple(line["unknown"]), None
    else:
        by_status: dict[str, list[str]] = {"met": [], "not_met": [], "unknown": []}
        for reason in reasons:
            by_status.setdefault(reason["status"], []).append(reason["criterion"])
        not_met, unknown = tuple(by_status["not_met"]), tuple(by_status["unknown"])
        met = tuple(by_status["met"])
    missing = tuple(line["missing"])
    return Line(
        line["service"],
        line["code"],
        line["decision"],
        line["action"],
        not_met,
        unknown,
        missing,
        met,
    )
