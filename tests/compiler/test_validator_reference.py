"""The validator generated from a rule file's declarations and a pydantic reference model
built from the same declarations (tests/reference_case_model.py) accept and refuse alike,
with problems at the same paths: on generated cases, on hostile ones, and on cases with
values swapped at random for values of other types."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hostile_inputs import ROWS
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_case_model import problem_paths, reference_model

from conftest import BASE_CASE, DATA, ROOT, mutate
from dli_check import load_rules
from dli_check.engine.decider import Decider
from generate import generate

RULE_FILES = {
    "cg-trans-03": ROOT / "rules" / "cg-trans-03.yaml",
    "cpap": DATA / "cpap.yaml",
    "made-up": DATA / "made-up-guideline.yaml",
}
RETIRED = "is no longer a field"
STARTS: dict[str, dict[str, Any]] = {
    "cg-trans-03": BASE_CASE,
    "cpap": {
        "case_id": "OSA-1",
        "patient": {"diagnoses": ["G47.33"]},
        "sleep_studies": [{"date": "2025-01-05", "ahi": 22.5}],
        "services": [{"code": "E0601", "date": "2025-02-01"}],
    },
    "made-up": mutate(
        {
            "transplants": [{"type": "autologous", "date": "2024-02-01", "indication": "C90.00"}],
            "services": [{"code": "38241", "date": "2024-03-01"}],
        }
    ),
}


def ours(rules: Decider, data: Any) -> set[tuple[str | int, ...]]:
    _, problems = rules.case_format.validate(data)
    return {
        p.path[:-1] if p.message.startswith(("is not a known field", RETIRED)) else p.path
        for p in problems
    }


def assert_alike(rules: Decider, data: Any) -> None:
    model = MODELS[rules.source]
    assert ours(rules, data) == problem_paths(model, data), json.dumps(data, default=str)[:300]


MODELS: dict[str, Any] = {}


def rules_for(name: str) -> Decider:
    rules = load_rules(RULE_FILES[name])
    MODELS.setdefault(rules.source, reference_model(rules.case_format.declaration))
    return rules


def test_generated_cases() -> None:
    rules = rules_for("cg-trans-03")
    for case in generate(2000, seed=11):
        assert_alike(rules, case)


def test_example_cases() -> None:
    rules = rules_for("cg-trans-03")
    for path in sorted((ROOT / "examples" / "cases").glob("*.json")):
        assert_alike(rules, json.loads(path.read_text()))


ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    float("inf"),
    "",
    " ",
    "\u200b",
    "N/A",
    " unknown ",
    "x" * 257,
    "2024-02-30",
    "2024-1-1",
    "C92.00",
    "c9200",
    "C92.",
    "C9.200",
    " C92.00 ",
    "Z94.81",
    "ZZZ",
    "38242",
    "E0601",
    "3824",
    "allogeneic",
    "D-1",
    [],
    ["C92.00"],
    ["C92.00", "nope"],
    ["C92.00"] * 1001,
    {},
    {"type": "allogeneic"},
    {"x": 1},
    [{}],
    [{"type": "autologous", "extra": 1}],
]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            found += _paths(item, (*path, i))
    return found


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("name", sorted(RULE_FILES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_values_swapped_at_random(name: str, data: st.DataObject) -> None:
    rules = rules_for(name)
    case = copy.deepcopy(STARTS[name])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(case)[1:]))
        if data.draw(st.booleans()):
            value = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES)))
            case = _set(case, path, value)
        else:  # a key added beside the value: a known name of elsewhere, or an unknown one
            parent = case
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                parent[
                    data.draw(st.sampled_from(["cpt", "date", "case_id", "zz", "transplant"]))
                ] = 1
    assert_alike(rules, case)


def test_hostile_cases() -> None:
    rules = rules_for("cg-trans-03")
    checked = 0
    for _, content, _, _ in ROWS:
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            assert_alike(rules, data)
            checked += 1
    assert checked >= 6
