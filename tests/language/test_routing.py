"""Routing with a condition: two services that list the same procedure code (an initial
and a continuation authorization of one drug code), told apart by their routes. A line
two routes take is refused, naming both; never a silent pick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from made_up_rules import loaded, refused

from dli_check import CaseError, evaluate
from dli_check.outputs.explain import rules_lines

SERVICE = """\
  - id: {id}
    title: The drug, {words}
    code_set: drug_codes
    route:
      explanation: {explanation}
      when: {when}
    criteria:
      - id: {id}-criterion
        explanation: Made up.
        citation: {{section: Criteria, quote: "{words}"}}
        condition: {{is_true: patient.{fact}}}
    when_met:
      decision: medically_necessary
      citation: {{section: Criteria, quote: "is medically necessary"}}
    otherwise:
      decision: not_medically_necessary
      citation: {{section: Criteria, quote: "is not medically necessary"}}
"""

RULES = (
    """\
rules_format: 2
guideline:
  id: TEST-ROUTES-01
  title: Routes (made up for tests)
  publish_date: 2025-01-31
  last_review_date: 2025-01-15
  status: New
  scope: {section: Description, quote: "made up"}
code_sets:
  drug_codes:
    system: HCPCS
    title: The drug
    citation: {section: Coding, quote: "HCPCS"}
    codes:
      - {codes: J3590, description: Made-up drug code}
case:
  records:
    patient:
      description: The patient.
      facts:
        eligible: {type: boolean, description: Eligible., question: Eligible?}
        responding: {type: boolean, description: Responding., question: Responding?}
  service:
    facts:
      request: {type: choice, choices: [initial, continuation, transfer], description: Which request., question: Is this a first request or a continuation?}
services:
"""
    + SERVICE.format(
        id="initial",
        words="first request",
        explanation="a first request",
        when="{equals: {fact: service.request, value: initial}}",
        fact="eligible",
    )
    + SERVICE.format(
        id="continuation",
        words="continued",
        explanation="a continuation",
        when="{equals: {fact: service.request, value: continuation}}",
        fact="responding",
    )
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return loaded(RULES, tmp_path_factory.mktemp("rules"))


def _line(rules: Any, **line: Any) -> Any:
    case = {
        "case_id": "R-1",
        "patient": {"eligible": True, "responding": False},
        "services": [{"code": "J3590", **line}],
    }
    (result,) = evaluate(case, rules).services
    return result


@pytest.mark.parametrize(
    ("line", "service", "decision", "missing", "explanation"),
    [
        ({"request": "initial"}, "initial", "medically_necessary", (), None),
        ({"request": "continuation"}, "continuation", "not_medically_necessary", (), None),
        (
            {},
            None,
            "insufficient_information",
            ("services[0].request",),
            "J3590 is the code of the drug, first request (a first request) and the drug, "
            "continued (a continuation): which one this line is needs facts not given",
        ),
        (
            {"request": "transfer"},
            None,
            "not_applicable",
            (),
            "J3590 is the code of the drug, first request (a first request) and the drug, "
            "continued (a continuation): this line is none of them",
        ),
        # A line that names its service is that service's, whatever the routes say.
        (
            {"service": "continuation", "request": "initial"},
            "continuation",
            "not_medically_necessary",
            (),
            None,
        ),
    ],
)
def test_a_line_is_routed_by_the_condition(
    rules: Any,
    line: dict[str, Any],
    service: str | None,
    decision: str,
    missing: tuple[str, ...],
    explanation: str | None,
) -> None:
    result = _line(rules, **line)
    assert (result.service, result.decision, result.missing) == (service, decision, missing)
    if explanation is not None:
        assert [(r.criterion, r.explanation) for r in result.reasons] == [("routed", explanation)]


def test_a_line_two_routes_take_is_refused_naming_both(tmp_path: Path) -> None:
    both = loaded(
        RULES.replace(
            "when: {equals: {fact: service.request, value: continuation}}",
            "when: {one_of: {fact: service.request, values: [initial, continuation]}}",
        ),
        tmp_path,
    )
    with pytest.raises(CaseError) as caught:
        _line(both, request="initial")
    assert str(caught.value) == (
        "<case>: services[0].code: the routes of two services take this line: initial (a "
        "first request) and continuation (a continuation); the case must tell them apart"
    )


def test_shared_codes_need_a_route_on_each_service(tmp_path: Path) -> None:
    without = RULES.replace(
        "    route:\n      explanation: a continuation\n"
        "      when: {equals: {fact: service.request, value: continuation}}\n",
        "",
    )
    assert "J3590 also route to service 'initial': give each service a route" in refused(
        without, tmp_path
    )


def test_rules_show_prints_the_routes(rules: Any) -> None:
    lines = rules_lines(rules)
    assert "  route: a first request" in lines
    assert "      service.request is initial" in lines
