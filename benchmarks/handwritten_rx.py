"""The floor for the step-therapy guideline (examples/guidelines/rx-exemplumab): its
criteria as a hand-written Python function, as a programmer would write them for this one
guideline, with no rule file, no validation and no citations. It returns the decision and
the criteria that failed or were unknown."""

from __future__ import annotations

import datetime as dt
from typing import Any

_CONVENTIONAL = {"6851", "3008", "16818"}
_TB_TESTS = {"71773-6", "71774-4"}
_BIOLOGICS = {"327361", "214555", "847083"}
_NDCS = {"99999010101", "99999010201"}


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _months_before(day: dt.date, months: int) -> dt.date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def decide(case: dict[str, Any]) -> tuple[str, list[str]]:
    """The decision on the case's first line, and the criteria not met or unknown."""
    line = case["services"][0]
    if line.get("ndc") and line["ndc"].replace("-", "") not in _NDCS:
        return "not_applicable", ["governed"]
    day = _day(line.get("date"))
    failed: list[str] = []
    unknown: list[str] = []
    mg, every = line.get("mg"), line.get("every_days")
    if mg is None or not every:
        unknown.append("dose-limit")
    elif mg * 28 / every > 300:
        failed.append("dose-limit")
    medications = case.get("medications")
    if medications is None:
        unknown.append("no-other-biologic")
    elif any(m.get("drug") in _BIOLOGICS for m in medications):
        failed.append("no-other-biologic")
    if line.get("request") == "initial":
        patient = case.get("patient") or {}
        birth = _day(patient.get("birth_date"))
        if birth is None or day is None:
            unknown.append("adult")
        elif (day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))) < 18:
            failed.append("adult")
        if "L40.0" not in (patient.get("diagnoses") or ()):
            failed.append("plaque-psoriasis")
        drugs, doubtful = set(), False
        for trial in case.get("trials") or ():
            start, end = _day(trial.get("start")), _day(trial.get("end"))
            if start and end and end < start:
                doubtful = True  # a trial that ends before it starts is set aside
            elif (
                trial.get("drug") in _CONVENTIONAL
                and trial.get("outcome") in ("failed", "not_tolerated")
                and start
                and end
                and day
                and _months_before(day, 12) <= end <= day
                and (end - start).days >= 84
            ):
                drugs.add(trial["drug"])
        if len(drugs) < 2:
            (unknown if doubtful else failed).append("two-conventional-drugs")
        tests = case.get("tests")
        if tests is None:
            unknown.append("negative-tb-test")
        elif not any(
            t.get("code") in _TB_TESTS
            and t.get("result") == "negative"
            and day
            and _months_before(day, 6) <= _day(t.get("date")) <= day  # type: ignore[operator]
            for t in tests
        ):
            failed.append("negative-tb-test")
    else:
        pasi = case.get("pasi") or {}
        baseline, current = pasi.get("baseline"), pasi.get("current")
        measured = _day(pasi.get("measured"))
        if not baseline or current is None or measured is None or day is None:
            unknown.append("pasi-75")
        elif (baseline - current) / baseline * 100 < 75 or (day - measured).days > 30:
            failed.append("pasi-75")
    if failed:
        return "not_medically_necessary", failed
    return ("insufficient_information" if unknown else "medically_necessary"), unknown
