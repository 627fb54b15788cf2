"""The three-valued logic of criteria, and the helpers the generated code calls.

A criterion answers ``(status, missing, notes)``:

* status is ``met``, ``not_met`` or ``unknown`` (a fact it needs is absent);
* missing names the absent facts behind an ``unknown``, as case paths
  (``visits[0].date``, ``services[0].date``);
* notes say what the engine saw (which listed range a code fell in, which values a
  comparison found).

``all``, ``any`` and ``not`` follow Kleene's three-valued logic: ``all`` is not met as soon
as one part is not met, whatever the others; ``any`` is met as soon as one part is met.
Every part is evaluated, so that all missing facts are named at once.

>>> combine([("met", (), ()), ("unknown", ("a.b",), ())], "not_met", "met")
('unknown', ('a.b',), ())
>>> combine([("unknown", ("a.b",), ()), ("not_met", (), ("x",))], "not_met", "met")
('not_met', (), ('x',))
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from itertools import chain
from typing import Any

from dli_check.results import Status
from dli_check.values.case import Case, Line, loosely_same
from dli_check.values.codes import ASK, LISTED, IcdCodeSet, ProcedureCodeSet
from dli_check.values.icd10cm import CodeIndex, ReleaseChoice, releases_on, releases_received

MAX_NOTES = 5
"""Notes kept per reason: a claim of 1,000 codes must not give 1,000 notes on each of its
lines."""


def cap_notes(notes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Notes without repeats, at most `MAX_NOTES` of them and a count of the rest, naming
    the records the rest are about.

    >>> cap_notes([f"tests[{i}]: too low" for i in range(7)])[-1]
    'and 2 more like these, about tests[5], tests[6]'
    """
    unique = list(dict.fromkeys(notes))
    if len(unique) <= MAX_NOTES:
        return tuple(unique)
    left = unique[MAX_NOTES:]
    records = list(dict.fromkeys(m.group(1) for n in left if (m := _ABOUT.match(n))))
    if not records:
        return (*unique[:MAX_NOTES], f"and {len(left)} more like these")
    named = ", ".join(records[:_NAMED])
    if len(records) > _NAMED:
        named += f" and {len(records) - _NAMED} more records"
    return (*unique[:MAX_NOTES], f"and {len(left)} more like these, about {named}")


_ABOUT = re.compile(r"([a-z][a-z0-9_]*\[[0-9]+\]): ")
"""The record a note is about, as `_by_record` names it."""
_NAMED = 10
"""Records a capped reason names; the rest are counted."""


Answer = tuple[Status, tuple[str, ...], tuple[str, ...]]
Run = Callable[[Case, Line, int, Mapping[str, Any] | None, int], tuple[Answer, ...]]
"""The function a service compiles to: (case, line, line number, record, record index) ->
one answer per criterion."""


def combine(answers: list[Answer], decisive: Status, default: Status) -> Answer:
    """Kleene's all (decisive=not_met, default=met) and any (decisive=met, default=not_met)."""
    unknown = False
    for answer in answers:
        if answer[0] == decisive:
            # Only the parts that decided speak: a met `any` does not list the branches it
            # skipped.
            notes = tuple(n for a in answers if a[0] == decisive for n in a[2])
            return (decisive, (), notes)
        if answer[0] == "unknown":
            unknown = True
    notes = tuple(n for a in answers for n in a[2])
    if unknown:
        missing = tuple(dict.fromkeys(m for a in answers for m in a[1]))
        return ("unknown", missing, notes)
    return (default, (), notes)


def count_of(answers: list[Answer], count: int) -> Answer:
    """At least `count` of the answers are met: met once that many are, not met once too
    few can be (the unknown ones aside), else unknown, asking for what the unknown ones
    miss. A note says how many were met of how many."""
    met = [a for a in answers if a[0] == "met"]
    unknown = [a for a in answers if a[0] == "unknown"]
    said = f"{len(met)} of {len(answers)} met, {count} needed"
    if len(met) >= count:
        return ("met", (), (*(n for a in met for n in a[2]), said))
    notes = (*(n for a in answers for n in a[2]), said)
    if len(met) + len(unknown) < count:
        return ("not_met", (), notes)
    return ("unknown", tuple(dict.fromkeys(m for a in unknown for m in a[1])), notes)


