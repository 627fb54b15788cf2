"""What an evaluation returns: decisions, actions, and the cited reasons behind them.

Reasons are the positive twin of validation errors: each names the criterion, says whether
it was met, not met or unknown, explains it in plain words and quotes the guideline.

Every result part is a frozen dataclass: `dataclasses.asdict` gives its data,
`dataclasses.replace` a changed copy, and `CaseResult.to_json` its JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

Status = Literal["met", "not_met", "unknown"]
Decision = Literal[
    "medically_necessary",
    "not_medically_necessary",
    "insufficient_information",
    "no_version_in_effect",
    "not_applicable",
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
    # A line dated where no loaded version of the guideline was in effect: a person decides.
    "no_version_in_effect": "refer_to_clinical_reviewer",
    # A line the guideline does not govern: nothing for this guideline to do.
    "not_applicable": "none",
}

# Results are frozen dataclasses, with tuples for lists: they can share parts (a
# criterion's reason is built once per distinct outcome), so nothing in them may change.
# They are plain data, not pydantic models, so that deciding one case needs no pydantic:
# `schemas` builds their JSON Schema with pydantic, which reads dataclasses as they are.


@dataclass(frozen=True)
class Citation:
    """A passage of the guideline: its section path and its words."""

    section: str
    quote: str


@dataclass(frozen=True)
class Reason:
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
    by_default: bool = False
    """Met only through a fact's declared default, or because a fact was not given; the
    note that starts with `BY_DEFAULT` says which and why."""


BY_DEFAULT = "met by default: "
"""How a note starts that says a criterion was met through a default or an absent fact."""


@dataclass(frozen=True)
class VersionInfo:
    """Which version of the guideline decided a line: its id, its period of dates of service,
    and the rule file's sha256."""

    guideline: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    rules_sha256: str


@dataclass(frozen=True)
class ServiceResult:
    """The decision for one requested service line."""

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


@dataclass(frozen=True)
class GuidelineInfo:
    """Which guideline decided."""

    id: str
    title: str
    publish_date: dt.date
    last_review_date: dt.date
    status: str


@dataclass(frozen=True)
class CodeSystemInfo:
    """Which code-set release the codes were checked against."""

    system: str
    release: str
    source: str


@dataclass(frozen=True)
class Provenance:
    """Everything needed to reproduce a result."""

    guideline: GuidelineInfo
    rules_sha256: str
    engine_version: str
    code_system: CodeSystemInfo


@dataclass(frozen=True)
class FactSource:
    """Where a fact of a case read from FHIR was found: every place, so that a reviewer
    can trace each input of a decision. Places that disagree leave the fact unknown."""

    fact: str
    """The fact's path in the case (``visits[0].date``), or a record's (``visits[0]``):
    the resource that record was read from, which questionnaires name it by."""
    places: tuple[str, ...]
    """``Procedure/hct-1.performedDateTime``, ``QuestionnaireResponse/qr-1 item ...``."""
    agree: bool
    """False when the places give different values: the fact was left unknown."""


@dataclass(frozen=True)
class FactRead:
    """A fact a criterion read, where the case holds it, and its value (None: absent)."""

    fact: str
    """``services[0].provider_id``, ``visits[1].date``, ``patient.diagnoses``."""
    value: Any
    """As the validated case holds it (a date, a tuple of codes); JSON has dates as ISO
    text and tuples as lists."""


@dataclass(frozen=True)
class CriterionRead:
    """The facts one criterion read for one line (their values are the case's, in
    `CaseAudit.values`), in the order it reads them."""

    criterion: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class LineAudit:
    """What an auditor needs to follow one line's decision: where the line stands in the
    case, its date of service, the ICD-10-CM release its codes were read in, and the facts
    each criterion read."""

    position: int
    """The line's index in the case's ``services`` (from 0)."""
    date_of_service: dt.date | None
    code_set_release: str
    """``FY2025 (April 1, 2025 update)``; two releases joined by "or" when the release of
    the date is not shipped (see `dli_check.values.icd10cm.releases_on`)."""
    read: tuple[CriterionRead, ...]


