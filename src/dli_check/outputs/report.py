"""A case result for a reviewer, as text: the recommendation, then each line and its
criteria, each with the guideline's words.

Lines are made of styled segments, so that the same report is plain text in a file or a
pipe, and in colour on a terminal (ANSI, unless ``NO_COLOR`` is set or ``TERM`` is
``dumb``), without a terminal library: ``dli-check CASE.json`` starts fast.
Text that comes from a case is made inert (`inert.terminal`) before it is styled.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TextIO

from dli_check.inert import terminal

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult

Segment = tuple[str, str]
"""Text and its style: words among bold, dim, italic and a colour; empty for none."""
Line = list[Segment]

LABELS = {
    "medically_necessary": "MEDICALLY NECESSARY",
    "not_medically_necessary": "NOT MEDICALLY NECESSARY",
    "insufficient_information": "INSUFFICIENT INFORMATION",
    "no_version_in_effect": "NO VERSION IN EFFECT",
    "not_applicable": "NOT APPLICABLE",
}
"""Decisions in capitals, as tables show them."""
COLOURS = {
    "medically_necessary": "green",
    "not_medically_necessary": "red",
    "insufficient_information": "yellow",
    "no_version_in_effect": "magenta",
    "not_applicable": "blue",
    "met": "green",
    "not_met": "red",
    "unknown": "yellow",
}
"""The colour of each decision and each criterion's status."""
_SYMBOLS = {"met": "✓", "not_met": "✗", "unknown": "?"}
_WORDS = {"met": "met", "not_met": "not met", "unknown": "unknown"}
_ANSWERS = {"met": "yes", "not_met": "no", "unknown": "unknown"}
"""The statuses of a criterion with a label, which states what is met."""
HEADLINES = {
    "medically_necessary": "MEETS {g}",
    "not_medically_necessary": "DOES NOT MEET {g}",
    "insufficient_information": "MORE INFORMATION NEEDED",
    "no_version_in_effect": "NO VERSION OF {g} IN EFFECT HERE",
    "not_applicable": "NOT GOVERNED BY {g}",
}
"""Decisions in a reviewer's words: the engine recommends; only a clinician denies."""
ACTION_WORDS = {
    "approve": "approve (medical necessity only: the member's benefits decide coverage)",
    "refer_to_clinical_reviewer": "refer to a physician reviewer (a recommendation, not a denial)",
    "request_information": "request the information below",
    "none": "nothing to do under {g}",
}
_SGR = {
    "bold": "1",
    "dim": "2",
    "italic": "3",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
}
"""ANSI Select Graphic Rendition codes of the styles."""


def _headline(decision: str, guideline: str) -> Segment:
    return (HEADLINES[decision].format(g=guideline), f"bold {COLOURS[decision]}")


def case_headline(result: CaseResult, guideline: str) -> Segment:
    """The case's recommendation; for lines that differ, how many meet the guideline and
    where the others go ("2 of 3 lines meet CG-TRANS-03; 1 to a physician reviewer"). It
    never says the case meets the guideline while a line went elsewhere or is not governed.
    """
    lines = result.services
    if len({s.decision for s in lines}) <= 1:
        return _headline(result.decision, guideline)
    meeting = sum(s.decision == "medically_necessary" for s in lines)
    verb = "meets" if meeting == 1 else "meet"
    parts = [f"{meeting} of {len(lines)} lines {verb} {guideline}"]
    for action, words in (
        ("refer_to_clinical_reviewer", "to a physician reviewer"),
        ("request_information", "waiting for information"),
        ("none", f"not governed by {guideline}"),
    ):
        count = sum(s.action == action for s in lines)
        if count:
            parts.append(f"{count} {words}")
    return ("; ".join(parts), f"bold {COLOURS[result.decision]}")


