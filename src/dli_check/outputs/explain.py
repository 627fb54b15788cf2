"""Explanations for people: a rule file as a tree or as a Mermaid flowchart, batch and diff
summaries (`report` explains a result).

Text comes back as lines with rich markup (``[green]...[/]``); printed through rich it is in
colour on a terminal and plain elsewhere.
"""

from __future__ import annotations

from rich.markup import escape

from dli_check.engine.rules import Rules
from dli_check.inert import terminal
from dli_check.language.expressions import text
from dli_check.outputs.report import COLOURS, LABELS


def _decision(decision: str) -> str:
    return f"[bold {COLOURS[decision]}]{LABELS[decision]}[/]"


def rules_lines(rules: Rules) -> list[str]:
    """A rule file as a readable tree: services, criteria, conditions and citations."""
    from dli_check.language.operators import condition_text  # the rule language: not for summaries

    def shown(text: object) -> str:
        # Rule files are untrusted: their text is neither markup nor terminal sequences.
        return escape(terminal(str(text)))

    g = rules.model.guideline
    lines = [
        f"[bold]{shown(g.id)}[/]: {shown(g.title)}",
        f"published {g.publish_date}, last reviewed {g.last_review_date}, {shown(g.status)}",
        f"[dim]{shown(rules.source)} sha256 {rules.sha256}[/]",
    ]
    derived = rules.case_format.derived
    if derived:
        lines += ["", "[bold]Derived numbers[/]"]
        for path, number in derived.items():
            unit = f" ({shown(number.unit)})" if number.unit else ""
            lines.append(f"  {shown(path)} = {shown(text(number.tree))}{unit}")
    for service in rules.model.services:
        codes = _codes(rules, service.id)
        lines += ["", f"[bold]{shown(service.title)}[/] ({shown(service.id)}; {shown(codes)})"]
        if service.expected_codes is not None:
            expected = service.expected_codes
            lines.append(f"  expected codes: {shown(expected.code_set)} ({shown(expected.note)})")
        if service.route is not None:
            lines.append(f"  route: {shown(service.route.explanation)}")
            lines += [f"      {shown(x)}" for x in condition_text(service.route.when)]
        choice = service.record_choice
        if choice is not None:
            lines.append(f"  judged on {shown(choice.name)}: {shown(choice.explanation)}")
            for word, part in (("among", choice.among), ("prefer", choice.prefer)):
                if part is not None:
                    lines.append(f"      {word}:")
                    lines += [f"        {shown(x)}" for x in condition_text(part)]
            if choice.latest_by is not None:
                lines.append(f"      the latest by {shown(choice.latest_by)}")
        for excluded in service.not_governed_when:
            lines.append(f"  not governed when: {shown(excluded.explanation)}")
            lines += [f"      {shown(x)}" for x in condition_text(excluded.when)]
        for criterion in service.criteria:
            lines.append(f"  [bold]{shown(criterion.id)}[/]: {shown(criterion.explanation)}")
            lines += [f"      {shown(x)}" for x in condition_text(criterion.condition)]
            for citation in [criterion.citation, *criterion.also_cites]:
                lines.append(
                    f'      [italic]"{shown(citation.quote)}"[/]'
                    f" [dim]({shown(citation.section)})[/]"
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
    from dli_check.language.operators import condition_text  # the rule language: not for summaries

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
        out.append(f'  {previous} -->|all met| s{s}yes(["{LABELS[service.when_met.decision]}"])')
        out.append(
            f"  {previous} -->|some unknown, none not met| "
            f's{s}unknown(["{LABELS["insufficient_information"]}"])'
        )
        out.append(f'  s{s}no(["{LABELS[service.otherwise.decision]}"])')
    return "\n".join(out) + "\n"


def python_source(rules: Rules) -> str:
    """The Python a rule file compiles to: the case validator, then each service's function,
    as they run (tracebacks through them show these lines)."""
    parts = [f"# {rules.guideline_id}: the Python its rule file compiles to.", ""]
    parts.append(rules.case_format.source)
    parts += [service.source for service in rules.services.values()]
    parts += [check.source for check in rules.checks]
    return "\n".join(parts)


def _codes(rules: Rules, service_id: str) -> str:
    codes = rules.services[service_id].codes
    return f"{codes.system} {codes}" if codes else "no procedure code listed"


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