def some(
    records: tuple[Mapping[str, Any], ...],
    where: Callable[..., Answer],
    list_name: str,
    case: Case,
    line: Line,
    number: int,
    shown: tuple[tuple[str, str], ...] = (),
) -> Answer:
    """Whether some record of a list meets a condition: met if one does, not met if none
    can, else unknown. An empty list is unknown, and asks for a record, unless the case
    gave it and it is declared complete when given: then it is not met. The record that
    meets it is named with the values the condition read (`shown`: field, label)."""
    if not records:
        if list_name in case.given:
            return ("not_met", (), (f"{list_name}: none given",))
        return ("unknown", (list_name,), ())
    answers = _by_record(records, where, list_name, case, line, number)
    for i, answer in enumerate(answers):
        if answer[0] == "met":  # the record that met it, named
            said = f"met by {list_name}[{i}]{_values(records[i], shown)}"
            return ("met", (), (said, *answer[2]))
    return combine(answers, "met", "not_met")


def _values(record: Mapping[str, Any], shown: tuple[tuple[str, str], ...]) -> str:
    """`` (the test's kind is pao2, the test's value is 52)``: what a record holds."""
    said = []
    for field, label in shown:
        value = record.get(field)
        if value is None:
            continue
        if isinstance(value, bool):
            said.append(f"{label}: {'yes' if value else 'no'}")
        elif isinstance(value, dt.date):  # a date's label names what it dates
            said.append(f"{label} ({value})")
        else:
            text = number_text(value) if isinstance(value, int | float) else str(value)
            said.append(f"{label} is {text}")
    return f" ({', '.join(said)})" if said else ""


def _by_record(
    records: tuple[Mapping[str, Any], ...],
    where: Callable[..., Answer],
    list_name: str,
    case: Case,
    line: Line,
    number: int,
) -> list[Answer]:
    """Each record's answer, its notes named by the record they are about."""
    answers = []
    for i, record in enumerate(records):
        status, missing, notes = where(case, line, number, record, i)
        answers.append((status, missing, tuple(f"{list_name}[{i}]: {n}" for n in notes)))
    return answers


def no_record(
    records: tuple[Mapping[str, Any], ...],
    where: Callable[..., Answer],
    list_name: str,
    case: Case,
    line: Line,
    number: int,
    shown: tuple[tuple[str, str], ...] = (),
) -> Answer:
    """Whether no record of a list meets a condition: `some`, negated. Its notes say
    which record has what it must not, when one does."""
    status, missing, notes = some(records, where, list_name, case, line, number, shown)
    flipped: Status = "met" if status == "not_met" else "not_met" if status == "met" else status
    if status == "met":
        notes = (notes[0].replace("met by ", "found in ", 1), *notes[1:])
    return (flipped, missing, notes)


