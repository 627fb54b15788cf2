"""`make bench-anchors`: dli-check side by side with general rule engines, in one process,
on the same generated cases.

The anchor engines (business-rules, json-logic, rule-engine, GoRules ZEN) are installed
only in a benchmark-only virtual environment (`.venv-anchors`), never as dependencies of
the project; an engine that is not installed is skipped. They get an easier task than
dli-check: each line's facts are first flattened in Python by the hand-written floor's
helpers (the first transplant only, codes already checked against the guideline's lists),
and each engine then judges the eight criteria of a DLI line, three-valued, as expressions
or rules. They validate nothing and cite nothing. dli-check's rows are the real thing:
strict validation, every criterion with the guideline's words.

    .venv-anchors/bin/python benchmarks/anchors.py [--cases 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import dli_check  # noqa: E402
import handwritten  # noqa: E402
from generate import generate  # noqa: E402

CRITERIA: dict[str, str] = {
    # criterion: a three-valued expression over the flat facts, in a C-like syntax that
    # rule-engine and ZEN read as it is (json-logic and business-rules get their own form)
    "transplant-allogeneic": (
        "type == null ? 'unknown' : (type == 'allogeneic' ? 'met' : 'not_met')"
    ),
    "transplant-conditioning": "conditioning_ok ? 'met' : 'not_met'",
    "transplant-medically-necessary": (
        "necessary == null ? 'unknown' : (necessary ? 'met' : 'not_met')"
    ),
    "transplant-completed": "completed == null ? 'unknown' : (completed ? 'met' : 'not_met')",
    "transplant-treated-hematologic-malignancy": "malignancy",
    "diagnosis-listed": "listed == null ? 'unknown' : (listed ? 'met' : 'not_met')",
    "same-donor": "same_donor == null ? 'unknown' : (same_donor ? 'met' : 'not_met')",
    "not-genetically-modified": "modified ? 'not_met' : 'met'",
}


def flat(case: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    """A DLI line's facts, flattened by the floor's helpers (first transplant only)."""
    t = (case.get("transplants") or [{}])[0]
    diagnoses = (case.get("patient") or {}).get("diagnoses") or None
    status = t.get("status")
    completed = None if status is None else status == "completed"
    if completed and line.get("date") and t.get("date"):
        completed = line["date"] > t["date"]
    donor, lymph = t.get("donor_id"), line.get("lymphocyte_donor_id")
    return {
        "type": t.get("type"),
        "conditioning_ok": t.get("conditioning")
        in {"myeloablative", "non_myeloablative", "reduced_intensity", None},
        "necessary": t.get("medically_necessary"),
        "completed": completed,
        "malignancy": handwritten._hematologic_malignancy(t.get("indication")),
        "listed": None if not diagnoses else any(handwritten._listed(c) for c in diagnoses),
        "same_donor": None if donor is None or lymph is None else handwritten._same(donor, lymph),
        "modified": bool(line.get("genetically_modified")),
    }


def dli_lines(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        line
        for line in case["services"]
        if line.get("service") == "donor_lymphocyte_infusion" or line.get("code") == "38242"
    ]


def decision(statuses: list[str]) -> str:
    if "not_met" in statuses:
        return "not_medically_necessary"
    return "insufficient_information" if "unknown" in statuses else "medically_necessary"


Judge = Callable[[dict[str, Any]], list[str]]


def python_judge(facts: dict[str, Any]) -> list[str]:
    """The eight statuses in plain Python: what every engine must agree with."""

    def three(value: Any, test: bool) -> str:
        return "unknown" if value is None else ("met" if test else "not_met")

    return [
        three(facts["type"], facts["type"] == "allogeneic"),
        "met" if facts["conditioning_ok"] else "not_met",
        three(facts["necessary"], bool(facts["necessary"])),
        three(facts["completed"], bool(facts["completed"])),
        facts["malignancy"],
        three(facts["listed"], bool(facts["listed"])),
        three(facts["same_donor"], bool(facts["same_donor"])),
        "not_met" if facts["modified"] else "met",
    ]


def rule_engine_judge() -> Judge:
    import rule_engine

    context = rule_engine.Context(default_value=None)
    rules = [rule_engine.Rule(e, context=context) for e in CRITERIA.values()]
    return lambda facts: [rule.evaluate(facts) for rule in rules]


def zen_judge() -> Judge:
    import zen

    compiled = [zen.compile_expression(e) for e in CRITERIA.values()]
    return lambda facts: [expression.evaluate(facts) for expression in compiled]


def json_logic_judge() -> Judge:
    from json_logic import jsonLogic

    def three(var: str) -> dict[str, Any]:
        return {
            "if": [
                {"===": [{"var": var}, None]},
                "unknown",
                {"if": [{"var": var}, "met", "not_met"]},
            ]
        }

    rules = [
        {
            "if": [
                {"===": [{"var": "type"}, None]},
                "unknown",
                {"if": [{"==": [{"var": "type"}, "allogeneic"]}, "met", "not_met"]},
            ]
        },
        {"if": [{"var": "conditioning_ok"}, "met", "not_met"]},
        three("necessary"),
        three("completed"),
        {"var": "malignancy"},
        three("listed"),
        three("same_donor"),
        {"if": [{"var": "modified"}, "not_met", "met"]},
    ]
    return lambda facts: [jsonLogic(rule, facts) for rule in rules]


def business_rules_judge() -> Judge:
    from business_rules import run_all
    from business_rules.actions import BaseActions, rule_action
    from business_rules.fields import FIELD_TEXT
    from business_rules.variables import (
        BaseVariables,
        boolean_rule_variable,
        string_rule_variable,
    )

    class Facts(BaseVariables):  # type: ignore[misc]
        def __init__(self, facts: dict[str, Any]) -> None:
            self.facts = facts

        @string_rule_variable  # type: ignore[misc]
        def type(self) -> str:
            return self.facts["type"] or ""

        @string_rule_variable  # type: ignore[misc]
        def malignancy(self) -> str:
            return str(self.facts["malignancy"])

        @boolean_rule_variable  # type: ignore[misc]
        def conditioning_ok(self) -> bool:
            return bool(self.facts["conditioning_ok"])

        @boolean_rule_variable  # type: ignore[misc]
        def modified(self) -> bool:
            return bool(self.facts["modified"])

        @string_rule_variable  # type: ignore[misc]
        def necessary(self) -> str:
            return str(self.facts["necessary"])

        @string_rule_variable  # type: ignore[misc]
        def completed(self) -> str:
            return str(self.facts["completed"])

        @string_rule_variable  # type: ignore[misc]
        def listed(self) -> str:
            return str(self.facts["listed"])

        @string_rule_variable  # type: ignore[misc]
        def same_donor(self) -> str:
            return str(self.facts["same_donor"])

    class Statuses(BaseActions):  # type: ignore[misc]
        def __init__(self) -> None:
            self.statuses: dict[str, str] = {}

        @rule_action(params={"criterion": FIELD_TEXT, "status": FIELD_TEXT})  # type: ignore[misc]
        def judge(self, criterion: str, status: str) -> None:
            self.statuses[criterion] = status

    def rule(
        criterion: str, variable: str, operator: str, value: Any, status: str
    ) -> dict[str, Any]:
        return {
            "conditions": {"all": [{"name": variable, "operator": operator, "value": value}]},
            "actions": [{"name": "judge", "params": {"criterion": criterion, "status": status}}],
        }

    rules = [
        rule("transplant-allogeneic", "type", "equal_to", "", "unknown"),
        rule("transplant-allogeneic", "type", "equal_to", "allogeneic", "met"),
        rule("transplant-allogeneic", "type", "non_empty", None, "not_met"),
        rule("transplant-conditioning", "conditioning_ok", "is_true", None, "met"),
        rule("transplant-conditioning", "conditioning_ok", "is_false", None, "not_met"),
        rule("transplant-treated-hematologic-malignancy", "malignancy", "equal_to", "met", "met"),
        rule(
            "transplant-treated-hematologic-malignancy",
            "malignancy",
            "equal_to",
            "not_met",
            "not_met",
        ),
        rule(
            "transplant-treated-hematologic-malignancy",
            "malignancy",
            "equal_to",
            "unknown",
            "unknown",
        ),
        rule("not-genetically-modified", "modified", "is_true", None, "not_met"),
        rule("not-genetically-modified", "modified", "is_false", None, "met"),
    ]
    for criterion, variable in (
        ("transplant-medically-necessary", "necessary"),
        ("transplant-completed", "completed"),
        ("diagnosis-listed", "listed"),
        ("same-donor", "same_donor"),
    ):
        rules += [
            rule(criterion, variable, "equal_to", "None", "unknown"),
            rule(criterion, variable, "equal_to", "True", "met"),
            rule(criterion, variable, "equal_to", "False", "not_met"),
        ]

    def judge(facts: dict[str, Any]) -> list[str]:
        statuses = Statuses()
        run_all(rule_list=rules, defined_variables=Facts(facts), defined_actions=statuses)
        # "allogeneic" also matches non_empty: the last rule to fire wins, so settle it here
        if facts["type"] == "allogeneic":
            statuses.statuses["transplant-allogeneic"] = "met"
        return [statuses.statuses[c] for c in CRITERIA]

    return judge


def engine_run(judge: Judge) -> Callable[[list[dict[str, Any]]], None]:
    def run(cases: list[dict[str, Any]]) -> None:
        for case in cases:
            for line in dli_lines(case):
                decision(judge(flat(case, line)))

    return run


def pydantic_plain() -> Callable[[list[dict[str, Any]]], None]:
    from reference_case_model import reference_model

    model = reference_model(dli_check.load_rules().case_format.declaration)

    def run(cases: list[dict[str, Any]]) -> None:
        for case in cases:
            model.model_validate(case)
            handwritten.decide(case)

    return run


def timed(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases = generate(args.cases, seed=5)
    rules = dli_check.load_rules()
    runs: list[tuple[str, Callable[[], object]]] = [
        ("plain Python (benchmarks/handwritten.py)", lambda: [handwritten.decide(c) for c in cases])
    ]
    plain = pydantic_plain()
    runs.append(("pydantic + plain", lambda: plain(cases)))
    for name, make in (
        ("business-rules", business_rules_judge),
        ("json-logic (json-logic-qubit)", json_logic_judge),
        ("rule-engine", rule_engine_judge),
        ("GoRules ZEN (zen-engine)", zen_judge),
    ):
        try:
            judge = make()
        except ImportError:
            print(f"{name}: not installed, skipped", file=sys.stderr)
            continue
        for case in cases[:500]:  # a benchmark of wrong answers would mean nothing
            for line in dli_lines(case):
                facts = flat(case, line)
                if judge(facts) != python_judge(facts):
                    raise SystemExit(f"{name} judges {facts} differently")
        run = engine_run(judge)
        runs.append((name, lambda run=run: run(cases)))  # type: ignore[misc]
    runs.append(
        (
            "dli-check evaluate(), full cited result",
            lambda: [dli_check.evaluate(c, rules) for c in cases],
        )
    )
    runs.append(
        (
            "dli-check evaluate() + to_json()",
            lambda: [dli_check.evaluate(c, rules).to_json(indent=None) for c in cases],
        )
    )
    for _, action in runs:  # warm every cache first
        action()
    figures = [(name, timed(action, args.repeats) / len(cases) * 1e6) for name, action in runs]
    floor = figures[0][1]
    print(f"{len(cases):,} cases, median of {args.repeats} runs, one process")
    print("| engine | µs/case | times plain Python |")
    print("| --- | --- | --- |")
    for name, micros in figures:
        print(f"| {name} | {micros:.1f} | {micros / floor:.1f}x |")


if __name__ == "__main__":
    main()
