"""Hostile and broken case files: each gives one CaseError of the right kind, never a
decision, never a traceback, and never the file's content in the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_inputs import ROWS, SECRET

from conftest import BASE_CASE
from dli_check import CaseError, evaluate


@pytest.mark.parametrize(
    ("content", "kind", "message"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_hostile_case_file(tmp_path: Path, content: bytes, kind: str, message: str) -> None:
    path = tmp_path / "case.json"
    path.write_bytes(content)
    with pytest.raises(CaseError) as caught:
        evaluate(path)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"{path}{message}")
    assert "\n" not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(BASE_CASE).encode())
    assert evaluate(path).decision == "medically_necessary"


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="cannot read: No such file or directory") as caught:
        evaluate(tmp_path / "absent.json")
    assert caught.value.kind == "unreadable"


def test_a_path_with_a_nul_byte_is_unreadable() -> None:
    with pytest.raises(CaseError, match="cannot read: not a valid file name") as caught:
        evaluate("case\x00.json")
    assert caught.value.kind == "unreadable"
    assert "\x00" not in str(caught.value)


def test_a_directory_is_not_a_case(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="cannot read: not a regular file") as caught:
        evaluate(tmp_path)
    assert caught.value.kind == "unreadable"


def test_deep_dict_from_a_library_caller() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    with pytest.raises(CaseError) as caught:
        evaluate({**BASE_CASE, "transplants": [deep]})
    assert str(caught.value) == "<case>: transplants[0]: has an unknown field (its key number 1)"