def count_records(
    records: tuple[Mapping[str, Any], ...],
    where: Callable[..., Answer] | None,
    list_name: str,
    case: Case,
    line: Line,
    number: int,
    bounds: tuple[int | None, int | None],
    distinct: str | None,
) -> Answer:
    """How many records of a list meet a condition (all of them, with no `where`), or
    how many different values of the fact `distinct` they hold, against `bounds` (at
    least, at most). Each record whose answer is unknown may or may not count: the
    answer is met or not met only when it is the same either way. An empty list is
    unknown, and asks for a record, unless the case gave it and it is declared complete
    when given. The note names the records counted."""
    least, most = bounds
    if not records and list_name not in case.given:
        return ("unknown", (list_name,), ())
    answers = [
        where(case, line, number, record, i) if where is not None else ("met", (), ())
        for i, record in enumerate(records)
    ]
    met = [i for i, a in enumerate(answers) if a[0] == "met"]
    maybe = [i for i, a in enumerate(answers) if a[0] == "unknown"]
    missing = tuple(dict.fromkeys(m for i in maybe for m in answers[i][1]))
    if distinct is not None:
        values = {records[i].get(distinct) for i in met}
        unvalued = [i for i in met if records[i].get(distinct) is None]
        low = len(values - {None})
        high = low + len(unvalued) + len(maybe)
        missing += tuple(f"{list_name}[{i}].{distinct}" for i in unvalued)
        counted = ("different value", "different values")
    else:
        low, high, counted = len(met), len(met) + len(maybe), ("record", "records")
    named = ", ".join(f"{list_name}[{i}]" for i in met) or "none"
    of = f" of {distinct}" if distinct is not None else ""
    said = f"{low} {counted[low != 1]}{of} ({named})"
    said += f", {high - low} more unknown" if high > low else ""
    if (least is not None and high < least) or (most is not None and low > most):
        return ("not_met", (), (said,))
    if (least is None or low >= least) and (most is None or high <= most):
        return ("met", (), (said,))
    return ("unknown", missing, (said,))


def exact(value: int | float) -> Fraction:
    """A number of a case as an exact fraction, as written: 0.1 is one tenth, so derived
    numbers compare as people compute them (a 75% improvement is 75, not 74.99999).

    >>> exact(0.1) + exact(0.2) == exact(0.3)
    True
    """
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def half_up(value: Fraction, digits: Fraction | int = 0) -> Fraction:
    """`value` rounded to `digits` decimals, halves away from zero (not Python's
    banker's rounding, which takes 2.5 to 2).

    >>> half_up(Fraction(5, 2)), half_up(Fraction(-5, 2)), half_up(Fraction(1234, 1000), 2)
    (Fraction(3, 1), Fraction(-3, 1), Fraction(123, 100))
    """
    step = Decimal(1).scaleb(-int(digits))
    exact_decimal = Decimal(value.numerator) / Decimal(value.denominator)
    return Fraction(exact_decimal.quantize(step, rounding=ROUND_HALF_UP))


def number_text(value: Fraction | int | float) -> str:
    """A number as a note shows it: whole numbers without a point, others to at most four
    decimals.

    >>> number_text(Fraction(600)), number_text(Fraction(2, 3)), number_text(12.5)
    ('600', '0.6667', '12.5')
    """
    if value == int(value):
        return str(int(value))
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


def worked(
    template: str, inputs: tuple[int | float, ...], result: Fraction | None, unit: str | None
) -> str:
    """How a derived number was computed: ``300 mg * 28 days / 14 days = 600 mg``; the
    template names each input by its place (``%(0)s``), as it may read one twice."""
    shown = template % {str(k): number_text(x) for k, x in enumerate(inputs)}
    if result is None:
        return shown
    return f"{shown} = {number_text(result)}{' ' + unit if unit else ''}"


@lru_cache(maxsize=4096)
def shifted(day: dt.date, amount: int, unit: str) -> dt.date:
    """`day` moved by `amount` (negative: back) `unit`s; a calendar month or year that
    lands past its month's end lands on that end (2024-08-31 less 6 months: 2024-02-29).

    >>> shifted(dt.date(2024, 8, 31), -6, "months"), shifted(dt.date(2024, 2, 29), 1, "years")
    (datetime.date(2024, 2, 29), datetime.date(2025, 2, 28))
    """
    if unit in ("days", "weeks"):
        return day + dt.timedelta(days=amount * (7 if unit == "weeks" else 1))
    months = day.month - 1 + amount * (12 if unit == "years" else 1)
    year, month = day.year + months // 12, months % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _span(amount: int, unit: str) -> str:
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


