"""What reaches a terminal: no text of a case, a rule file or a file name is ever obeyed
as a control sequence, drawn reordered, or read as Rich markup."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, mutate
from dli_check.service.log import DecisionLog

EXE = str(Path(sys.executable).parent / "dli-check")
RULES = ROOT / "rules" / "cg-trans-03.yaml"
HOSTILE = "EX\u202e1\u2028\x85\x9b31m\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"
RAW = ("\u202e", "\u2028", "\x85", "\x9b", "\x1b")


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run dli-check with its standard output on a pseudo-terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [EXE, *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: all is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    process.wait(timeout=30)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_a_case_as_json_on_a_terminal_is_the_same_json_with_nothing_to_obey(
    tmp_path: Path,
) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps(mutate({"case_id": HOSTILE})))
    code, out = on_a_terminal(str(case), "--format", "json")
    assert code == 0
    assert not [c for c in RAW if c in out]
    assert json.loads(out.replace("\r\n", "\n"))["case_id"] == HOSTILE


def test_a_rule_title_and_id_are_shown_as_text(tmp_path: Path) -> None:
    text = RULES.read_text(encoding="utf-8")
    text = text.replace("id: CG-TRANS-03", 'id: "[bold red]X[/] [/]"', 1)
    text = re.sub(
        r"\n  title: >-\n(    .*\n)+",
        lambda _: '\n  title: "\\e]8;;http://evil.example\\e\\\\click\\e]8;;\\e\\\\"\n',
        text,
        count=1,
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, encoding="utf-8")
    code, out = on_a_terminal("rules", "show", str(rules))
    assert code == 0
    assert "\x1b]8" not in out and "\\x1b]8;;http://evil.example" in out
    assert "[bold red]X[/] [/]" in out


def test_a_file_name_with_an_escape_is_printed_escaped(tmp_path: Path) -> None:
    rules = tmp_path / "rules\x1b[2J.yaml"
    rules.write_bytes(RULES.read_bytes())
    code, out = on_a_terminal("rules", "validate", str(rules))
    assert code == 0
    assert "\x1b" not in out and "rules\\x1b[2J.yaml: OK" in out


@pytest.mark.parametrize("command", ["show", "list"])
def test_the_decision_log_on_a_terminal(tmp_path: Path, command: str) -> None:
    from fastapi.testclient import TestClient

    from dli_check import load_rules
    from dli_check.service.app import Settings, create_app

    path = tmp_path / "log.sqlite3"
    log = DecisionLog(path)
    service = TestClient(create_app(Settings([load_rules()], log)))
    answer = service.post("/evaluate", json=mutate({"case_id": HOSTILE}))
    decision_id = answer.headers["x-decision-id"]
    args = ["log", command, *([decision_id] if command == "show" else []), "--log", str(path)]
    code, out = on_a_terminal(*args)
    assert code == 0
    assert not [c for c in RAW if c in out]
    if command == "show":
        shown = json.loads(out.replace("\r\n", "\n"))
        assert shown["result"]["case_id"] == HOSTILE
        assert shown["response"]["case_id"] == HOSTILE
