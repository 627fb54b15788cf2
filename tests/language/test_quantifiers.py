"""``some``, ``none`` and ``every`` over a list, open or complete when given: their
three-valued truth tables, written out in docs/writing-rules.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from made_up_rules import loaded, refused, rule_file

from dli_check import evaluate
from dli_check.outputs.explain import rules_lines

CRITERIA = """\
      - id: QUANT-LIST
        explanation: QUANT of LIST.
        citation: {section: Criteria, quote: "QUANT"}
        condition: {QUANT: {of: LIST, where: {at_least: {fact: ITEM.weeks, value: 12}}}}
"""

RULES = rule_file(
    "TEST-LISTS-01",
    "Lists",
    "".join(
        CRITERIA.replace("QUANT", q).replace("LIST", lst).replace("ITEM", item)
        for q in ("some", "none", "every")
        for lst, item in (("tried", "trial"), ("reported", "report"))
    ),
    """\
case:
  lists:
    tried:
      item: trial
      description: Drugs tried, as the plan's records say (the whole truth when given).
      question: Which drugs were tried?
      complete_when_given: true
      facts:
        weeks: {type: number, description: Weeks taken., question: For how many weeks?}
    reported:
      item: report
      description: Drugs the prescriber reports (perhaps not all).
      question: Which drugs does the prescriber report?
      facts:
        weeks: {type: number, description: Weeks taken., question: For how many weeks?}
  service:
    facts: {}
""",
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


ABSENT = object()
# the list's records' weeks (ABSENT: the list not given; None: a record without weeks)
# -> status of some / none / every, for a complete list, then for an open one
TABLE = [
    (ABSENT, ("unknown", "unknown", "unknown"), ("unknown", "unknown", "unknown")),
    ([], ("not_met", "met", "met"), ("unknown", "unknown", "unknown")),
    ([12, 20], ("met", "not_met", "met"), ("met", "not_met", "met")),
    ([4, 20], ("met", "not_met", "not_met"), ("met", "not_met", "not_met")),
    ([4, 6], ("not_met", "met", "not_met"), ("not_met", "met", "not_met")),
    ([4, None], ("unknown", "unknown", "not_met"), ("unknown", "unknown", "not_met")),
    ([20, None], ("met", "not_met", "unknown"), ("met", "not_met", "unknown")),
]


@pytest.mark.parametrize(("weeks", "complete", "open_"), TABLE)
def test_quantifiers_truth_table(
    rules: Any, weeks: Any, complete: tuple[str, ...], open_: tuple[str, ...]
) -> None:
    case: dict[str, Any] = {"case_id": "L-1", "services": [{"code": "J3590"}]}
    if weeks is not ABSENT:
        records = [{} if w is None else {"weeks": w} for w in weeks]
        case["tried"], case["reported"] = records, records
    (line,) = evaluate(case, rules).services
    status = {r.criterion: r.status for r in line.reasons}
    quantifiers = ("some", "none", "every")
    assert tuple(status[f"{q}-tried"] for q in quantifiers) == complete
    assert tuple(status[f"{q}-reported"] for q in quantifiers) == open_


def test_an_empty_list_asks_for_a_record_unless_it_is_complete(rules: Any) -> None:
    case = {"case_id": "L-2", "tried": [], "reported": [], "services": [{"code": "J3590"}]}
    (line,) = evaluate(case, rules).services
    reasons = {r.criterion: r for r in line.reasons}
    assert reasons["some-reported"].missing == ("reported",)
    assert reasons["some-tried"].missing == ()
    assert reasons["some-tried"].notes == ("tried: none given",)


def test_the_words_and_the_code(rules: Any, tmp_path: Path) -> None:
    from dli_check.outputs.explain import python_source

    text = "\n".join(rules_lines(rules))
    assert "no record of tried has:" in text and "every record of reported has:" in text
    python = python_source(rules)
    assert "_none(case.lists['tried']" in python and "_every(case.lists['reported']" in python


COUNT_RULES = RULES.replace(
    "    criteria:\n",
    """    criteria:
      - id: two-long-trials
        explanation: At least two trials of 12 weeks or more.
        citation: {section: Criteria, quote: "two trials"}
        condition:
          count: {of: tried, at_least: 2, where: {at_least: {fact: trial.weeks, value: 12}}}
      - id: two-different-drugs
        explanation: At least two different drugs.
        citation: {section: Criteria, quote: "two drugs"}
        condition: {count: {of: tried, distinct: trial.drug, at_least: 2}}
      - id: at-most-one-report
        explanation: At most one reported drug.
        citation: {section: Criteria, quote: "one report"}
        condition: {count: {of: reported, at_most: 1}}
