"""No rule-file text ever runs as code (issue: code injection through the generated
Python's comments). Every string of the rule file, values and keys alike, is replaced in
turn by hostile text that would run a sentinel if it ever reached the source as code: each
load either refuses the file at ``file:line:col`` or compiles it with the text as data."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BASE_CASE, ROOT
from dli_check import RuleFileError, evaluate
from dli_check.compiler.codegen import Constants, UnsafeSource, check_source, compile_function
from dli_check.engine.rules import compile_rules

RULES = yaml.safe_load((ROOT / "rules" / "cg-trans-03.yaml").read_text())
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""LibYAML's writer where PyYAML has it: the same YAML, seven times faster, for the
thousands of rule files these tests write."""

BREAKS = ["\r", "\n", "\r\n", "\v", "\f", "\x85", "\u2028", "\u2029", "\x00"]
QUOTES = ["'", '"', "'''", '"""', "\u2018", "\u201c", "\\", "#", "\\n", "\\x0a"]


def _payload(sentinel: Path) -> str:
    return f"open({str(sentinel)!r}, 'w').write('ran')"


def _hostile(sentinel: Path) -> list[str]:
    code = _payload(sentinel)
    values = [f"x{b}{code}{b}#" for b in BREAKS]
    values += [f"x{q}; {code}; {q}" for q in QUOTES]
    values += [f"x{q}\n{code}\n#{q}" for q in QUOTES]
    values += [f"x')\n{code}\n('", f'x")\n{code}\n("', f"x\\\n{code}"]
    return values


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, "value" or "key") for every string of the rule file."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield (*path, key), "key"
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _places(value, (*path, i))
    elif isinstance(node, str):
        yield path, "value"


PLACES = list(_places(RULES))


def _with(path: tuple[Any, ...], kind: str, text: str) -> bytes:
    data = copy.deepcopy(RULES)
    *parents, last = path
    node: Any = data
    for part in parents:
        node = node[part]
    if kind == "value":
        node[last] = text
    else:
        node = {text if k == last else k: v for k, v in node.items()}
        parent: Any = data
        for part in parents[:-1]:
            parent = parent[part]
        if parents:
            parent[parents[-1]] = node
        else:
            data = node
    return yaml.dump(data, Dumper=DUMPER, allow_unicode=True, sort_keys=False).encode()


LOCATED = re.compile(r"^hostile\.yaml:\d+:\d+: ")


def _load_one(raw: bytes, sentinel: Path) -> None:
    try:
        rules = compile_rules(raw, "hostile.yaml")
    except RuleFileError as exc:
        assert all(LOCATED.match(line) for line in str(exc).splitlines()), str(exc)
    else:
        for service in rules.services.values():
            compile(service.source, "<check>", "exec")  # the source is Python as shown
        evaluate(BASE_CASE, rules)
    assert not sentinel.exists(), "rule-file text ran as code"


def test_there_are_many_places() -> None:
    assert len(PLACES) > 200
    assert {kind for _, kind in PLACES} == {"key", "value"}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_text_anywhere_stays_data(tmp_path: Path, data: st.DataObject) -> None:
    sentinel = tmp_path / "sentinel"
    path, kind = data.draw(st.sampled_from(PLACES))
    text = data.draw(st.sampled_from(_hostile(sentinel)))
    _load_one(_with(path, kind, text), sentinel)


CHOICE_PLACES = [
    (path, kind)
    for path, kind in PLACES
    if kind == "value" and any(p in ("choices", "one_of", "values", "equals") for p in path)
]


@pytest.mark.parametrize("index", range(len(_hostile(Path("s")))))
def test_every_hostile_value_in_choices_and_one_of(tmp_path: Path, index: int) -> None:
    """The places the injection was found: choice values and one_of values, every one."""
    sentinel = tmp_path / "sentinel"
    text = _hostile(sentinel)[index]
    assert CHOICE_PLACES
    for path, kind in CHOICE_PLACES:
        _load_one(_with(path, kind, text), sentinel)


NAMESPACE: dict[str, object] = {}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1  # a comment nobody wrote\n", "line 1: a comment the generator did not write"),
        ('x = "text"\n', "line 1: a string literal not written by repr"),
        ("x = f'{1}'\n", "line 1: a "),
        ("x = '\\x61'\n", "line 1: a string literal not written by repr"),
        ("\u00e9t\u00e9 = 1\n", "line 1: a name outside the safe pattern"),
        ("x = (\n", "generated code does not tokenize"),
    ],
)
def test_the_source_check_refuses(source: str, message: str) -> None:
    with pytest.raises(UnsafeSource) as caught:
        check_source(source, set())
    assert str(caught.value).startswith(message)


def test_source_that_passed_is_remembered_only_with_its_comments() -> None:
    source = "# mine\nx = 1\n"
    check_source(source, {"# mine"})
    check_source(source, {"# mine"})  # remembered
    for _ in range(2):  # a refusal is never remembered as a pass
        with pytest.raises(UnsafeSource, match="line 1: a comment the generator did not write"):
            check_source(source, {"# another"})


def test_the_source_check_accepts_what_the_generator_writes() -> None:
    constants = Constants("_c", NAMESPACE)
    constants.name(frozenset({"a\nb", "it's"}))
    lines = [*constants.comments(), "def f():", "    return ('x', \"it's\", _c0)", ""]
    run = compile_function("\n".join(lines), "<t>", NAMESPACE, "f", constants.written)
    assert run() == ("x", "it's", frozenset({"a\nb", "it's"}))
    assert constants.comments() == ["# _c0 = one of \"it's\", 'a\\nb'"]
