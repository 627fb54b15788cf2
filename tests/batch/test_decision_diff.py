"""Decision diff: a one-line rule edit's effect over the example cases, the same from cases
and from two batch outputs; no change means exit 0."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from dli_check.batch.diff import CHANGE_COLUMNS, compare_records
from dli_check.cli.commands import app
from dli_check.outputs.records import read_record

runner = CliRunner()
RULES = ROOT / "rules" / "cg-trans-03.yaml"
EXAMPLES = ROOT / "examples" / "cases"
BLOCK = """      - codes: [C81-C96]
        reason: >-
          it lies in ICD-10-CM block C81-C96, "Malignant neoplasms of lymphoid, hematopoietic
          and related tissue", the code system's class of hematologic malignancies; the Coding
          section's list, which is for information, does not print it (or not all of it)
"""


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def revised(tmp_path: Path) -> Path:
    text = RULES.read_text(encoding="utf-8")
    assert BLOCK in text
    path = tmp_path / "revised.yaml"
    path.write_text(text.replace(BLOCK, ""), encoding="utf-8")  # C93-C96 no longer count
    return path


EXPECTED = [
    {
        "source": str(EXAMPLES / "reading-acute-monocytic-leukemia-with-transplant-status.json"),
        "case_id": "RD-001",
        "line": 0,
        "old": {
            "service": "donor_lymphocyte_infusion",
            "decision": "medically_necessary",
            "action": "approve",
        },
        "new": {
            "service": "donor_lymphocyte_infusion",
            "decision": "not_medically_necessary",
            "action": "refer_to_clinical_reviewer",
        },
        "criteria": [
            {
                "criterion": "transplant-treated-hematologic-malignancy",
                "old": "met",
                "new": "not_met",
            }
        ],
    },
    {
        "source": str(EXAMPLES / "reading-category-code-as-indication.json"),
        "case_id": "RD-008",
        "line": 0,
        "old": {
            "service": "donor_lymphocyte_infusion",
            "decision": "medically_necessary",
            "action": "approve",
        },
        "new": {
            "service": "donor_lymphocyte_infusion",
            "decision": "insufficient_information",
            "action": "request_information",
        },
        "criteria": [
            {
                "criterion": "transplant-treated-hematologic-malignancy",
                "old": "met",
                "new": "unknown",
            }
        ],
    },
]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_one_line_edit_over_the_examples(revised: Path, workers: str) -> None:
    code, out, err = run("diff", str(EXAMPLES), "--new", str(revised), "-w", workers)
    assert code == 1
    assert [json.loads(line) for line in out.splitlines()] == EXPECTED
    assert f"2 of {len(list(EXAMPLES.glob('*.json')))} cases change" in err


def test_the_same_from_two_batch_outputs(revised: Path, tmp_path: Path) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    assert run("batch", str(EXAMPLES), "-o", str(old), "-q")[0] == 0
    assert run("batch", str(EXAMPLES), "-o", str(new), "--rules", str(revised), "-q")[0] == 0
    code, out, _ = run("diff", "--results", str(old), str(new), "-f", "csv", "-q")
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == CHANGE_COLUMNS
    assert [(r["case_id"], r["old_decision"], r["new_decision"], r["criteria"]) for r in rows] == [
        (
            "RD-001",
            "medically_necessary",
            "not_medically_necessary",
            "transplant-treated-hematologic-malignancy: met -> not_met",
        ),
        (
            "RD-008",
            "medically_necessary",
            "insufficient_information",
            "transplant-treated-hematologic-malignancy: met -> unknown",
        ),
    ]


def test_no_change_exits_0() -> None:
    code, out, _ = run("diff", str(EXAMPLES), "--new", str(RULES), "-q")
    assert (code, out) == (0, "")


def test_outputs_of_other_inputs_are_refused(tmp_path: Path) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text('{"source": "a.json", "error": {"kind": "invalid_json", "message": "m"}}\n')
    new.write_text('{"source": "b.json", "error": {"kind": "invalid_json", "message": "m"}}\n')
    code, _, err = run("diff", "--results", str(old), str(new))
    assert code == 2
    assert err == (
        f"dli-check: {new}:1: not the input {old} has on that line: the two outputs must come "
        "from the same inputs\n"
    )


def test_a_case_that_becomes_an_error_is_one_change() -> None:
    old = {"source": "a.json", "case_id": "A", "decision": "medically_necessary", "services": []}
    new = {"source": "a.json", "case_id": "A", "error": {"kind": "invalid_case", "message": "m"}}
    (change,) = compare_records(read_record(json.dumps(old)), read_record(json.dumps(new)))
    assert (change.line, change.old, change.new) == (
        None,
        {"decision": None},
        {"error": "invalid_case"},
    )


GOOD = {"source": "x", "case_id": "C", "decision": "medically_necessary", "services": []}
LINE: dict[str, object] = {
    "service": None,
    "code": None,
    "decision": "x",
    "action": "a",
    "missing": [],
}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"source": "x", "services": 5}, "decision: not a string"),
        ({**GOOD, "services": 5}, "services: not a list"),
        ({**GOOD, "case_id": 7}, "case_id: not a string or null"),
        ({**GOOD, "services": [{"decision": 1}]}, "services[0].decision: not a string"),
        ({**GOOD, "services": [[]]}, "services[0]: not an object"),
        ({**GOOD, "services": [{"decision": "x"}]}, "services[0].action: not a string"),
        (
            {**GOOD, "services": [{**LINE, "missing": "age"}]},
            "services[0].missing: not a list of facts",
        ),
        (
            {**GOOD, "services": [{**LINE, "reasons": [{"criterion": 1}]}]},
            "services[0].reasons[0]: not a reason (criterion and status)",
        ),
        (
            {**GOOD, "services": [{**LINE, "service": "s", "not_met": "a"}]},
            "services[0].not_met: not a list of criteria",
        ),
        ({"source": "x", "error": "boom"}, "error.kind: not a string"),
        ({"source": "x", "error": {"kind": "too_large"}}, "error.message: not a string"),
        ([1], "not a JSON object"),
        ({"source": 1}, "source: not a string"),
    ],
)
@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_malformed_records_are_refused_where_they_are(
    tmp_path: Path, record: object, problem: str, format: str
) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text(json.dumps(GOOD) + "\n" + json.dumps(record) + "\n")
    new.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n")
    code, _, err = run("diff", "--results", str(old), str(new), "--format", format)
    assert (code, err) == (2, f"dli-check: {old}:2: not a dli-check record ({problem})\n")


def test_the_report_shows_the_transitions_the_criteria_and_the_lines(
    revised: Path, tmp_path: Path
) -> None:
    report = tmp_path / "diff.html"
    code, _, _ = run(
        "diff",
        str(EXAMPLES),
        "--new",
        str(revised),
        "--quiet",
        "--workers",
        "1",
        "--report",
        str(report),
    )
    assert code == 1
    page = report.read_text(encoding="utf-8")
    assert "31 cases compared; 2 change, in 2 service lines." in page
    assert (
        "<tr><td>medically_necessary</td><td>insufficient_information</td><td>1</td></tr>" in page
    )
    assert (
        'alt="Criteria that changed with them: transplant-treated-hematologic-malignancy 2"' in page
    )
    assert page.count("<tr><td>" + str(EXAMPLES)) == 2
    assert "transplant-treated-hematologic-malignancy: met -&gt; not_met" in page