""",
    1,
).replace(
    "        weeks: {type: number, description: Weeks taken., question: For how many weeks?}\n",
    "        weeks: {type: number, description: Weeks taken., question: For how many weeks?}\n"
    "        drug: {type: identifier, description: The drug., question: Which drug?}\n",
    1,
)


@pytest.fixture(scope="module")
def count_rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(COUNT_RULES, tmp_path_factory.mktemp("rules"))


# tried records (weeks, drug), or ABSENT -> (status, note) of two-long-trials, then of
# two-different-drugs
COUNTS = [
    (ABSENT, ("unknown", None), ("unknown", None)),
    ([], ("not_met", "0 records (none)"), ("not_met", "0 different values of drug (none)")),
    (
        [(12, "a"), (20, "a")],
        ("met", "2 records (tried[0], tried[1])"),
        ("not_met", "1 different value of drug (tried[0], tried[1])"),
    ),
    (
        [(12, "a"), (None, "b")],
        ("unknown", "1 record (tried[0]), 1 more unknown"),
        ("met", "2 different values of drug (tried[0], tried[1])"),
    ),
    (
        [(4, "a"), (None, None)],
        ("not_met", "0 records (none), 1 more unknown"),
        ("unknown", "1 different value of drug (tried[0], tried[1]), 1 more unknown"),
    ),
]


@pytest.mark.parametrize(("tried", "long_trials", "drugs"), COUNTS)
def test_count_truth_table(
    count_rules: Any, tried: Any, long_trials: tuple[str, Any], drugs: tuple[str, Any]
) -> None:
    case: dict[str, Any] = {"case_id": "C-1", "services": [{"code": "J3590"}]}
    if tried is not ABSENT:
        case["tried"] = [
            {k: v for k, v in (("weeks", w), ("drug", d)) if v is not None} for w, d in tried
        ]
    (line,) = evaluate(case, count_rules).services
    reasons = {r.criterion: r for r in line.reasons}
    for criterion, (status, note) in (
        ("two-long-trials", long_trials),
        ("two-different-drugs", drugs),
    ):
        reason = reasons[criterion]
        assert (reason.status, reason.notes[-1] if reason.notes else None) == (status, note)


@pytest.mark.parametrize(
    ("reported", "status"),
    [(ABSENT, "unknown"), ([], "unknown"), ([{}], "met"), ([{}, {}], "not_met")],
)
def test_count_at_most_over_an_open_list(count_rules: Any, reported: Any, status: str) -> None:
    case: dict[str, Any] = {"case_id": "C-2", "services": [{"code": "J3590"}]}
    if reported is not ABSENT:
        case["reported"] = reported
    (line,) = evaluate(case, count_rules).services
    assert {r.criterion: r.status for r in line.reasons}["at-most-one-report"] == status


def test_count_words_and_errors(count_rules: Any, tmp_path: Path) -> None:
    text = "\n".join(rules_lines(count_rules))
    assert "the number of different trial.drug of tried is at least 2" in text
    said = refused(COUNT_RULES.replace("distinct: trial.drug", "distinct: report.drug"), tmp_path)
    assert "'report.drug' is not a fact of a record of tried" in said


def test_a_record_that_decides_is_named(rules: Any) -> None:
    records = [{"weeks": 4}, {"weeks": 20}]
    case = {
        "case_id": "L-3",
        "tried": records,
        "reported": records,
        "services": [{"code": "J3590"}],
    }
    (line,) = evaluate(case, rules).services
    notes = {r.criterion: r.notes for r in line.reasons}
    assert notes["some-tried"] == ("met by tried[1] (trial.weeks is 20)",)
    assert notes["none-tried"] == (
        "found in tried[1] (trial.weeks is 20)",
    )  # the record that breaks "none"
    assert notes["every-tried"] == ("tried[0]: trial.weeks (4) is not at least 12",)
