"""`batch --worksheets DIR`: every decided case's worksheet, written whole, named by its
decision id, the same page `dli-check CASE --format html` makes; the dashboard's lines
link to them; and a worksheet that cannot be written ends the batch, every record before
it kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from dli_check import evaluate, load_rules
from dli_check.cli.commands import app
from dli_check.outputs.records import read_record
from dli_check.outputs.worksheet import worksheet

CASES = ROOT / "examples" / "cases"
DAY = "2026-12-02"
EPOCH = "1796169600"  # 2026-12-02T00:00:00Z
runner = CliRunner()


def _batch(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, ["batch", *args, "--quiet"], env={"SOURCE_DATE_EPOCH": EPOCH})
    return done.exit_code, done.output


@pytest.mark.parametrize(("workers", "format"), [("1", "jsonl"), ("2", "jsonl"), ("2", "csv")])
def test_each_decided_case_has_its_worksheet_and_the_dashboard_links_it(
    tmp_path: Path, workers: str, format: str
) -> None:
    sheets, report = tmp_path / "worksheets", tmp_path / "report.html"
    out = tmp_path / f"results.{format}"
    code, said = _batch(
        str(CASES), "-o", str(out), "-f", format, "-w", workers,
        "--worksheets", str(sheets), "--report", str(report),
    )  # fmt: skip
    assert code == 0, said
    rules = load_rules()
    expected = {}
    for case in sorted(CASES.glob("*.json")):
        result = evaluate(case, rules)
        expected[f"{result.decision_id}.html"] = worksheet(result, rules, DAY)
    assert sorted(p.name for p in sheets.iterdir()) == sorted(expected)
    for name, page in expected.items():
        assert (sheets / name).read_text(encoding="utf-8") == page
    table = report.read_text(encoding="utf-8").split('<table id="lines">')[1]
    links = re.findall(r'<a href="([^"]+)">', table)
    assert len(links) == table.count("<tr><td>") > 0  # every line to look at links
    assert all(link.startswith("worksheets/") and (tmp_path / link).is_file() for link in links)


def test_the_report_command_links_only_the_worksheets_that_are_there(tmp_path: Path) -> None:
    sheets, out = tmp_path / "sheets", tmp_path / "results.jsonl"
    code, said = _batch(str(CASES), "-o", str(out), "--worksheets", str(sheets))
    assert code == 0, said
    records = [read_record(line) for line in out.read_bytes().splitlines()]
    kept = next(r for r in records if r.lines and r.lines[0].action != "approve")
    for page in sheets.iterdir():
        if page.name != f"{kept.decision_id}.html":
            page.unlink()
    # A record read back may hold any decision_id: one that is not a UUID is never a link.
    hostile = json.loads(records[-1].json) | {"decision_id": "../../etc/passwd"}
    with out.open("a", encoding="utf-8") as more:
        more.write(json.dumps(hostile) + "\n")
    report = tmp_path / "pages" / "report.html"
    report.parent.mkdir()
    done = runner.invoke(app, ["report", str(out), "-o", str(report), "--worksheets", str(sheets)])
    assert done.exit_code == 0, done.output
    links = re.findall(r'<a href="([^"]+)">', report.read_text(encoding="utf-8"))
    assert links == [f"../sheets/{kept.decision_id}.html"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_worksheet_that_cannot_be_written_ends_the_batch_keeping_what_came_before(
    tmp_path: Path, workers: str
) -> None:
    cases = sorted(CASES.glob("*.json"))
    blocked = evaluate(cases[3]).decision_id
    sheets, out = tmp_path / "sheets", tmp_path / "results.jsonl"
    (sheets / f"{blocked}.html").mkdir(parents=True)  # the worksheet's name is taken
    code, said = _batch(str(CASES), "-o", str(out), "-w", workers, "--worksheets", str(sheets))
    assert code == 4
    assert said == (
        f"dli-check: the batch ended early: cannot write a worksheet in {sheets}: Is a "
        f"directory; {out} keeps every record made before it (--resume continues)\n"
    )
    sources = [read_record(line).source for line in out.read_bytes().splitlines()]
    assert sources == [str(c) for c in cases[:3]]
    assert not [p for p in sheets.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize(
    ("target", "problem"),
    [("a-file", "File exists"), ("a-file/sheets", "Not a directory")],
)
def test_a_directory_that_cannot_be_made_is_refused_before_any_case(
    tmp_path: Path, target: str, problem: str
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    out = tmp_path / "results.jsonl"
    code, said = _batch(str(CASES), "-o", str(out), "--worksheets", str(tmp_path / target))
    message = f"dli-check: {tmp_path / target}: cannot write worksheets there: {problem}\n"
    assert (code, said) == (2, message)
    assert not out.exists()
