"""A line's result in a reader's words, for what the interop mappings send: services by
their labels, criteria by their labels, missing facts by their questions; never an engine
path or a criterion id where a label exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import ServiceResult


def service_label(rules: Decider, line: ServiceResult) -> str:
    """The line's service as a sentence names it (``the infusion``)."""
    service = rules.services.get(line.service or "")
    return service.label if service else "the service"


def criterion_words(rules: Decider, line: ServiceResult, criterion: str) -> str:
    """A criterion as a reader knows it: its label, else its id."""
    service = rules.services.get(line.service or "")
    found = next((c for c in service.criteria if c.id == criterion), None) if service else None
    return found.label if found is not None and found.label else criterion


def questions(rules: Decider, line: ServiceResult) -> list[str]:
    """The questions that ask for the facts the line misses, in the order it names them."""
    label = service_label(rules, line)
    return [rules.case_format.question(path, label) or path for path in line.missing]
