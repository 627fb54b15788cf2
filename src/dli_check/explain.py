"""Explanations for people: a result criterion by criterion, a rule file as a tree or as a
Mermaid flowchart.

Text comes back as lines with rich markup (``[green]...[/]``); printed through rich it is in
colour on a terminal and plain elsewhere.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from dli_check.batch import Summary
from dli_check.decision_diff import DiffSummary
from dli_check.engine import Rules
from dli_check.inert import terminal
from dli_check.operators import condition_text
from dli_check.results import CaseResult

_LABELS = {
    "medically_necessary": "MEDICALLY NECESSARY",
    "not_medically_necessary": "NOT MEDICALLY NECESSARY",
    "insufficient_information": "INSUFFICIENT INFORMATION",
    "not_applicable": "NOT APPLICABLE",
}
_COLOURS = {
    "medically_necessary": "green",
    "not_medically_necessary": "red",
    "insufficient_information": "yellow",
    "not_applicable": "blue",
    "met": "green",
    "not_met": "red",
    "unknown": "yellow",
}
_SYMBOLS = {"met": "✓", "not_met": "✗", "unknown": "?"}
_WORDS = {"met": "met", "not_met": "not met", "unknown": "unknown"}


_HEADLINES = {
    "medically_necessary": "MEETS {g}",
    "not_medically_necessary": "DOES NOT MEET {g}",
    "insufficient_information": "MORE INFORMATION NEEDED",
    "not_applicable": "NOT GOVERNED BY {g}",
}
"""Decisions in a reviewer's words: the engine recommends; only a clinician denies."""
_ACTIONS = {
    "approve": "approve (medical necessity only: the member's benefits decide coverage)",
    "refer_to_clinical_reviewer": "refer to a physician reviewer (a recommendation, not a denial)",
    "request_information": "request the information below",
    "none": "nothing to do under {g}",
}


def _headline(decision: str, guideline: str) -> str:
    return f"[bold {_COLOURS[decision]}]{_HEADLINES[decision].format(g=guideline)}[/]"


def result_lines(
    result: CaseResult, rules: Rules | None = None, *, symbols: bool = True
) -> list[str]:
    """A case result for a reviewer: the recommendation, then each line and its criteria;
    with the `rules` that decided it, missing facts are asked for by their questions."""
    guideline = result.provenance.guideline
    g = escape(guideline.id)
    lines = [
        f"[bold]Case {_case_text(result.case_id)}[/]: {_headline(result.decision, g)}"
        f"  [dim]({g}, last reviewed {guideline.last_review_date})[/]",
    ]
    for number, line in enumerate(result.services, start=1):
        code = f" ({_case_text(line.code)})" if line.code else ""
        lines.append("")
        lines.append(
            f"{number}. [bold]{escape(line.service or 'service line')}[/]{code}: "
            f"{_headline(line.decision, g)} -> {_ACTIONS[line.action].format(g=g)}"
        )
        lines.extend(f"   {_case_text(note)}" for note in line.notes)
        for reason in line.reasons:
            mark = _SYMBOLS[reason.status] if symbols else _WORDS[reason.status]
            colour = _COLOURS[reason.status]
            judged = f" [dim](judged on {reason.record})[/]" if reason.record else ""
            lines.append(
                f"   [{colour}]{mark:<7}[/] [bold]{reason.criterion}[/]{judged}: "
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
            lines.append("   [yellow]Information needed:[/]")
            service = rules.services.get(line.service or "") if rules else None
            label = service.label if service else "the service"
            for path in line.missing:
                question = rules.case_format.question(path, label) if rules else None
                asked = f"{escape(question)} [{_case_text(path)}]" if question else path
                lines.append(f"   [yellow]- {asked}[/]")
    if result.sources:
        lines.append("")
        lines.append("Read from FHIR:")
        for source in result.sources:
            places = _case_text("; ".join(source.places))
            if source.agree:
                lines.append(f"   {_case_text(source.fact)}: {places}")
            else:
                lines.append(
                    f"   [red]{_case_text(source.fact)}: unknown, the places disagree:[/] {places}"
                )
    return lines


def _case_text(text: str) -> str:
    """Text that may come from a case, made inert for a terminal and for rich markup."""
    return escape(terminal(text))


def _decision(decision: str) -> str:
    return f"[bold {_COLOURS[decision]}]{_LABELS[decision]}[/]"


def rules_lines(rules: Rules) -> list[str]:
    """A rule file as a readable tree: services, criteria, conditions and citations."""
    g = rules.model.guideline
    lines = [
        f"[bold]{g.id}[/]: {escape(g.title)}",
        f"published {g.publish_date}, last reviewed {g.last_review_date}, {g.status}",
        f"[dim]{escape(rules.source)} sha256 {rules.sha256}[/]",
    ]
    for service in rules.model.services:
        lines += [
            "",
            f"[bold]{escape(service.title)}[/] ({service.id}; {_codes(rules, service.id)})",
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
        out.append(f'  s{s}["{_label(service.title)}<br/>{_codes(rules, service.id)}"]')
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


def python_source(rules: Rules) -> str:
    """The Python a rule file compiles to: the case validator, then each service's function,
    as they run (tracebacks through them show these lines)."""
    parts = [f"# {rules.guideline_id}: the Python its rule file compiles to.", ""]
    parts.append(rules.case_format.source)
    parts += [service.source for service in rules.services.values()]
    return "\n".join(parts)


def _codes(rules: Rules, service_id: str) -> str:
    codes = rules.services[service_id].codes
    return f"{codes.system} {codes}" if codes else "no procedure code listed"


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