def within(
    day: dt.date, other: dt.date, amount: int, unit: str, before: bool, labels: tuple[str, str]
) -> Answer:
    """Whether `day` is within `amount` `unit`s before (or after) `other`, both ends
    included; the note shows both dates and the days between, with the facts' labels.

    >>> within(dt.date(2025, 1, 3), dt.date(2025, 6, 13), 6, "months", True, ("a", "b"))
    ('met', (), ('a (2025-01-03) is 161 days before b (2025-06-13), within 6 months',))
    """
    far = shifted(other, -amount if before else amount, unit)
    low, high = (far, other) if before else (other, far)
    gap = abs((other - day).days)
    side = "before" if day <= other else "after"
    ok = low <= day <= high
    said = (
        f"{labels[0]} ({day}) is {_span(gap, 'days')} {side} {labels[1]} ({other}), "
        f"{'' if ok else 'not '}within {_span(amount, unit)}"
    )
    return ("met" if ok else "not_met", (), (said,))


def _bounds(least: object, most: object, shown: Callable[[Any], str]) -> str:
    pairs = (("at least", least), ("at most", most))
    return " and ".join(f"{w} {shown(b)}" for w, b in pairs if b is not None)


def lasted(
    start: dt.date,
    end: dt.date,
    least: tuple[int, str] | None,
    most: tuple[int, str] | None,
    labels: tuple[str, str],
) -> Answer:
    """Whether the time from `start` to `end` is at least `least` and at most `most`
    (amount, unit); calendar months and years are counted from `start`."""
    ok = (least is None or shifted(start, *least) <= end) and (
        most is None or end <= shifted(start, *most)
    )
    days = (end - start).days
    bounds = _bounds(least, most, lambda b: _span(*b))
    said = (
        f"from {labels[0]} ({start}) to {labels[1]} ({end}): {_span(days, 'days')}, "
        f"{'' if ok else 'not '}{bounds}"
    )
    return ("met" if ok else "not_met", (), (said,))


def age(
    born: dt.date, on: dt.date, least: int | None, most: int | None, labels: tuple[str, str]
) -> Answer:
    """Whether the age in whole years on `on` of one born on `born` is within bounds (one
    born on February 29 turns a year older on March 1 of a common year)."""
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    ok = (least is None or years >= least) and (most is None or years <= most)
    said = (
        f"{labels[0]} ({born}): {years} years old on {labels[1]} ({on}), "
        f"{'' if ok else 'not '}{_bounds(least, most, str)}"
    )
    return ("met" if ok else "not_met", (), (said,))


def every(
    records: tuple[Mapping[str, Any], ...],
    where: Callable[..., Answer],
    list_name: str,
    case: Case,
    line: Line,
    number: int,
    shown: tuple[tuple[str, str], ...] = (),
) -> Answer:
    """Whether every record of a list meets a condition: not met if one does not, met if
    all do, else unknown. An empty list is unknown, and asks for a record, unless the case
    gave it and it is declared complete when given: then it is met (there is no record
    that does not)."""
    if not records:
        if list_name in case.given:
            return ("met", (), (f"{list_name}: none given",))
        return ("unknown", (list_name,), ())
    return combine(_by_record(records, where, list_name, case, line, number), "not_met", "met")


def match_codes(
    code_set: IcdCodeSet,
    codes: list[str] | tuple[str, ...],
    index: CodeIndex,
    on: ReleaseChoice | None,
    missing: tuple[str, ...],
) -> Answer:
    """Whether any of the codes is in the set, with a note for each code: met if one is
    listed; unknown (asking for `missing`) if none is but one asks for another code (a
    heading, a code not valid on the date of service, a history code where the disease is
    needed); else not met. `on` is the releases of the line's date of service for billed
    codes (see `IcdCodeSet.describe`), None for clinical history. Remembered per codes
    asked about."""
    key = (tuple(codes), on, missing)
    known = code_set.matches.get(key)
    if known is not None:
        return known  # type: ignore[return-value]
    listed: list[str] = []
    ask: list[str] = []
    unlisted: list[str] = []
    for code in codes:
        kind, note = code_set.describe(code, index, on)
        (listed if kind == LISTED else ask if kind == ASK else unlisted).append(note)
    # Which release a line with no date was read in: said once.
    said = (on.why,) if on is not None and on.per_line else ()
    answer: Answer
    if listed:
        answer = ("met", (), (*listed, *said))
    elif ask:
        answer = ("unknown", missing, (*ask, *(n for n in unlisted if n), *said))
    else:
        notes = tuple(n for n in unlisted if n) or (f"no code is listed in {code_set.title}",)
        answer = ("not_met", (), (*notes, *said))
    if len(code_set.matches) < _MATCH_CACHE:
        code_set.matches[key] = answer
    return answer


