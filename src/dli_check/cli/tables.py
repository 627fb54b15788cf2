"""The summary tables a batch and a diff print on standard error (Rich tables)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from dli_check.batch.diff import DiffSummary
from dli_check.batch.runner import Summary
from dli_check.outputs.report import LABELS


def summary_tables(summary: Summary, seconds: float) -> list[Table]:
    """A batch's counts: cases and lines per decision, errors, what was passed over, and
    the criteria that most often decided against a line or held it up."""
    rate = summary.evaluated / seconds if seconds > 0 else 0.0
    decisions = Table(
        title="dli-check batch",
        caption=f"{summary.evaluated} cases in {seconds:.2f} s ({rate:,.0f} cases/s)",
    )
    decisions.add_column("inputs")
    decisions.add_column("cases", justify="right")
    decisions.add_column("service lines", justify="right")
    for decision in LABELS:
        if decision == "no_version_in_effect" and not summary.lines[decision]:
            continue  # a row only where a batch has such lines
        decisions.add_row(decision, str(summary.cases[decision]), str(summary.lines[decision]))
    for kind, count in sorted(summary.errors.items()):
        decisions.add_row(f"error: {kind}", str(count), "")
    if summary.already_done:
        decisions.add_row("already in the output (--resume)", str(summary.already_done), "")
    if summary.not_evaluated:
        decisions.add_row("not evaluated (interrupted)", str(summary.not_evaluated), "")
    decisions.add_row("total", str(summary.total), str(summary.lines.total()), style="bold")
    for reason, count in sorted(summary.skipped.items()):
        decisions.add_row(f"[dim]passed over: {escape(reason)}[/]", f"[dim]{count}[/]", "")
    tables = [decisions]
    ranked = (summary.not_met + summary.unknown).most_common()
    if ranked:
        criteria = Table(title="criteria most often not met or unknown")
        criteria.add_column("criterion")
        criteria.add_column("not met", justify="right")
        criteria.add_column("unknown", justify="right")
        for criterion, _ in sorted(ranked, key=lambda item: (-item[1], item[0]))[:5]:
            criteria.add_row(
                criterion, str(summary.not_met[criterion]), str(summary.unknown[criterion])
            )
        tables.append(criteria)
    return tables


def diff_tables(summary: DiffSummary) -> list[Table]:
    """A decision diff's counts: the transitions between decisions, and the criteria whose
    status changed with them."""
    transitions = Table(
        title="decisions that change",
        caption=f"{summary.changed_cases} of {summary.cases} cases change",
    )
    transitions.add_column("old decision")
    transitions.add_column("new decision")
    transitions.add_column("service lines", justify="right")
    for (old, new), count in sorted(summary.transitions.items(), key=lambda i: (-i[1], i[0])):
        transitions.add_row(old, new, str(count))
    tables = [transitions]
    if summary.criteria:
        criteria = Table(title="criteria that changed with them")
        criteria.add_column("criterion")
        criteria.add_column("service lines", justify="right")
        for criterion, count in sorted(summary.criteria.items(), key=lambda i: (-i[1], i[0])):
            criteria.add_row(criterion, str(count))
        tables.append(criteria)
    return tables
