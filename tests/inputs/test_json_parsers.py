"""The fast case parser (jiter) and the standard-library reference accept and refuse
alike: on every hostile input and on generated and mutated JSON, the same value (types
included: ``1`` is not ``1.0``, ``-0.0`` is not ``0.0``) or the same refusal, word for word."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dli_check import CaseError
from dli_check.inputs.loaders import parse_case_json, parse_case_json_slowly

FIELDS = ("case_id", "services", "medically_necessary")

HOSTILE: list[bytes] = [
    b"",
    b"  ",
    b"\xef\xbb\xbf",
    b"\xef\xbb\xbf{}",
    b"\xef\xbb\xbf\xef\xbb\xbf{}",
    b'{"a": 1, "a": 2}',
    b'{"k": 1, "\\u006b": 2}',
    b'{"case_id": "a", "case_id": "b"}',
    b'{"x": {"medically_necessary": false, "medically_necessary": true}}',
    b'{"a": {"b": 1}, "a": 2}',
    b"[NaN]",
    b"[Infinity]",
    b"[-Infinity]",
    b"[1e400]",
    b"[-1e400]",
    b"[1e-400]",
    b"[-0]",
    b"[-0.0]",
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[-]",
    b"[+1]",
    b"[0x10]",
    b"[1E5]",
    b'["\\ud800"]',
    b'["\\udfff"]',
    b'["\\ud800\\udc00"]',
    b'["\\u0000"]',
    b'["\\x"]',
    b'["a\x01"]',
    b'["\xff"]',
    b'["\xed\xa0\x80"]',
    b'["\xc0\xaf"]',
    "é".encode("latin-1"),
    '{"case_id": "x"}'.encode("utf-16"),
    b"[1] x",
    b"[1]\x00",
    b"\x0c[1]",
    b"[1]\x0c",
    b"\xc2\xa0[1]",
    b"[1]\r\n\t ",
    b'{"a":1,}',
    b"[1,]",
    b"[tru]",
    b"[true, false, null]",
    b"{'a': 1}",
    b"[" + b"9" * 4300 + b"]",
    b"[" + b"9" * 4301 + b"]",
    b"[1." + b"9" * 6000 + b"]",
    b"[" * 199 + b"]" * 199,
    b"[" * 201 + b"]" * 201,
    b"[" * 900 + b"]" * 900,
    b"[" * 10_000 + b"]" * 10_000,
    b" " * (1024 * 1024 + 1),
    b'{"services": [{"code": "38242", "date": "2024-01-01"}]}',
]


def typed(value: Any) -> list[Any]:
    """A value as tokens, each scalar with its type beside it, so that equality is exact
    (iterative: the corpus nests deeper than Python's recursion limit)."""
    tokens: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            tokens.append(("object", len(item)))
            for key, child in reversed(list(item.items())):
                stack += [child, ("key", key)]
        elif isinstance(item, list):
            tokens.append(("array", len(item)))
            stack += reversed(item)
        elif isinstance(item, float):
            tokens.append(("float", item.hex()))
        elif isinstance(item, tuple):
            tokens.append(item)
        else:
            tokens.append((type(item).__name__, item))
    return tokens


def outcome(parse: Any, raw: bytes) -> Any:
    try:
        return typed(parse(raw, "case.json", field_names=FIELDS))
    except CaseError as exc:
        return ("refused", str(exc), exc.kind)


def assert_alike(raw: bytes) -> None:
    assert outcome(parse_case_json, raw) == outcome(parse_case_json_slowly, raw), raw[:60]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input(raw: bytes) -> None:
    assert_alike(raw)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.booleans())
def test_generated_json(value: Any, ascii_only: bool) -> None:
    assert_alike(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(JSON, st.data())
def test_mutated_json(value: Any, data: st.DataObject) -> None:
    raw = bytearray(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw)))
        insert = data.draw(st.sampled_from([b'"', b",", b"\\", b"{", b"]", b"\xff", b"\x00", b"e"]))
        raw[at:at] = insert
    assert_alike(bytes(raw))
