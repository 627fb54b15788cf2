"""Hostile rule files: refused quickly with a located error; none can run code."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import BASE_CASE, DATA, ROOT
from dli_check import RuleFileError, evaluate, load_rules

RULES = ROOT / "rules" / "cg-trans-03.yaml"


def _laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(10))
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


ROWS = [
    ("billion laughs", _laughs(9), "1:66: too many YAML nodes (aliases expanding?)"),
    (
        "python object",
        "rules_format: !!python/object/apply:os.system ['echo pwned']\n",
        "1:15: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    (
        "python name in a scalar",
        "rules_format: !!python/name:os.system\n",
        "1:15: YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'",
    ),
    (
        "custom tag",
        "rules_format: !include other.yaml\n",
        "1:15: YAML: could not determine a constructor for the tag '!include'",
    ),
    ("duplicate key", "rules_format: 1\nrules_format: 1\n", "2:1: duplicate key 'rules_format'"),
    (
        "nested very deep",
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "1:1003: YAML: exceeded maximum nesting depth",
    ),
    ("mapping as a key", "? {a: 1}\n: 2\n", "1:3: mapping keys must be plain scalars"),
    (
        "aliases of a long text (about 20 MB once expanded)",
        "a: &a " + "x" * 100_000 + "\nb: [" + ", ".join(["*a"] * 200) + "]\n",
        "1:4: too much text in YAML scalars (aliases expanding?)",
    ),
    (
        "merge keys (nested, they grow exponentially)",
        "a: &a {x: 1}\nb: {<<: *a}\n",
        "2:5: merge keys (<<) are not supported",
    ),
    ("a date that is not in the calendar", "publish_date: 2023-02-30\n", "1:15: not a valid date"),
    ("not a number", "a: [1, .nan]\n", "1:8: not a finite number (.nan and .inf are refused)"),
    ("infinity", "a: .inf\n", "1:4: not a finite number (.nan and .inf are refused)"),
    ("minus infinity", "a:\n  b: -.Inf\n", "2:6: not a finite number (.nan and .inf are refused)"),
    (
        "an integer of 5,000 digits",
        "rules_format: " + "9" * 5000 + "\n",
        "1:15: not a valid integer",
    ),
    (
        "a version that is a boolean",
        RULES.read_text().replace("rules_format: 2", "rules_format: true"),
        "4:15: rules_format: must be the number 2, not a boolean",
    ),
    (
        "tabs",
        "rules_format:\t1\nguideline:\n\t- x\n",
        "3:1: YAML: found character that cannot start any token",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_hostile_rule_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value.problems[0]) == f"{path}:{expected}"
    assert time.perf_counter() - started < 10  # refused, not expanded


def test_oversized_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"# " + b"x" * (4 * 1024 * 1024) + b"\n")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert str(caught.value) == f"{path}:1:1: larger than 4 MiB"


def _nested_nots(depth: int) -> str:
    text = (DATA / "made-up-guideline.yaml").read_text(encoding="utf-8")
    cond = "{is_true: transplant.medically_necessary}"
    for _ in range(depth):
        cond = "{not: " + cond + "}"
    return text.replace("condition: {present: transplant.indication}", "condition: " + cond)


def test_deep_but_allowed_conditions_compile_and_evaluate(tmp_path: Path) -> None:
    from conftest import mutate
    from dli_check import evaluate

    path = tmp_path / "rules.yaml"
    path.write_text(_nested_nots(250), encoding="utf-8")  # an even number: the same as none
    rules = load_rules(path)
    case = mutate(
        {
            "transplants": [
                {"type": "autologous", "date": "2024-02-01", "medically_necessary": False}
            ],
            "patient.diagnoses": ["C90.01"],
            "services": [{"service": "booster_infusion", "date": "2024-03-01"}],
        }
    )
    assert [r.status for r in evaluate(case, rules).services[0].reasons] == [
        "met",
        "met",
        "met",
        "not_met",
    ]


def test_conditions_nested_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(_nested_nots(400), encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert "maximum validation depth exceeded" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_flat_all_of_three_thousand_conditions_compiles(tmp_path: Path) -> None:
    condition = "{in_code_set: {fact: transplant.indication, code_set: dli_malignancy_diagnoses}}"
    text = RULES.read_text().replace(
        "condition:\n          equals: {fact: transplant.type, value: allogeneic}",
        "condition:\n          all: [" + ", ".join([condition] * 3000) + "]",
        1,
    )
    path = tmp_path / "wide.yaml"
    path.write_text(text)
    rules = load_rules(path)
    result = evaluate(BASE_CASE, rules)
    assert result.services[0].reasons[0].status == "met"
    # 3,000 notes, all alike: said once.
    assert result.services[0].reasons[0].notes == (
        "C92.00 is listed: C92.00-C92.92 Myeloid leukemia",
    )


def test_a_rule_file_whose_aliases_expand_to_too_many_conditions(tmp_path: Path) -> None:
    """45,000 uses of one aliased condition: 765 KB, within every YAML limit, and refused
    before it is compiled into 45,000 statements."""
    text = (DATA / "made-up-guideline.yaml").read_text(encoding="utf-8")
    many = "{all: [&c {is_true: transplant.medically_necessary}, " + ", ".join(["*c"] * 45_000)
    path = tmp_path / "rules.yaml"
    path.write_text(
        text.replace("condition: {present: transplant.indication}", f"condition: {many}]}}")
    )
    started = time.perf_counter()
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert time.perf_counter() - started < 5
    assert str(caught.value) == (
        f"{path}:46:27: services[0].criteria[3].condition.all[9996]: more than 10,000 "
        "conditions once YAML aliases are expanded"
    )
