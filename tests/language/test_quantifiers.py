"""``some``, ``none`` and ``every`` over a list, open or complete when given: their
three-valued truth tables, written out in docs/writing-rules.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dli_check import evaluate, load_rules
from dli_check.outputs.explain import rules_lines

CRITERIA = """\
      - id: QUANT-LIST
        explanation: QUANT of LIST.
        citation: {section: Criteria, quote: "QUANT"}
        condition: {QUANT: {of: LIST, where: {at_least: {fact: ITEM.weeks, value: 12}}}}
"""

RULES = """\
rules_format: 2
guideline:
  id: TEST-LISTS-01
  title: Lists (made up for tests)
  publish_date: 2025-01-31
  last_review_date: 2025-01-15
  status: New
  scope: {section: Description, quote: "lists"}
code_sets:
  drug_codes:
    system: HCPCS
    title: The drug
    citation: {section: Coding, quote: "HCPCS"}
    codes:
      - {codes: J3590, description: Made-up drug code}
services:
  - id: drug
    title: The drug
    code_set: drug_codes
    criteria:
CRITERIA    when_met:
      decision: medically_necessary
      citation: {section: Criteria, quote: "is medically necessary"}
    otherwise:
      decision: not_medically_necessary
      citation: {section: Criteria, quote: "is not medically necessary"}
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
""".replace(
    "CRITERIA",
    "".join(
        CRITERIA.replace("QUANT", q).replace("LIST", lst).replace("ITEM", item)
        for q in ("some", "none", "every")
        for lst, item in (("tried", "trial"), ("reported", "report"))
    ),
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("rules") / "lists.yaml"
    path.write_text(RULES, encoding="utf-8")
    return load_rules(path)


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
