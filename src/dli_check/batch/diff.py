"""Decision diff: which service lines a rule-file revision decides differently, and which
criteria drove each change, over a corpus of cases or over two existing batch outputs.

Both ways stream: records are compared as they come, in input order, so a corpus of any
size is diffed in bounded memory, in parallel (a batch run per rule file), and the same
inputs always give the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from dli_check.batch.runner import InputError, Inputs, run_batch
from dli_check.engine.decider import Decider
from dli_check.outputs.records import Line, Record, read_record

CHANGE_COLUMNS = [
    "source",
    "case_id",
    "line",
    "old_service",
    "new_service",
    "old_decision",
    "new_decision",
    "old_action",
    "new_action",
    "criteria",
]


@dataclass(frozen=True)
class LineChange:
    """One service line (or, for a case that became or stopped being an error, the whole
    case: `line` None) whose decision or action differs."""

    source: str
    case_id: str | None
    line: int | None
    old: dict[str, Any]
    new: dict[str, Any]
    criteria: tuple[tuple[str, str, str], ...]
    """(criterion, old status, new status) for each criterion whose status changed."""

    def as_json(self) -> dict[str, Any]:
        """The change as one JSON Lines record."""
        return {
            "source": self.source,
            "case_id": self.case_id,
            "line": self.line,
            "old": self.old,
            "new": self.new,
            "criteria": [{"criterion": c, "old": o, "new": n} for c, o, n in self.criteria],
        }

    def as_row(self) -> list[str]:
        """The change as one CSV row (cells not yet made inert)."""
        return [
            self.source,
            self.case_id or "",
            "" if self.line is None else str(self.line),
            str(self.old.get("service") or ""),
            str(self.new.get("service") or ""),
            str(self.old.get("decision") or self.old.get("error") or ""),
            str(self.new.get("decision") or self.new.get("error") or ""),
            str(self.old.get("action") or ""),
            str(self.new.get("action") or ""),
            ";".join(f"{c}: {o} -> {n}" for c, o, n in self.criteria),
        ]


MAX_KEPT = 5000
"""Changes a summary keeps for a report's table; the rest are counted."""


@dataclass
class DiffSummary:
    """Counts over a diff: cases compared, transitions between decisions, and the criteria
    whose change came with them."""

    cases: int = 0
    changed_cases: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    criteria: Counter[str] = field(default_factory=Counter)
    changes: list[LineChange] = field(default_factory=list)
    """The first `MAX_KEPT` changes, for a report's table."""
    changed_lines: int = 0

    def add(self, changes: list[LineChange]) -> None:
        """Count one case's changes."""
        self.cases += 1
        self.changed_cases += bool(changes)
        for change in changes:
            old = str(change.old.get("decision") or f"error: {change.old.get('error')}")
            new = str(change.new.get("decision") or f"error: {change.new.get('error')}")
            self.transitions[(old, new)] += 1
            self.criteria.update(c for c, _, _ in change.criteria)
            self.changed_lines += 1
            if len(self.changes) < MAX_KEPT:
                self.changes.append(change)


def _side(record: Record, line: Line | None) -> dict[str, Any]:
    if record.error is not None:
        return {"error": record.error[0]}
    if line is None:
        return {"decision": None}
    return {"service": line.service, "decision": line.decision, "action": line.action}


def _statuses(line: Line | None) -> tuple[dict[str, str], str]:
    """A record line's criteria and their statuses, and the status of a criterion it does
    not name: a decisions record names only the criteria not met or unknown of a governed
    line; every other criterion of it was met."""
    if line is None:
        return {}, "absent"
    statuses = dict.fromkeys(line.not_met, "not_met") | dict.fromkeys(line.unknown, "unknown")
    if line.met is not None:
        return dict.fromkeys(line.met, "met") | statuses, "absent"
    return statuses, "absent" if line.service is None else "met"


def compare_records(old: Record, new: Record) -> list[LineChange]:
    """The lines whose decision or action differs between two records of one input."""
    source, case_id = new.source, new.case_id
    if old.error is not None or new.error is not None:
        if old.error_kind == new.error_kind:
            return []
        return [LineChange(source, case_id, None, _side(old, None), _side(new, None), ())]
    changes = []
    for i in range(max(len(old.lines), len(new.lines))):
        before = old.lines[i] if i < len(old.lines) else None
        after = new.lines[i] if i < len(new.lines) else None
        was, now = _side(old, before), _side(new, after)
        if (was.get("decision"), was.get("action")) == (now.get("decision"), now.get("action")):
            continue
        statuses_before, default_before = _statuses(before)
        statuses_after, default_after = _statuses(after)
        criteria = tuple(
            (c, statuses_before.get(c, default_before), statuses_after.get(c, default_after))
            for c in dict.fromkeys([*statuses_before, *statuses_after])
            if statuses_before.get(c, default_before) != statuses_after.get(c, default_after)
        )
        changes.append(LineChange(source, case_id, i, was, now, criteria))
    return changes


def diff_rules(
    old_inputs: Inputs, new_inputs: Inputs, old: Decider, new: Decider, workers: int = 1
) -> Iterator[list[LineChange]]:
    """Evaluate the same inputs under two rule files (each over `workers` processes) and
    yield each input's changes, in input order."""
    for before, after in zip(
        run_batch(old_inputs, old, workers), run_batch(new_inputs, new, workers), strict=True
    ):
        yield compare_records(before, after)


def diff_results(old_path: Path, new_path: Path) -> Iterator[list[LineChange]]:
    """Compare two batch outputs of the same inputs, record by record. Raises `InputError`
    when they do not hold the same inputs in the same order, or a line is not a record."""
    with old_path.open("rb") as old_file, new_path.open("rb") as new_file:
        for number, (old_line, new_line) in enumerate(_pairs(old_file, new_file), start=1):
            old, new = _record(old_line, old_path, number), _record(new_line, new_path, number)
            if old.source != new.source:
                raise InputError(
                    f"{new_path}:{number}: not the input {old_path} has on that line: the two "
                    "outputs must come from the same inputs"
                )
            yield compare_records(old, new)


def _pairs(old: Iterable[bytes], new: Iterable[bytes]) -> Iterator[tuple[bytes, bytes]]:
    old_lines = (line for line in old if line.strip())
    new_lines = (line for line in new if line.strip())
    for before, after in zip_longest(old_lines, new_lines):
        if before is None or after is None:
            raise InputError("the two outputs hold different numbers of records")
        yield before, after


def _record(line: bytes, path: Path, number: int) -> Record:
    try:
        return read_record(line)
    except ValueError as exc:
        reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InputError(f"{path}:{number}: not a dli-check record ({reason})") from None
