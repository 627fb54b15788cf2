"""What an evaluation returns: decisions, actions, and the cited reasons behind them.

Reasons are the positive twin of validation errors: each names the criterion, says whether
it was met, not met or unknown, explains it in plain words and quotes the guideline.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr
from pydantic_core import to_json

Status = Literal["met", "not_met", "unknown"]
Decision = Literal[
    "medically_necessary", "not_medically_necessary", "insufficient_information", "not_applicable"
]
Action = Literal["approve", "request_information", "refer_to_clinical_reviewer", "none"]
Detail = Literal["full", "decisions"]
"""How much a JSON result holds: everything with citations (``full``), or the compact
``decisions`` record: per line the decision, the action, the criteria not met or unknown,
the missing facts and the rule file's sha256; no explanations, no quotes."""

ACTIONS: dict[str, Action] = {
    "medically_necessary": "approve",
    "insufficient_information": "request_information",
    # An adverse medical-necessity determination is a clinician's: the engine recommends it.
    "not_medically_necessary": "refer_to_clinical_reviewer",
    # A line the guideline does not govern: nothing for this guideline to do.
    "not_applicable": "none",
}

# Frozen, with tuples for lists: results can share parts (a criterion's reason is built once
# per distinct outcome), so nothing in them may change.
_FROZEN = ConfigDict(frozen=True)


class _Shareable(BaseModel):
    """A result part that many results may share; it can carry its own JSON."""

    model_config = _FROZEN
    _json: str | None = PrivateAttr(default=None)


S = TypeVar("S", bound=_Shareable)


class Citation(_Shareable):
    """A passage of the guideline: its section path and its words."""

    section: str
    quote: str


class Reason(_Shareable):
    """How one criterion came out for one service line."""

    criterion: str
    status: Status
    explanation: str
    citation: Citation
    also_cites: tuple[Citation, ...]
    record: str | None
    """The record of a list the criterion was judged on (``visits[1]``), if any."""
    notes: tuple[str, ...]
    """What the engine saw: e.g. which listed range a code fell in, or why it fell in none."""
    missing: tuple[str, ...]
    """Fact paths that were absent, when the status is unknown."""


class VersionInfo(_Shareable):
    """Which version of the guideline decided a line: its id, its period of dates of service,
    and the rule file's sha256."""

    guideline: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    rules_sha256: str


class ServiceResult(BaseModel):
    """The decision for one requested service line."""

    model_config = _FROZEN

    service: str | None
    """The service of the rule file that decided the line; None when none governs it."""
    code: str | None
    decision: Decision
    action: Action
    outcome: Citation | None
    """Where the guideline states this decision (none when information is missing)."""
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...]
    """What the engine saw about the line itself (a code the guideline does not list)."""
    version: VersionInfo | None
    """The guideline version that decided the line (None when none could be chosen)."""


class GuidelineInfo(BaseModel):
    """Which guideline decided."""

    model_config = _FROZEN
    id: str
    title: str
    publish_date: dt.date
    last_review_date: dt.date
    status: str


class CodeSystemInfo(BaseModel):
    """Which code-set release the codes were checked against."""

    model_config = _FROZEN
    system: str
    release: str
    source: str


class Provenance(_Shareable):
    """Everything needed to reproduce a result."""

    guideline: GuidelineInfo
    rules_sha256: str
    engine_version: str
    code_system: CodeSystemInfo


class FactSource(BaseModel):
    """Where a fact of a case read from FHIR was found: every place, so that a reviewer
    can trace each input of a decision. Places that disagree leave the fact unknown."""

    model_config = _FROZEN
    fact: str
    """The fact's path in the case (``visits[0].date``)."""
    places: tuple[str, ...]
    """``Procedure/hct-1.performedDateTime``, ``QuestionnaireResponse/qr-1 item ...``."""
    agree: bool
    """False when the places give different values: the fact was left unknown."""


