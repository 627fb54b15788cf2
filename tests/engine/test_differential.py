"""The engine and the benchmark's hand-written CG-TRANS-03 function, written separately,
agree on every generated case: the same decision and the same criteria not met or unknown
for every service line. The compact JSON is exactly what pydantic writes for the result dataclasses."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from dli_check import CaseResult, evaluate, load_rules
from generate import generate
from handwritten import decide

CASES = generate(3000, seed=7)
PYDANTIC = TypeAdapter(CaseResult)


@pytest.mark.parametrize("start", range(0, len(CASES), 500))
def test_engine_agrees_with_the_hand_written_function(start: int) -> None:
    rules = load_rules()
    for case in CASES[start : start + 500]:
        result = evaluate(case, rules)
        ours = [
            (s.decision, [r.criterion for r in s.reasons if r.status != "met"])
            for s in result.services
        ]
        assert ours == decide(case), case["case_id"]
        assert result.to_json(indent=None) == PYDANTIC.dump_json(result).decode()
        assert result.to_json() == PYDANTIC.dump_json(result, indent=2).decode()


def test_generated_cases_cover_every_decision() -> None:
    decisions = {evaluate(case).decision for case in CASES}
    assert decisions == {
        "medically_necessary",
        "not_medically_necessary",
        "insufficient_information",
    }
