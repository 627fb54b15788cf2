"""A declared fact, as rules name it (``visit.date``) and as cases hold it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dli_check.language.expressions import Node
from dli_check.language.read import RuleModel

if TYPE_CHECKING:
    from dli_check.language.model import FactDeclaration


@dataclass(frozen=True)
class Fact:
    """A declared fact, as rules name it (``visit.date``) and as cases hold it."""

    path: str
    """The name rules use: ``record.field``, ``item.field`` or ``service.field``."""
    owner: str
    """Where a case holds it: the record's or the list's key, or ``services``."""
    kind: str
    """``record``, ``list``, ``service`` (this line's), or ``other`` (another line's, in an
    ``other_line`` condition: ``other.<field>``)."""
    field: str
    rule_model: RuleModel = dataclasses.field(repr=False, compare=False)

    @property
    def declaration(self) -> FactDeclaration:
        """The fact's declaration in the rule file."""
        case = self.rule_model.get().case
        if self.kind == "record":
            return case.records[self.owner].facts[self.field]
        if self.kind == "list":
            return case.lists[self.owner].facts[self.field]
        return case.service.facts[self.field]  # a line's, this one's or another's

    @property
    def has_default(self) -> bool:
        """Whether the fact declares a default."""
        return self.declaration.default is not None

    @property
    def bounds(self) -> tuple[int | float | None, int | float | None]:
        """A number's declared minimum and maximum (None: no bound)."""
        return (self.declaration.minimum, self.declaration.maximum)

    @property
    def unit(self) -> str | None:
        """A number's declared unit, if any."""
        return self.declaration.unit

    @property
    def type(self) -> str:
        """The fact's type: boolean, date, choice, identifier, number, code or codes."""
        return self.declaration.type

    def case_path(self, index: int | None = None) -> str:
        """Where a case holds the fact: ``patient.diagnoses``, ``visits[1].date``."""
        if self.kind == "record":
            return f"{self.owner}.{self.field}"
        return f"{self.owner}[{index}].{self.field}"

    def label(self, service_label: str) -> str:
        """The fact in a sentence ("the visit's date")."""
        label = self.declaration.label or self.path
        if self.kind == "other":
            return f"{label.replace('{service}', 'the line')} on the other line"
        return label.replace("{service}", service_label)


@dataclass(frozen=True)
class DerivedFact:
    """A derived number (a declaration's ``derived``), as rules name it: computed by its
    formula from the facts it reads, never given by a case."""

    path: str
    owner: str
    kind: str
    """As a fact's: ``record``, ``list`` or ``service``."""
    field: str
    tree: Node
    inputs: tuple[str, ...]
    """The facts the formula reads, in the order written."""
    unit: str | None
    """The declared unit, else the one the formula gives (None: no unit)."""
    words: str | None
    """The declared label."""
    type: str = "number"
    has_default: bool = False
    bounds: tuple[int | float | None, int | float | None] = (None, None)

    def label(self, service_label: str) -> str:
        """The derived number in a sentence ("the dose per 28 days")."""
        return (self.words or self.path).replace("{service}", service_label)