class CaseResult(BaseModel):
    """The decision for a whole case, line by line, in input order."""

    model_config = _FROZEN
    case_id: str
    decision: Decision
    services: tuple[ServiceResult, ...]
    provenance: Provenance
    sources: tuple[FactSource, ...] = ()
    """For a case read from FHIR: where each fact came from (empty for case JSON)."""

    def to_json(self, *, indent: int | None = 2, detail: Detail = "full") -> str:
        """The result as JSON; the same input always gives the same bytes.

        Compact JSON (``indent=None``) is put together from the JSON of shared parts,
        serialized once; it is the same text as ``model_dump_json()``. With ``detail=
        "decisions"`` it is the compact record of `decisions()`.
        """
        if detail == "decisions":
            if indent is not None:
                return to_json(self.decisions(), indent=indent).decode()
            return _decisions_json(self)
        if indent is not None:
            return self.model_dump_json(indent=indent)
        return "".join(
            (
                '{"case_id":',
                _text(self.case_id),
                ',"decision":"',
                self.decision,
                '","services":[',
                ",".join(_line_json(line) for line in self.services),
                '],"provenance":',
                _fragment(self.provenance),
                ',"sources":',
                _text(self.sources) if self.sources else "[]",
                "}",
            )
        )

    def decisions(self) -> dict[str, Any]:
        """The compact record as plain data: what batch users who keep citations elsewhere
        need, per line: every criterion not met or unknown (for a line no service governs,
        the guideline's own: its scope, its period, the date it needs). Every other
        criterion of a governed line's service was met."""
        return json.loads(_decisions_json(self))  # type: ignore[no-any-return]


def _decisions_json(result: CaseResult) -> str:
    return "".join(
        (
            '{"case_id":',
            _text(result.case_id),
            ',"decision":"',
            result.decision,
            '","services":[',
            ",".join(_decision_line_json(line) for line in result.services),
            '],"rules_sha256":"',
            result.provenance.rules_sha256,
            '","engine_version":',
            _text(result.provenance.engine_version),
            "}",
        )
    )


def _line_head(line: ServiceResult) -> str:
    """The start of a line's JSON object, the same in full and decisions records."""
    return "".join(
        (
            '{"service":',
            _text(line.service),
            ',"code":',
            _text(line.code),
            ',"decision":"',
            line.decision,
            '","action":"',
            line.action,
            '"',
        )
    )


def _decision_line_json(line: ServiceResult) -> str:
    return "".join(
        (
            _line_head(line),
            ',"not_met":',
            _text([r.criterion for r in line.reasons if r.status == "not_met"]),
            ',"unknown":',
            _text([r.criterion for r in line.reasons if r.status == "unknown"]),
            ',"missing":',
            _text(line.missing),
            ',"rules_sha256":',
            "null" if line.version is None else f'"{line.version.rules_sha256}"',
            "}",
        )
    )


def _text(value: object) -> str:
    return to_json(value).decode()


def _line_json(line: ServiceResult) -> str:
    return "".join(
        (
            _line_head(line),
            ',"outcome":',
            "null" if line.outcome is None else _fragment(line.outcome),
            ',"reasons":[',
            ",".join(_fragment(reason) for reason in line.reasons),
            '],"missing":',
            _text(line.missing),
            ',"notes":',
            _text(line.notes),
            ',"version":',
            "null" if line.version is None else _fragment(line.version),
            "}",
        )
    )


def share(part: S) -> S:
    """Mark an immutable result part as shared by many results: its JSON is made once."""
    part._json = part.model_dump_json()
    return part


def _fragment(part: _Shareable) -> str:
    # Read the private attribute from its slot: pydantic's attribute lookup costs ~1 µs.
    private = part.__pydantic_private__
    text = private.get("_json") if private else None
    return text if text is not None else part.model_dump_json()


def case_decision(decisions: list[Decision] | tuple[Decision, ...]) -> Decision:
    """Any line not medically necessary decides the case; else any insufficient line; else
    any medically necessary one. Lines the guideline does not govern do not count: a case
    of such lines only is not applicable."""
    for decision in ("not_medically_necessary", "insufficient_information", "medically_necessary"):
        if decision in decisions:
            return decision
    return "not_applicable"