@dataclass(frozen=True)
class CaseAudit:
    """Per line, its `LineAudit`; and, once for the case, the value of every fact a
    criterion read (a claim's codes, read by every line, are not repeated)."""

    lines: tuple[LineAudit, ...]
    values: tuple[FactRead, ...]
    """In the order first read."""


@dataclass(frozen=True)
class ConditionAnswer:
    """What one condition of a line's criteria came to (`CaseResult.conditions`)."""

    status: Status
    by_default: bool
    """Met through a fact the case does not give: a line's default, or an absence the
    condition accepts."""
    read: tuple[FactRead, ...]
    """The facts it read, where the case holds them, and their values; none for a
    condition over a list's records or other lines (its notes say what it saw), and none
    of a list judged on no record."""


ConditionPath = tuple[str | int, ...]
"""Where a condition is in its rule file: ``("services", 0, "criteria", 2, "condition",
"any", 1)``; a named condition's parts are where the rule file defines them."""


class AuditSource(Protocol):
    """Makes a case's audit from its line results, when it is first asked for."""

    def __call__(self, services: tuple[ServiceResult, ...]) -> CaseAudit:
        """The case's audit."""

    def releases(self) -> tuple[str, ...]:
        """Each line's `LineAudit.code_set_release` alone (for the compact record)."""

    def conditions(self, number: int, line: ServiceResult) -> dict[ConditionPath, ConditionAnswer]:
        """What each condition of line `number`'s criteria came to."""


def made(cls: type[P], **fields: Any) -> P:
    """A result part made without the per-field cost of a frozen dataclass's __init__:
    for parts made per case, many at a time (`CaseAudit`)."""
    part = object.__new__(cls)
    part.__dict__.update(fields)
    return part