def listed_codes(code_set: ProcedureCodeSet, codes: list[str] | tuple[str, ...]) -> Answer:
    """Whether any of the codes is in a code set of a system other than ICD-10-CM: met,
    with a note naming the entry that lists it, or not met, with a note per code.
    Remembered per codes asked about."""
    key = tuple(codes)
    known = code_set.matches.get(key)
    if known is not None:
        return known  # type: ignore[return-value]
    notes = [code_set.describe(code) for code in codes]
    answer: Answer
    if any(kind == LISTED for kind, _ in notes):
        answer = ("met", (), tuple(note for kind, note in notes if kind == LISTED))
    else:
        answer = ("not_met", (), tuple(note for _, note in notes))
    if len(code_set.matches) < _MATCH_CACHE:
        code_set.matches[key] = answer
    return answer


_MATCH_CACHE = 4096
"""Answers kept per code set."""


def line_releases(line: Line, received: dt.date | None) -> ReleaseChoice:
    """The ICD-10-CM releases a line's billed codes are judged by: those of its date of
    service, else of the date the case was `received` (None when the rule file names no
    such fact or the case does not give it), else the latest."""
    day = line.facts.get("date")
    if day is None and received is not None:
        return releases_received(received)
    return releases_on(day)


def received_on(case: Case, received: str | None) -> dt.date | None:
    """The date a case was received: its fact `received` (``record.field``) names, if any."""
    if received is None:
        return None
    record, _, name = received.partition(".")
    holder = case.records.get(record)
    day = holder.get(name) if holder is not None else None
    return day if isinstance(day, dt.date) else None


@lru_cache(maxsize=4096)
def same_identifier(text: str) -> str:
    """An identifier as people read it: ``"d-1 "`` and a full-width ``"D-1"`` read ``"d-1"``
    (Unicode NFKC, trimmed, case folded)."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def concat(parts: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """Join tuples (the notes of a wide junction)."""
    return tuple(chain.from_iterable(parts))


def identifiers_differ(first: str, other: str, failed: str) -> Answer:
    """Two identifiers that are not the same as people read them: met, with a note, when
    they differ only in writing (`loosely_same`); else not met, with `failed` showing both
    (``failed % (first, other)``)."""
    why = loosely_same(first, other)
    if why is None:
        return ("not_met", (), (failed % (first, other),))
    return ("met", (), (why,))


def other_lines(
    case: Case,
    line: Line,
    number: int,
    where: Callable[..., Answer],
    service: str,
    codes: ProcedureCodeSet | None,
    note: str,
) -> Answer:
    """Whether some other line of the case, decided as `service` (its code is one of the
    service's `codes`, or it names the service and has no code), meets a condition: met if
    one does, with `note` and the line; not met if none can, or there is none; else
    unknown."""
    answers = []
    for index, other in enumerate(case.services):
        if index == number:
            continue
        if other.code is not None:
            if codes is None or not codes.contains(other.code):
                continue
        elif other.service != service:
            continue
        answer = where(case, line, number, other, index)
        if answer[0] == "met":
            said = other.code or other.service
            return ("met", (), (*answer[2], f"{note}: services[{index}] ({said})"))
        answers.append(answer)
    if not answers:
        return ("not_met", (), ())
    return combine(answers, "met", "not_met")
