"""The batch dashboard (`batch --report`, `dli-check report`): exact counts in one pass
over full or decisions records, the same page for the same records, a policy that lets in
only its own style and script, and case text kept as text."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from dli_check.cli.commands import app
from dli_check.outputs.dashboard import MAX_ROWS, Tally, dashboard
from dli_check.outputs.records import read_record
from dli_check.outputs.worksheet import ReportSupportMissing

CASES = ROOT / "examples" / "cases"
runner = CliRunner()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("batch")
    found = {}
    for detail in ("full", "decisions"):
        records = out / f"{detail}.jsonl"
        report = out / f"{detail}.html"
        done = runner.invoke(
            app,
            [
                "batch",
                str(CASES),
                "-o",
                str(records),
                "--detail",
                detail,
                "--quiet",
                "--workers",
                "1",
                "--report",
                str(report),
            ],
        )
        assert done.exit_code == 0, done.output
        found[detail], found[f"{detail}-report"] = records, report
    return found


def _tally(path: Path) -> Tally:
    counted = Tally()
    for line in path.read_bytes().splitlines():
        counted.add(read_record(line))
    return counted


def test_the_counts_are_exact(outputs: dict[str, Path]) -> None:
    counted = _tally(outputs["full"])
    assert counted.cases == 31
    assert counted.decisions == Counter(
        medically_necessary=16,
        not_medically_necessary=11,
        insufficient_information=3,
        no_version_in_effect=1,
    )
    assert counted.actions == Counter(
        approve=17, refer_to_clinical_reviewer=14, request_information=3, none=1
    )
    assert counted.look_at == len(counted.rows) == 17
    assert counted.not_met["donor_lymphocyte_infusion: diagnosis-listed"] == 2
    assert counted.missing["transplants[].donor_id"] == 1
    assert counted.by_month[("2025-09", "medically_necessary")] == 4
    assert sum(counted.by_month.values()) == sum(counted.actions.values())


def test_decisions_records_give_the_same_counts_but_dates(outputs: dict[str, Path]) -> None:
    full, compact = _tally(outputs["full"]), _tally(outputs["decisions"])
    for name in ("cases", "decisions", "actions", "by_service", "not_met", "unknown", "missing"):
        assert getattr(full, name) == getattr(compact, name), name
    assert set(m for m, _ in compact.by_month) == {"no date"}  # a decisions record has none
    assert (full.undated, compact.undated) == (0, sum(full.actions.values()))
    said = "service lines come from decisions records (--detail decisions), which keep no date"
    assert said not in outputs["full-report"].read_text(encoding="utf-8")
    page = outputs["decisions-report"].read_text(encoding="utf-8")
    assert f"{compact.undated} {said} of service" in page


def test_the_page_is_the_same_from_the_batch_and_from_its_output(
    outputs: dict[str, Path], tmp_path: Path
) -> None:
    page = outputs["full-report"].read_text(encoding="utf-8")
    again = tmp_path / "again.html"
    done = runner.invoke(app, ["report", str(outputs["full"]), "-o", str(again)])
    assert done.exit_code == 0, done.output
    title = f"Batch results: {outputs['full'].name}"
    assert again.read_text(encoding="utf-8") == page.replace(f"CG-TRANS-03: {CASES}", title)


def test_the_policy_lets_in_only_its_own_style_and_script(outputs: dict[str, Path]) -> None:
    page = outputs["full-report"].read_text(encoding="utf-8")
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert style and script and page.count("<script") == 1

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert (
        f"default-src 'none'; style-src 'sha256-{digest(style.group(1))}'; "
        f"script-src 'sha256-{digest(script.group(1))}'; img-src data:; base-uri 'none'; "
        "form-action 'none'"
    ) in page
    assert page.count('<img src="data:image/svg+xml;base64,') == 5


def test_case_text_in_the_table_stays_text() -> None:
    counted = Tally()
    record = {
        "source": "<b>x</b>.json",
        "case_id": "<script>alert(1)</script>\u202e",
        "decision": "not_medically_necessary",
        "services": [
            {
                "service": "s",
                "code": "38242",
                "decision": "not_medically_necessary",
                "action": "refer_to_clinical_reviewer",
                "not_met": ["c"],
                "unknown": [],
                "missing": [],
            }
        ],
    }
    counted.add(read_record(json.dumps(record)))
    page = dashboard(counted, title="<i>t</i>")
    assert "<script>alert" not in page and "<b>x</b>" not in page and "<i>t</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u202e" in page


def test_the_table_keeps_a_bounded_number_of_rows() -> None:
    counted = Tally()
    line = {
        "service": "s",
        "code": "38242",
        "decision": "insufficient_information",
        "action": "request_information",
        "not_met": [],
        "unknown": ["c"],
        "missing": ["a.b"],
    }
    text = json.dumps(
        {"source": "a", "case_id": "A", "decision": "insufficient_information", "services": [line]}
    )
    record = read_record(text)
    for _ in range(MAX_ROWS + 10):
        counted.add(record)
    assert (len(counted.rows), counted.look_at) == (MAX_ROWS, MAX_ROWS + 10)
    assert f"shown of {MAX_ROWS + 10} (the first {MAX_ROWS} are listed)" in dashboard(
        counted, title="t"
    )


def test_a_file_that_is_not_records_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "a", "decision": 5}\n', encoding="utf-8")
    done = runner.invoke(app, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert done.exit_code == 2
    assert done.stderr == f"dli-check: {bad}:1: not a dli-check record: decision: not a string\n"
    assert not (tmp_path / "r.html").exists()


def test_without_the_report_extra_it_says_which_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    counted = Tally()
    counted.decisions["medically_necessary"] = 1
    counted.by_service[("s", "medically_necessary")] = 1
    with pytest.raises(ReportSupportMissing, match=r"pip install 'dli-check\[report\]'"):
        dashboard(counted, title="t")
