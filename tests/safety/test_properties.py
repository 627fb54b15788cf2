"""Property-based tests: whatever the input, evaluation returns a well-formed result or
raises CaseError, never anything else; a batch yields exactly one record per input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from conftest import BASE_CASE
from dli_check import CaseError, CaseResult, evaluate
from dli_check.batch.runner import list_inputs, run_batch
from dli_check.inputs.loaders import parse_case_json
from dli_check.results import plain

PYDANTIC = TypeAdapter(CaseResult)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
field_values = (
    st.sampled_from(
        [
            "allogeneic",
            "autologous",
            "completed",
            "planned",
            "reduced_intensity",
            "C92.00",
            "c9202",
            "C81.9A",
            "Z94.84",
            "D46.9",
            "38242",
            "86999",
            "99213",
            "E0601",
            "2025-01-01",
            "2025-13-01",
            "D-1",
            "",
            "donor_lymphocyte_infusion",
            "genetic_modification_of_donor_lymphocytes",
            "lymphocyte_collection_cryopreservation",
        ]
    )
    | json_values
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def mutated_cases(draw: st.DrawFn) -> dict[str, Any]:
    case = copy.deepcopy(BASE_CASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(case)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = case
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(field_values)
        elif isinstance(parent, dict):
            parent[
                draw(st.sampled_from(["type", "extra", "date", "code", "medicaly_necessary"]))
            ] = draw(field_values)
    return case


def _check(outcome: Any) -> None:
    assert isinstance(outcome, CaseResult)
    assert outcome.to_json(indent=None) == PYDANTIC.dump_json(outcome).decode()  # exact
    for indent in (2, 4):  # indented JSON is put together from parts: byte for byte the same
        expected = json.dumps(plain(outcome), ensure_ascii=False, indent=indent)
        assert outcome.to_json(indent=indent) == expected
    data = json.loads(outcome.to_json())
    assert data["decision"] in (
        "medically_necessary",
        "not_medically_necessary",
        "insufficient_information",
        "not_applicable",
    )
    assert len(data["services"]) >= 1
    for line in data["services"]:
        assert line["action"] in (
            "approve",
            "request_information",
            "refer_to_clinical_reviewer",
            "none",
        )
        assert all(r["status"] in ("met", "not_met", "unknown") for r in line["reasons"])
        assert (line["decision"] == "insufficient_information") == (
            bool(line["missing"]) and all(r["status"] != "not_met" for r in line["reasons"])
        )


def _evaluate(case: Any) -> None:
    try:
        outcome = evaluate(case)
    except CaseError as exc:
        assert "\n" not in str(exc)
        return
    _check(outcome)


@SETTINGS
@given(json_values)
def test_any_json_value(value: Any) -> None:
    _evaluate(value)


@SETTINGS
@given(mutated_cases())
def test_mutated_cases(case: dict[str, Any]) -> None:
    _evaluate(case)


@SETTINGS
@given(mutated_cases(), st.text(alphabet="abcdefghij", min_size=6, max_size=10))
def test_errors_never_echo_values(case: dict[str, Any], secret: str) -> None:
    token = f"QZX{secret}"
    case = copy.deepcopy(case)
    transplants = case.setdefault("transplants", [{}])
    if isinstance(transplants, list) and transplants and isinstance(transplants[0], dict):
        transplants[0]["indication"] = token
    try:
        evaluate(case)
    except CaseError as exc:
        assert token not in str(exc)


@SETTINGS
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes(raw: bytes) -> None:
    try:
        data = parse_case_json(raw, "fuzz")
    except CaseError:
        return
    _evaluate(data)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(mutated_cases().map(json.dumps) | st.text(max_size=30), min_size=1, max_size=12))
def test_batch_one_record_per_input(tmp_path: Path, lines: list[str]) -> None:
    source = tmp_path / "cases.jsonl"
    text = "".join(line.replace("\n", " ").replace("\r", " ") + "\n" for line in lines)
    source.write_text(text, encoding="utf-8")
    raw_lines = text.encode().split(b"\n")[:-1]  # JSON Lines: only \n ends a line
    expected = [f"{source}:{n}" for n, line in enumerate(raw_lines, start=1) if line.strip()]
    found = list_inputs(source)
    assert found.total == len(expected)
    records = list(run_batch(found.items))
    assert [r.source for r in records] == expected
    for record in records:
        assert json.loads(record.json)["source"] == record.source
