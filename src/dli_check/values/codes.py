"""Code ranges and code sets: small values that parse their text once and answer `contains()`.

ICD-10-CM ranges follow the official tabular order, not string order, and take in the
descendants of both ends: ``C84.00-C84.99`` holds the letter subcategories ``C84.A-`` and
``C84.Z-`` (which come before ``C84.9`` in the tabular list) but not ``C84.9A`` (which comes
after ``C84.99``); ``C86.0-C86.6`` holds ``C86.60``. Procedure ranges are plain ranges of
five-character CPT codes (``38242``, ``0537T``) or HCPCS Level II codes (``E0601``).

>>> ProcedureRange.parse("38240-38243").contains("38242")
True
>>> ProcedureRange.parse("E0601").system
'HCPCS'
>>> procedure_system("3824")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dli_check.values.icd10cm import (
    CodeIndex,
    ReleaseChoice,
    billable_choices,
    code_index,
    description,
    dotted,
    undotted,
)
from dli_check.values.systems import CODE_SYSTEMS, CodeProblem, normal

_CPT = re.compile(r"[0-9]{4}[0-9FT]")
_HCPCS = re.compile(r"[A-V][0-9]{4}")


def procedure_system(code: str) -> str | None:
    """``CPT`` or ``HCPCS`` for a code of that shape, else None."""
    if _CPT.fullmatch(code):
        return "CPT"
    if _HCPCS.fullmatch(code):
        return "HCPCS"
    return None


_MEMO_LIMIT = 100_000


@dataclass(frozen=True)
class IcdRange:
    """An ICD-10-CM code or range as printed (``Z94.81``, ``C81.00-C81.99``)."""

    text: str
    first: str
    last: str
    low: int
    high: int

    @classmethod
    def parse(cls, text: str, index: CodeIndex | None = None) -> IcdRange:
        """Parse ``CODE`` or ``CODE-CODE``; ValueError says precisely what is wrong."""
        index = index or code_index()
        ends = text.split("-")
        if len(ends) > 2 or not all(e.strip() for e in ends):
            raise ValueError(f"{text!r} is not an ICD-10-CM code or a range CODE-CODE")
        keys = []
        for end in ends:
            key = undotted(end)
            if key is None:
                raise ValueError(f"{end.strip()!r} is not shaped like an ICD-10-CM code")
            if key not in index:
                raise ValueError(f"{dotted(key)} is not a code in ICD-10-CM {index.release}")
            keys.append(key)
        low, last = index.position[keys[0]], index.position[keys[-1]]
        if last < low:
            raise ValueError(f"range {text!r} ends before it starts in ICD-10-CM tabular order")
        return cls(text, dotted(keys[0]), dotted(keys[-1]), low, index.last_descendant(last))

    def contains_position(self, position: int, index: CodeIndex) -> bool:
        """Whether the code at this tabular position lies in the range.

        A heading code (one with more specific codes) lies in it when all its billable
        codes do: ``C92.0`` and ``C90`` do in ``C92.00-C92.92`` and ``C90.00-C90.32``;
        ``C81.9`` does not in ``C81.00-C81.99``, since ``C81.9A`` does not.
        """
        last = index.last_descendant(position)
        if last == position:
            return self.low <= position <= self.high
        return self.low <= index.first_leaf(position) and last <= self.high

    def overlaps_position(self, position: int, index: CodeIndex) -> bool:
        """Whether some code of the subtree at this position lies in the range."""
        return position <= self.high and index.last_descendant(position) >= self.low

    def contains(self, code: str, index: CodeIndex | None = None) -> bool:
        """Whether an ICD-10-CM code (dotted or not, any case) lies in the range."""
        index = index or code_index()
        position = index.find(undotted(code) or "")
        return position is not None and self.contains_position(position, index)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ProcedureRange:
    """A code or range of codes as printed (``38242``, ``38240-38243``), of CPT or HCPCS,
    or of another system of `dli_check.values.systems` when one is named: ranges only for
    systems whose codes have an order (ICD-10-PCS's do; NDC's, RxNorm's, LOINC's and
    SNOMED CT's do not, and a LOINC code holds a hyphen of its own).

    >>> ProcedureRange.parse("0002-1433-80", "NDC").first
    '00002143380'
    """

    text: str
    first: str
    last: str
    system: str

    @classmethod
    def parse(cls, text: str, system: str | None = None) -> ProcedureRange:
        """Parse ``CODE`` or ``CODE-CODE``; ValueError says precisely what is wrong."""
        if system is not None and not CODE_SYSTEMS[system].ordered:
            try:
                code = normal(system, text)
            except CodeProblem as exc:
                raise ValueError(f"{text.strip()!r} is {exc}") from None
            return cls(text, code, code, system)
        written = [e.strip() for e in text.split("-")]
        if len(written) > 2:
            raise ValueError(f"{text!r} is not a code or a range CODE-CODE")
        ends: list[str] = []
        systems: set[str] = set()
        for end in written:
            found = procedure_system(end) if system is None else system
            try:
                ends.append(normal(found or "CPT", end))
            except CodeProblem:
                raise ValueError(f"{end!r} is not a {system or 'CPT or HCPCS'} code") from None
            systems.add(found or "CPT")
        if len(systems) > 1:
            raise ValueError(f"range {text!r} mixes CPT and HCPCS codes")
        if ends[-1] < ends[0]:
            raise ValueError(f"range {text!r} ends before it starts")
        return cls(text, ends[0], ends[-1], systems.pop())

    def contains(self, code: str) -> bool:
        """Whether a code (in its system's normal form) lies in the range."""
        return len(code) == len(self.first) and self.first <= code <= self.last

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class IcdEntry:
    """One line of a code set: a range and the words printed beside it."""

    codes: IcdRange
    description: str


@dataclass(frozen=True)
class Caveat:
    """Codes a code set leaves out on purpose or by omission, and what a reviewer should know."""

    codes: tuple[IcdRange, ...]
    note: str


@dataclass(frozen=True)
class CodeGroup:
    """Codes a code set treats one way, and the reason it says so (an "also includes"
    entry, or codes that leave a criterion unknown)."""

    codes: tuple[IcdRange, ...]
    reason: str

    def contains_position(self, position: int, index: CodeIndex) -> bool:
        """Whether one of the group's ranges holds the code at `position`."""
        return any(r.contains_position(position, index) for r in self.codes)


LISTED, ASK, NOT_LISTED = "listed", "ask", "not_listed"


@dataclass(frozen=True)
class IcdCodeSet:
    """A named set of ICD-10-CM ranges as printed; codes it also includes, with the reason;
    codes that ask for another code rather than decide; caveats for codes it leaves out."""

    name: str
    title: str
    entries: tuple[IcdEntry, ...]
    caveats: tuple[Caveat, ...]
    also_includes: tuple[CodeGroup, ...] = ()
    ask_instead: tuple[CodeGroup, ...] = ()
    _memo: dict[tuple[str, ReleaseChoice | None], tuple[str, str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    matches: dict[tuple[object, ...], object] = field(
        default_factory=dict, compare=False, repr=False
    )
    """What `compiler.match_codes` answered, per codes asked about: a claim's codes recur."""

    def describe(
        self, code: str, index: CodeIndex, on: ReleaseChoice | None = None
    ) -> tuple[str, str]:
        """How the set takes a code — `LISTED`, `ASK` (another code decides) or
        `NOT_LISTED` — and a note saying why (empty when there is nothing to say).

        With `on` (the releases of a claim line's date of service), the code must be valid
        and billable in one of them: a code none of them has asks for a code valid on that
        date, and a heading code (one with more specific codes) asks for the billable code.
        Without it (clinical history), a code of any release counts. Where the code is in
        the set is judged in `index`'s tabular order, a code it no longer has by its
        nearest ancestor. Remembered per code: sets are fixed, codes recur."""
        found = self._memo.get((code, on))
        if found is None:
            found = self._describe(code, index, on)
            if len(self._memo) < _MEMO_LIMIT:
                self._memo[(code, on)] = found
        return found

    def _describe(self, code: str, index: CodeIndex, on: ReleaseChoice | None) -> tuple[str, str]:
        key = undotted(code) or ""
        position = index.place(key)
        if position is None:
            return (NOT_LISTED, "")
        heading = index.is_heading(position)
        said = ""
        if on is not None:
            valid = [
                (r, i, at) for r in on.releases if (at := (i := r.index()).find(key)) is not None
            ]
            if not valid:
                return (ASK, f"{code} is not a code in ICD-10-CM {on.name}" + _why(on, "; "))
            billable = [r for r, i, at in valid if not i.is_heading(at)]
            if not billable:
                _, latest, at = valid[-1]
                choices = billable_choices(latest, at)
                return (ASK, f"{code} is not a billable code ({code} → {choices})" + _why(on, "; "))
            heading = False
            if len(billable) < len(on.releases):  # the releases disagree: say which
                others = " or ".join(r.name for r in on.releases if r not in billable)
                said = f"{code} is billable in {billable[0].name} but not in {others}: "
                said += f"{on.gap}, so either is accepted"
        kind, note = self._in_set(code, position, index, heading)
        return (kind, f"{note}; {said}" if note and said else note or said)

    def _in_set(self, code: str, position: int, index: CodeIndex, heading: bool) -> tuple[str, str]:
        for entry in self.entries:
            if entry.codes.contains_position(position, index):
                return (LISTED, f"{code} is listed: {entry.codes} {entry.description}")
        for group in self.also_includes:
            if group.contains_position(position, index):
                return (LISTED, f"{code} is counted: {group.reason}")
        if heading and any(
            r.overlaps_position(position, index)
            for r in (
                *(e.codes for e in self.entries),
                *(c for g in self.also_includes for c in g.codes),
            )
        ):
            return (ASK, f"{code} is a heading: only some of its more specific codes are listed")
        for group in self.ask_instead:
            if group.contains_position(position, index):
                return (ASK, f"{code}: {group.reason}")
        caveat = self.caveat_for(position, index)
        if caveat is not None:
            return (NOT_LISTED, f"{code} is not listed: {caveat.note}")
        words = description(undotted(code) or "")
        named = f"{code} ({words})" if words else code
        return (NOT_LISTED, f"{named} is not in {self.title}")

    def caveat_for(self, position: int, index: CodeIndex) -> Caveat | None:
        """The caveat that names the code at `position`, which the set does not list."""
        for caveat in self.caveats:
            if any(r.contains_position(position, index) for r in caveat.codes):
                return caveat
        return None


def _why(on: ReleaseChoice, joint: str) -> str:
    # A line with no date says which release it read once, not per code (`match_codes`).
    return f"{joint}{on.why}" if not on.per_line and on.why else ""


@dataclass(frozen=True)
class ProcedureCodeSet:
    """A named set of codes of one system other than ICD-10-CM: CPT or HCPCS procedure
    codes, which route lines, or codes of another system that criteria test."""

    name: str
    title: str
    system: str
    entries: tuple[tuple[ProcedureRange, str], ...]
    matches: dict[tuple[object, ...], object] = field(
        default_factory=dict, compare=False, repr=False
    )
    """What `compiler.listed_codes` answered, per codes asked about."""

    def contains(self, code: str) -> bool:
        """Whether the set lists this code."""
        return any(r.contains(code) for r, _ in self.entries)

    def describe(self, code: str) -> tuple[str, str]:
        """`LISTED` with the entry that holds the code, or `NOT_LISTED`, and a note."""
        for entry, words in self.entries:
            if entry.contains(code):
                return (LISTED, f"{code} is listed: {entry} {words}")
        return (NOT_LISTED, f"{code} is not in {self.title}")

    def __str__(self) -> str:
        return ", ".join(str(r) for r, _ in self.entries)