def result_lines(
    result: CaseResult, rules: Decider | None = None, *, symbols: bool = True
) -> list[Line]:
    """A case result for a reviewer: the recommendation, then each line and its criteria;
    with the `rules` that decided it, missing facts are asked for by their questions.
    `symbols`: ✓ ✗ ? for the statuses, else words."""
    guideline = result.provenance.guideline
    g = guideline.id
    lines: list[Line] = [
        [
            (f"Case {terminal(result.case_id)}", "bold"),
            (": ", ""),
            case_headline(result, g),
            ("  ", ""),
            (f"({g}, last reviewed {guideline.last_review_date})", "dim"),
        ]
    ]
    audit = result.audit.lines if result.audit is not None else ()
    for number, line in enumerate(result.services, start=1):
        code = f" ({terminal(line.code)})" if line.code else ""
        day = audit[number - 1].date_of_service if audit else None
        lines.append([])
        lines.append(
            [
                (f"{number}. {day} " if day else f"{number}. ", ""),
                (line.service or "service line", "bold"),
                (f"{code}: ", ""),
                _headline(line.decision, g),
                (f" -> {ACTION_WORDS[line.action].format(g=g)}", ""),
            ]
        )
        service = rules.services.get(line.service or "") if rules else None
        labels = {c.id: c.label for c in service.criteria if c.label} if service else {}
        # A basis stands in for a sentence the guideline does not state: it comes after the
        # criteria it sums up, where the outcome's quote would.
        bases = (
            {o.basis for o in (service.when_met, service.otherwise) if o.basis}
            if service
            else set()
        )
        lines.extend([(f"   {terminal(note)}", "")] for note in line.notes if note not in bases)
        for reason in line.reasons:
            label = labels.get(reason.criterion)
            words = _ANSWERS if label else _WORDS
            mark = _SYMBOLS[reason.status] if symbols else words[reason.status]
            # A labelled criterion reads as a statement with yes or no ("no  visit not billed
            # twice"), its id beside it; never a double negative ("not met not-billed-twice").
            said = ", ".join(
                ([reason.criterion] if label else [])
                + ([f"judged on {reason.record}"] if reason.record else [])
            )
            lines.append(
                [
                    ("   ", ""),
                    (f"{mark:<7}", COLOURS[reason.status]),
                    (" ", ""),
                    (label or reason.criterion, "bold"),
                    *([(" ", ""), (f"({said})", "dim")] if said else []),
                    (f": {reason.explanation}", ""),
                ]
            )
            lines.append(
                [
                    ("           ", ""),
                    (f'"{reason.citation.quote}"', "italic"),
                    (" ", ""),
                    (f"({reason.citation.section})", "dim"),
                ]
            )
            lines.extend([(f"           {terminal(note)}", "")] for note in reason.notes)
            if reason.missing:
                missing = terminal(", ".join(reason.missing))
                lines.append([("           ", ""), (f"missing: {missing}", "yellow")])
        if line.outcome is not None:
            lines.append(
                [
                    ("   Decided by: ", ""),
                    (f'"{line.outcome.quote}"', "italic"),
                    (" ", ""),
                    (f"({line.outcome.section})", "dim"),
                ]
            )
        for note in line.notes:
            if note in bases:
                lines.append([("   Decided by: ", ""), (terminal(note), "")])
        if line.missing:
            lines.append([("   ", ""), ("Information needed:", "yellow")])
            label = service.label if service else "the service"
            for path in line.missing:
                question = rules.case_format.question(path, label) if rules else None
                asked = f"{question} [{terminal(path)}]" if question else terminal(path)
                lines.append([("   ", ""), (f"- {asked}", "yellow")])
    if result.sources:
        lines.append([])
        lines.append([("Read from FHIR:", "")])
        for source in result.sources:
            places = terminal("; ".join(source.places))
            if source.agree:
                lines.append([(f"   {terminal(source.fact)}: {places}", "")])
            else:
                fact = terminal(source.fact)
                lines.append(
                    [
                        ("   ", ""),
                        (f"{fact}: unknown, the places disagree:", "red"),
                        (f" {places}", ""),
                    ]
                )
    return lines


def plain(line: Line) -> str:
    """A line as plain text."""
    return "".join(text for text, _ in line)


def coloured(line: Line) -> str:
    """A line with ANSI styles."""
    parts = []
    for text, style in line:
        if style and text:
            codes = ";".join(_SGR[word] for word in style.split())
            parts.append(f"\x1b[{codes}m{text}\x1b[0m")
        else:
            parts.append(text)
    return "".join(parts)


def write_report(result: CaseResult, rules: Decider | None, stream: TextIO) -> None:
    """Write a result for a reviewer: with symbols on a terminal, and colour unless
    ``NO_COLOR`` is set or ``TERM`` is ``dumb``; plain text elsewhere."""
    try:
        on_terminal = stream.isatty()
    except ValueError:  # closed
        on_terminal = False
    colour = on_terminal and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    render = coloured if colour else plain
    lines = result_lines(result, rules, symbols=on_terminal)
    stream.write("".join(render(line) + "\n" for line in lines))
    stream.flush()
