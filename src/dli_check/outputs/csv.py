"""Batch records as CSV: one row per service line, one per error, every cell inert.

Every text cell goes through `inert.csv_cell`: no cell holds a line break, and none starts
like a formula, whatever a case id, a file name or an error says.
"""

from __future__ import annotations

import csv
import io

from dli_check.inert import csv_cell
from dli_check.outputs.records import Record

CSV_COLUMNS = [
    "source",
    "case_id",
    "case_decision",
    "line",
    "service",
    "code",
    "decision",
    "action",
    "not_met",
    "unknown",
    "missing",
    "error_kind",
    "error_message",
]


def csv_rows(record: Record) -> list[list[str]]:
    """The rows of one record (full or decisions), each with a cell per column."""
    head = [record.source, record.case_id or ""]
    if record.error is not None:
        rows = [[*head, *[""] * 9, *record.error]]
    else:
        rows = [
            [
                *head,
                record.decision or "",
                str(number),
                line.service or "",
                line.code or "",
                line.decision,
                line.action,
                ";".join(line.not_met),
                ";".join(line.unknown),
                ";".join(line.missing),
                "",
                "",
            ]
            for number, line in enumerate(record.lines)
        ]
    return [[csv_cell(cell) for cell in row] for row in rows]


def csv_lines(rows: list[list[str]]) -> str:
    """Rows as CSV text, each ending in a line break (every cell is already free of them)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue()


def csv_text(rows: list[list[str]]) -> bytes:
    """Rows as CSV bytes (UTF-8)."""
    return csv_lines(rows).encode()
