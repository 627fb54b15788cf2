"""Explanations for people: a result criterion by criterion, a rule file as a tree or as a
Mermaid flowchart.

Text comes back as lines with rich markup (``[green]...[/]``); printed through rich it is in
colour on a terminal and plain elsewhere.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from dli_check import rules_model as rm
from dli_check.batch import Summary
from dli_check.engine import Rules
from dli_check.inert import terminal
from dli_check.results import CaseResult

_LABELS = {
    "medically_necessary": "MEDICALLY NECESSARY",
    "not_medically_necessary": "NOT MEDICALLY NECESSARY",
    "insufficient_information": "INSUFFICIENT INFORMATION",
}
_COLOURS = {
    "medically_necessary": "green",
    "not_medically_necessary": "red",
    "insufficient_information": "yellow",
    "met": "green",
    "not_met": "red",
    "unknown": "yellow",
}
_SYMBOLS = {"met": "✓", "not_met": "✗", "unknown": "?"}
_WORDS = {"met": "met", "not_met": "not met", "unknown": "unknown"}


def result_lines(result: CaseResult, *, symbols: bool = True) -> list[str]:
    """A case result for a reviewer: the decision, then each line and its criteria."""
    guideline = result.provenance.guideline
    lines = [
        f"[bold]Case {_case_text(result.case_id)}[/]: {_decision(result.decision)}"
        f"  [dim]({guideline.id}, last reviewed {guideline.last_review_date})[/]",
    ]
    for number, line in enumerate(result.services, start=1):
        cpt = f" (CPT {line.cpt})" if line.cpt else ""
        lines.append("")
        lines.append(
            f"{number}. [bold]{escape(line.service)}[/]{cpt}: {_decision(line.decision)}"
            f" -> {line.action.replace('_', ' ')}"
        )
        for reason in line.reasons:
            mark = _SYMBOLS[reason.status] if symbols else _WORDS[reason.status]
            colour = _COLOURS[reason.status]
            lines.append(
                f"   [{colour}]{mark:<7}[/] [bold]{reason.criterion}[/]: "
                f"{escape(reason.explanation)}"
            )
            lines.append(
                f'           [italic]"{escape(reason.citation.quote)}"[/]'
                f" [dim]({escape(reason.citation.section)})[/]"
            )
            lines.extend(f"           {_case_text(note)}" for note in reason.notes)
            if reason.missing:
                missing = _case_text(", ".join(reason.missing))
                lines.append(f"           [yellow]missing: {missing}[/]")
        if line.outcome is not None:
            lines.append(
                f'   Decided by: [italic]"{escape(line.outcome.quote)}"[/]'
                f" [dim]({escape(line.outcome.section)})[/]"
            )
        if line.missing:
            missing = _case_text(", ".join(line.missing))
            lines.append(f"   [yellow]Information needed: {missing}[/]")
    return lines


def _case_text(text: str) -> str:
    """Text that may come from a case, made inert for a terminal and for rich markup."""
    return escape(terminal(text))


def _decision(decision: str) -> str:
    return f"[bold {_COLOURS[decision]}]{_LABELS[decision]}[/]"


def condition_text(cond: object) -> list[str]:
    """A condition as indented lines of plain words."""
    if isinstance(cond, rm.All | rm.Any_):
        head, parts = ("all of:", cond.all) if isinstance(cond, rm.All) else ("any of:", cond.any)
        return [head] + [f"  {line}" for part in parts for line in _bullet(condition_text(part))]
    if isinstance(cond, rm.Not):
        if isinstance(cond.not_, rm.Present):
            return [f"{cond.not_.present} is not given"]
        if isinstance(cond.not_, rm.IsTrue):
            return [f"{cond.not_.is_true} is not true"]
        inner = condition_text(cond.not_)
        if len(inner) == 1:
            return [f"not {inner[0]}"]
        return ["not:", *(f"  {x}" for x in inner)]
    return [_leaf_text(cond)]


def _bullet(lines: list[str]) -> list[str]:
    return [f"- {lines[0]}"] + [f"  {line}" for line in lines[1:]]


def _leaf_text(cond: object) -> str:
    if isinstance(cond, rm.Equals):
        return f"{cond.equals.fact} is {_value(cond.equals.value)}"
    if isinstance(cond, rm.OneOf):
        return f"{cond.one_of.fact} is one of {', '.join(cond.one_of.values)}"
    if isinstance(cond, rm.IsTrue):
        return f"{cond.is_true} is true"
    if isinstance(cond, rm.Present):
        return f"{cond.present} is given"
    if isinstance(cond, rm.InCodeSet):
        return f"{cond.in_code_set.fact} has a code in {cond.in_code_set.code_set}"
    if isinstance(cond, rm.SameAs):
        return f"{cond.same_as.fact} is the same as {cond.same_as.other}"
    if isinstance(cond, rm.Before):
        return f"{cond.before.fact} is before {cond.before.other}"
    if isinstance(cond, rm.After):
        return f"{cond.after.fact} is after {cond.after.other}"
    if isinstance(cond, rm.Constant):
        return "always" if cond.constant else "never"
    raise TypeError(type(cond).__name__)  # pragma: no cover


def _value(value: str | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else value


def rules_lines(rules: Rules) -> list[str]:
    """A rule file as a readable tree: services, criteria, conditions and citations."""
    g = rules.model.guideline
    lines = [
        f"[bold]{g.id}[/]: {escape(g.title)}",
        f"published {g.publish_date}, last reviewed {g.last_review_date}, {g.status}",
        f"[dim]{escape(rules.source)} sha256 {rules.sha256}[/]",
    ]
    for service in rules.model.services:
        cpt = rules.services[service.id].cpt
        lines += [
            "",
            f"[bold]{escape(service.title)}[/] ({service.id}; CPT {cpt or 'none listed'})",
        ]
        for criterion in service.criteria:
            lines.append(f"  [bold]{criterion.id}[/]: {escape(criterion.explanation)}")
            lines += [f"      {escape(x)}" for x in condition_text(criterion.condition)]
            for citation in [criterion.citation, *criterion.also_cites]:
                lines.append(
                    f'      [italic]"{escape(citation.quote)}"[/]'
                    f" [dim]({escape(citation.section)})[/]"
                )
        for label, outcome in (("all met", service.when_met), ("otherwise", service.otherwise)):
            lines.append(f"  {label} -> {_decision(outcome.decision)}")
    return lines


def mermaid(rules: Rules) -> str:
    """A rule file as a Mermaid flowchart: each service's criteria in order, and its outcomes.

    The logic is three-valued: a criterion not met decides at once; an unknown one lets
    the others be judged (a later one not met still decides), and if none is not met the
    line lacks information.
    """
    out = ["flowchart TD"]
    for s, service in enumerate(rules.model.services):
        cpt = rules.services[service.id].cpt
        out.append(f'  s{s}["{_label(service.title)}<br/>CPT {cpt or "none listed"}"]')
        previous, edge = f"s{s}", "-->"
        for c, criterion in enumerate(service.criteria):
            node = f"s{s}c{c}"
            text = "<br/>".join(_label(x) for x in condition_text(criterion.condition))
            out.append(f'  {previous} {edge} {node}{{"{criterion.id}<br/>{text}"}}')
            out.append(f"  {node} -->|not met| s{s}no")
            previous, edge = node, "-->|met or unknown|"
        out.append(f'  {previous} -->|all met| s{s}yes(["{_LABELS[service.when_met.decision]}"])')
        out.append(
            f"  {previous} -->|some unknown, none not met| "
            f's{s}unknown(["{_LABELS["insufficient_information"]}"])'
        )
        out.append(f'  s{s}no(["{_LABELS[service.otherwise.decision]}"])')
    return "\n".join(out) + "\n"


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


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
    for decision in _LABELS:
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