_DECISIONS = uuid.UUID("8ad5c98e-2ca3-4588-9530-84947e983a13")
"""The namespace of `CaseResult.decision_id` (a fixed, random UUID)."""


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_DECISIONS, name))``, without making UUID objects (a test holds it
    to the standard library's)."""
    digest = bytearray(
        hashlib.sha1(_DECISIONS.bytes + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _sha256(given: bytes | Mapping[str, Any] | None) -> str | None:
    if given is None:
        return None
    if not isinstance(given, bytes):
        text = json.dumps(
            given, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        given = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(given).hexdigest()


@dataclass(frozen=True, init=False)
class CaseResult:
    """The decision for a whole case, line by line, in input order.

    `decision_id`, `case_sha256` and `audit` are made when first asked for (deciding a
    case costs microseconds, and most callers of `evaluate` never ask): they are fields,
    and JSON holds them, like any other.
    """

    case_id: str
    decision: Decision
    decision_id: str | None
    """A UUID naming this decision, made (UUID version 5) from the case's sha256, the
    sha256 of each rule file that decided a line, and the engine version: the same case
    decided by the same rules and engine always has the same id, and any change of them
    gives another. None when `case_sha256` is."""
    case_sha256: str | None
    """The sha256 of the case's bytes as given (the file, the request body, the JSON Lines
    line); for a case given as a dict, of its canonical JSON (keys sorted, no spaces,
    UTF-8). None when the engine was called directly, with no input to hash."""
    services: tuple[ServiceResult, ...]
    provenance: Provenance
    sources: tuple[FactSource, ...]
    """For a case read from FHIR: where each fact came from (empty for case JSON)."""
    audit: CaseAudit | None
    """Per service line, in the same order: its position, date of service, ICD-10-CM
    release and the facts each criterion read, with their values (line results are shared
    between cases that come out alike, so what is the case's own is kept here). None when
    the engine made no record of them."""

    def __init__(
        self,
        case_id: str,
        decision: Decision,
        services: tuple[ServiceResult, ...],
        provenance: Provenance,
        sources: tuple[FactSource, ...] = (),
        *,
        given: bytes | Mapping[str, Any] | None = None,
        audit_from: AuditSource | None = None,
    ) -> None:
        # One is made per case: filled in directly, it costs a third of what a frozen
        # dataclass's own __init__ (a setattr per field) does.
        self.__dict__.update(
            case_id=case_id,
            decision=decision,
            services=services,
            provenance=provenance,
            sources=sources,
            _given=given,
            _audit_from=audit_from,
        )

    def __getattr__(self, name: str) -> Any:
        # Only for what __init__ leaves out: the fields made when first asked for.
        if name == "case_sha256":
            value: Any = _sha256(self.__dict__["_given"])
        elif name == "decision_id":
            value = self._decision_id()
        elif name == "audit":
            made = self.__dict__["_audit_from"]
            value = made(self.services) if made is not None else None
        else:
            raise AttributeError(name)
        self.__dict__[name] = value
        return value

    def _decision_id(self) -> str | None:
        digest = self.case_sha256
        if digest is None:
            return None
        first = self.provenance.rules_sha256
        shas = [line.version.rules_sha256 for line in self.services if line.version]
        rules = (first,) if all(sha == first for sha in shas) else sorted({first, *shas})
        return _uuid5("\n".join((digest, *rules, self.provenance.engine_version)))

    def code_set_releases(self) -> tuple[str, ...] | None:
        """Each line's ICD-10-CM release (as `audit` has it), without the rest of the audit;
        None when the engine made no record."""
        audit = self.__dict__.get("audit")
        if audit is not None:
            return tuple(line.code_set_release for line in audit.lines)
        source = self.__dict__["_audit_from"]
        return source.releases() if source is not None else None

    def conditions(self, number: int) -> dict[ConditionPath, ConditionAnswer]:
        """What each condition of line `number`'s criteria came to, node by node, by its
        place in the rule file: the criteria's answers, explained further (for a reviewer's
        worksheet). Conditions inside ``some``, ``none``, ``every``, ``count`` and
        ``other_line`` are answered once per record or line, so only the quantifier itself
        is here. Empty for a line no service decided, or when the engine made no record.

        The line is judged again by a traced build of the rules that decided it, compiled
        when first asked for (tens of milliseconds); each call then costs a few times what
        deciding the line did."""
        source = self.__dict__["_audit_from"]
        return source.conditions(number, self.services[number]) if source is not None else {}

    def given(self, case: bytes | Mapping[str, Any]) -> CaseResult:
        """Record what was decided (the case's bytes, or the dict), which `case_sha256` and
        `decision_id` are made from; for the front door, on a result it has just made and
        before anyone has asked for either. Returns the result."""
        if "case_sha256" in self.__dict__:
            raise ValueError("this result's case_sha256 has been made already")
        self.__dict__["_given"] = case
        return self

    def with_lines(
        self, services: tuple[ServiceResult, ...], sources: tuple[FactSource, ...]
    ) -> CaseResult:
        """This result with other line results (as many, in the same order) and sources."""
        return CaseResult(
            self.case_id,
            self.decision,
            services,
            self.provenance,
            sources,
            given=self.__dict__["_given"],
            audit_from=self.__dict__["_audit_from"],
        )

    def to_json(self, *, indent: int | None = 2, detail: Detail = "full") -> str:
        """The result as JSON; the same input always gives the same bytes.

        Compact JSON (``indent=None``) is put together from the JSON of shared parts,
        serialized once. With ``detail="decisions"`` it is the compact record of
        `decisions()`.
        """
        if detail == "decisions":
            if indent is not None:
                return json.dumps(self.decisions(), ensure_ascii=False, indent=indent)
            return _decisions_json(self)
        if indent is not None:
            return _pretty_case(self, indent)
        return "".join(
            (
                '{"case_id":',
                _text(self.case_id),
                ',"decision":"',
                self.decision,
                '",',
                _ids(self),
                ',"services":[',
                ",".join(_line_json(line) for line in self.services),
                '],"provenance":',
                _fragment(self.provenance),
                ',"sources":',
                _text(plain(self.sources)) if self.sources else "[]",
                ',"audit":',
                _audit_json(self.audit),
                "}",
            )
        )

    def decisions(self) -> dict[str, Any]:
        """The compact record as plain data: what batch users who keep citations elsewhere
        need, per line: every criterion not met or unknown (for a line no service governs,
        the guideline's own: its scope, its period, the date it needs). Every other
        criterion of a governed line's service was met."""
        return json.loads(_decisions_json(self))  # type: ignore[no-any-return]


def plain(value: Any) -> Any:
    """A result part as JSON data: dataclasses as objects in field order, tuples as lists,
    dates as ISO text.

    >>> plain(Citation(section="Position Statement", quote="DLI is medically necessary"))
    {'section': 'Position Statement', 'quote': 'DLI is medically necessary'}
    """
    if type(value) is tuple or type(value) is list:
        return [plain(item) for item in value]
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.encode_basestring


def _text(value: Any) -> str:
    """Compact JSON of plain data, as every result's JSON is written; strings, lists of
    strings and null (nearly every call) without the encoder's per-call set-up."""
    if type(value) is str:
        return _string(value)  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if (type(value) is tuple or type(value) is list) and all(type(v) is str for v in value):
        return "[" + ",".join(map(_string, value)) + "]"
    return _encode(value)


def _audit_json(audit: CaseAudit | None) -> str:
    """``_text(plain(audit))``, made of each criterion's reads' kept JSON (they are shared
    by the cases whose lines came out alike)."""
    if audit is None:
        return "null"
    lines = ",".join(
        "".join(
            (
                '{"position":',
                str(line.position),
                ',"date_of_service":',
                "null" if line.date_of_service is None else f'"{line.date_of_service}"',
                ',"code_set_release":',
                _text(line.code_set_release),
                ',"read":[',
                ",".join(_fragment(read) for read in line.read),
                "]}",
            )
        )
        for line in audit.lines
    )
    values = ",".join(map(_fragment, audit.values))
    return f'{{"lines":[{lines}],"values":[{values}]}}'


def _ids(result: CaseResult) -> str:
    """``"decision_id":…,"case_sha256":…``"""
    return f'"decision_id":{_text(result.decision_id)},"case_sha256":{_text(result.case_sha256)}'


def _decisions_json(result: CaseResult) -> str:
    releases = result.code_set_releases()
    if releases is not None:  # the release is the case's own: added to the shared line's JSON
        lines = (
            f'{_decision_line_json(line)[:-1]},"code_set_release":{_text(release)}}}'
            for line, release in zip(result.services, releases, strict=True)
        )
    else:
        lines = (_decision_line_json(line) for line in result.services)
    return "".join(
        (
            '{"case_id":',
            _text(result.case_id),
            ',"decision":"',
            result.decision,
            '",',
            _ids(result),
            ',"services":[',
            ",".join(lines),
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
    return _kept(line, "_decisions", _write_decision_line)


def _write_decision_line(line: ServiceResult) -> str:
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


def _line_json(line: ServiceResult) -> str:
    return _kept(line, "_json", _write_line)


def _write_line(line: ServiceResult) -> str:
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


P = TypeVar("P")


def _kept(part: P, name: str, write: Callable[[P], str]) -> str:
    """A part's JSON, written once and kept on the part (results are immutable). Line
    results are shared by the cases that come out alike (see `dli_check.compiler.criteria`),
    so a case's JSON is little more than a join."""
    text: str | None = part.__dict__.get(name)
    if text is None:
        text = write(part)
        object.__setattr__(part, name, text)
    return text


def _write_plain(part: object) -> str:
    return _text(plain(part))


def share(part: P) -> P:
    """Mark an immutable result part as shared by many results: its JSON is made now."""
    _kept(part, "_json", _write_plain)
    return part


def _fragment(part: object) -> str:
    return _kept(part, "_json", _write_plain)


def _pretty_case(result: CaseResult, indent: int) -> str:
    """``json.dumps(plain(result), ensure_ascii=False, indent=indent)``, byte for byte, put
    together from each part's indented JSON, made once per part (as the compact JSON is):
    the standard library's indenting encoder is pure Python, some 70 times slower."""
    pad = " " * indent
    if result.services:
        inner = ",\n".join(pad * 2 + _pretty_line(line, indent) for line in result.services)
        services = "[\n" + inner + "\n" + pad + "]"
    else:
        services = "[]"
    sources = _indented(plain(result.sources), indent, 1) if result.sources else "[]"
    return "".join(
        (
            "{\n",
            pad,
            '"case_id": ',
            _text(result.case_id),
            ",\n",
            pad,
            '"decision": ',
            _text(result.decision),
            ",\n",
            pad,
            '"decision_id": ',
            _text(result.decision_id),
            ",\n",
            pad,
            '"case_sha256": ',
            _text(result.case_sha256),
            ",\n",
            pad,
            '"services": ',
            services,
            ",\n",
            pad,
            '"provenance": ',
            _pretty(result.provenance, _fragment, indent, 1),
            ",\n",
            pad,
            '"sources": ',
            sources,
            ",\n",
            pad,
            '"audit": ',
            _indented(plain(result.audit), indent, 1),
            "\n}",
        )
    )


def _pretty_line(line: ServiceResult, indent: int) -> str:
    """A line's indented JSON (at depth 2, in the case's services), kept on the line, and
    made of its parts' kept JSON: a line not shared between cases costs a join."""
    name = f"_pretty_{indent}"
    text: str | None = line.__dict__.get(name)
    if text is not None:
        return text
    pad, end = " " * (indent * 3), ",\n"
    if line.reasons:
        reasons = ",\n".join(
            " " * (indent * 4) + _pretty(reason, _fragment, indent, 4) for reason in line.reasons
        )
        reasons = "[\n" + reasons + "\n" + pad + "]"
    else:
        reasons = "[]"
    outcome = "null" if line.outcome is None else _pretty(line.outcome, _fragment, indent, 3)
    version = "null" if line.version is None else _pretty(line.version, _fragment, indent, 3)
    fields = (
        ("service", _text(line.service)),
        ("code", _text(line.code)),
        ("decision", _text(line.decision)),
        ("action", _text(line.action)),
        ("outcome", outcome),
        ("reasons", reasons),
        ("missing", _strings(line.missing, indent, 3)),
        ("notes", _strings(line.notes, indent, 3)),
        ("version", version),
    )
    inner = end.join(f'{pad}"{key}": {value}' for key, value in fields)
    text = "{\n" + inner + "\n" + " " * (indent * 2) + "}"
    object.__setattr__(line, name, text)
    return text


def _strings(values: tuple[str, ...], indent: int, depth: int) -> str:
    """An indented JSON list of strings, `depth` levels deep."""
    if not values:
        return "[]"
    pad = " " * (indent * (depth + 1))
    inner = ",\n".join(pad + _string(value) for value in values)
    return "[\n" + inner + "\n" + " " * (indent * depth) + "]"


def _pretty(part: Any, compact: Callable[[Any], str], indent: int, depth: int) -> str:
    """A part's indented JSON as it stands `depth` levels deep, kept on the part."""
    name = f"_pretty_{indent}_{depth}"
    text: str | None = part.__dict__.get(name)
    if text is None:
        text = _indented(json.loads(compact(part)), indent, depth)
        object.__setattr__(part, name, text)
    return text


def _indented(data: Any, indent: int, depth: int) -> str:
    # A JSON string never holds a raw line break, so every one is the encoder's own.
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return text.replace("\n", "\n" + " " * (indent * depth)) if depth else text


_CASE_ORDER: tuple[Decision, ...] = (
    "not_medically_necessary",
    "insufficient_information",
    "no_version_in_effect",
    "medically_necessary",
)


def case_decision(decisions: list[Decision] | tuple[Decision, ...]) -> Decision:
    """Any line not medically necessary decides the case; else any insufficient line; else
    any line no loaded version of the guideline was in effect for (a case is never
    medically necessary while one is); else any medically necessary one. Lines the
    guideline does not govern do not count: a case of such lines only is not applicable.

    >>> case_decision(["medically_necessary", "no_version_in_effect", "not_applicable"])
    'no_version_in_effect'
    """
    for decision in _CASE_ORDER:
        if decision in decisions:
            return decision
    return "not_applicable"
