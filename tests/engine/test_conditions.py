"""`CaseResult.conditions`: what each condition of a line's criteria came to, node by node,
on the record the line was judged on, with the facts each read (the worksheet's tree)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import BASE_CASE, DELETE, ROOT, mutate
from dli_check import evaluate, load_rules
from dli_check.results import ConditionAnswer, FactRead

DLI = ("services", 0, "criteria")
CONDITIONING = (*DLI, 1, "condition")
GENETICS = (*DLI, 7, "condition")
SECOND_TRANSPLANT = {
    "type": "allogeneic",
    "conditioning": "reduced_intensity",
    "status": "completed",
    "date": "2025-05-01",
    "medically_necessary": True,
    "indication": "C92.00",
    "donor_id": "D-2",
}


def _met(*read: tuple[str, Any], by_default: bool = False) -> ConditionAnswer:
    return ConditionAnswer("met", by_default, tuple(FactRead(f, v) for f, v in read))


@pytest.mark.parametrize(
    ("case", "path", "answer"),
    [
        pytest.param(
            BASE_CASE,
            (*CONDITIONING, "any", 0),
            ConditionAnswer(
                "not_met", False, (FactRead("transplants[0].conditioning", "myeloablative"),)
            ),
            id="a part not met under an any that is met",
        ),
        pytest.param(
            BASE_CASE,
            (*CONDITIONING, "any", 1),
            _met(("transplants[0].conditioning", "myeloablative")),
            id="the part that met it",
        ),
        pytest.param(
            mutate({"transplants.0.conditioning": DELETE}),
            (*CONDITIONING, "any", 0),
            _met(("transplants[0].conditioning", None), by_default=True),
            id="met by an absence the condition accepts",
        ),
        pytest.param(
            mutate({"transplants.0.conditioning": DELETE}),
            (*CONDITIONING, "any", 1),
            ConditionAnswer("unknown", False, (FactRead("transplants[0].conditioning", None),)),
            id="the part left unknown",
        ),
        pytest.param(
            mutate({"transplants.0.conditioning": DELETE}),
            CONDITIONING,
            _met(("transplants[0].conditioning", None), by_default=True),
            id="the criterion's condition is met by default through its part",
        ),
        pytest.param(
            BASE_CASE,
            (*GENETICS, "all", 0),
            _met(("services[0].genetically_modified", False), by_default=True),
            id="met through a line's default",
        ),
        pytest.param(
            mutate({"services.0.genetically_modified": False}),
            (*GENETICS, "all", 0),
            _met(("services[0].genetically_modified", False)),
            id="the same value given is not a default",
        ),
        pytest.param(
            BASE_CASE,
            (*GENETICS, "all", 1),
            _met(),
            id="a quantifier reads no fact of its own",
        ),
        pytest.param(
            mutate(
                {
                    "transplants": [
                        BASE_CASE["transplants"][0] | {"type": "autologous"},
                        SECOND_TRANSPLANT,
                    ],
                    "services.0.lymphocyte_donor_id": "D-2",
                }
            ),
            (*DLI, 6, "condition"),
            _met(("services[0].lymphocyte_donor_id", "D-2"), ("transplants[1].donor_id", "D-2")),
            id="read of the record the line was judged on",
        ),
        pytest.param(
            mutate({"transplants": []}),
            (*DLI, 0, "condition"),
            ConditionAnswer("unknown", False, ()),
            id="a list's fact with no record to read it of",
        ),
        pytest.param(
            mutate({"services.0.date": "2025-01-02"}),
            (*DLI, 3, "condition", "all", 1, "any", 2),
            ConditionAnswer(
                "not_met",
                False,
                (
                    FactRead("services[0].date", dt.date(2025, 1, 2)),
                    FactRead("transplants[0].date", dt.date(2025, 3, 14)),
                ),
            ),
            id="a comparison of two facts reads both",
        ),
    ],
)
def test_each_condition_answers_on_the_line(
    case: dict[str, Any], path: tuple[str | int, ...], answer: ConditionAnswer
) -> None:
    assert evaluate(case).conditions(0)[path] == answer


def test_every_condition_outside_a_quantifier_is_answered_and_none_inside() -> None:
    conditions = evaluate(BASE_CASE).conditions(0)
    genetics = [p[len(GENETICS) :] for p in conditions if p[: len(GENETICS)] == GENETICS]
    assert genetics == [("all", 0, "not"), ("all", 0), ("all", 1, "not"), ("all", 1), ()]
    # Each criterion's condition comes to what the criterion did.
    result = evaluate(BASE_CASE)
    statuses = [conditions[(*DLI, k, "condition")].status for k in range(8)]
    assert statuses == [r.status for r in result.services[0].reasons]


def test_a_line_no_service_decided_has_none() -> None:
    case = mutate({"services": [{"code": "99213", "date": "2025-09-02"}]})
    assert evaluate(case).conditions(0) == {}


def test_the_engine_called_directly_answers_too() -> None:
    rules = load_rules()
    result = rules.decide_data(BASE_CASE, "<case>")
    assert result.conditions(0)[(*DLI, 0, "condition")].status == "met"


EXAMPLES = ROOT / "examples" / "guidelines"


@pytest.mark.parametrize(
    ("guideline", "case", "path", "answer"),
    [
        pytest.param(
            "img-lumbar-mri",
            "course-of-care-with-two-findings",
            ("services", 0, "criteria", 0, "condition", "any", 1, "all", 2),
            _met(
                ("patient.weakness", True),
                ("patient.reflex_loss", True),
                ("patient.sensory_loss", False),
            ),
            id="two of three",
        ),
        pytest.param(
            "img-lumbar-mri",
            "course-of-care-with-two-findings",
            ("services", 0, "criteria", 0, "condition", "any", 1, "all", 2, "at_least_of", "of", 2),
            ConditionAnswer("not_met", False, (FactRead("patient.sensory_loss", False),)),
            id="the one of three not met",
        ),
        pytest.param(
            "rx-exemplumab",
            "initial-dose-too-high",
            ("services", 0, "criteria", 4, "condition"),
            ConditionAnswer(
                "not_met",
                False,
                (FactRead("services[0].mg", 300), FactRead("services[0].every_days", 14)),
            ),
            id="a named condition on a derived number reads its inputs",
        ),
    ],
)
def test_the_example_guidelines_conditions(
    guideline: str, case: str, path: tuple[str | int, ...], answer: ConditionAnswer
) -> None:
    rules = load_rules(EXAMPLES / guideline / f"{guideline}.yaml")
    result = evaluate(EXAMPLES / guideline / "cases" / f"{case}.json", rules)
    assert result.conditions(0)[path] == answer
