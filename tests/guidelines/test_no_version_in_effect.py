"""A date of service before the first loaded version: never "nothing to do". The line keeps
its service and code, goes to a physician reviewer, and every output knows the decision."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from conftest import ROOT
from dli_check import evaluate
from dli_check.cli.commands import app
from dli_check.exit_codes import EXIT_NOT_APPROVED
from dli_check.outputs.schemas import record_json_schema

EXAMPLE = ROOT / "examples" / "cases" / "dli-before-the-first-version.json"
runner = CliRunner()


def test_the_line_keeps_its_service_and_is_referred() -> None:
    result = evaluate(EXAMPLE)
    (line,) = result.services
    assert (result.decision, line.service, line.code, line.decision, line.action) == (
        "no_version_in_effect",
        "donor_lymphocyte_infusion",
        "38242",
        "no_version_in_effect",
        "refer_to_clinical_reviewer",
    )
    (reason,) = line.reasons
    assert (reason.criterion, reason.status) == ("in-effect-on-the-date-of-service", "not_met")
    assert reason.explanation.startswith(
        "No version of CG-TRANS-03 loaded here was in effect on 2023-06-27, the date of service: "
        "the versions loaded are in effect 2023-06-28 to now."
    )


def test_the_reviewer_sees_it_in_words() -> None:
    result = runner.invoke(app, ["check", str(EXAMPLE)])
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Case EX-020: NO VERSION OF CG-TRANS-03 IN EFFECT HERE")
    assert lines[2] == (
        "1. 2023-06-27 donor_lymphocyte_infusion (38242): NO VERSION OF CG-TRANS-03 IN EFFECT HERE -> refer "
        "to a physician reviewer (a recommendation, not a denial)"
    )


def test_fail_unless_approved_fails() -> None:
    result = runner.invoke(app, ["check", str(EXAMPLE), "--fail-unless-approved"])
    assert result.exit_code == EXIT_NOT_APPROVED


def test_batch_summary_csv_and_schema_know_it(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(EXAMPLE, cases)
    output = tmp_path / "out.csv"
    result = runner.invoke(app, ["batch", str(cases), "-o", str(output), "--format", "csv"])
    assert result.exit_code == 0
    assert "no_version_in_effect" in result.stderr
    (row,) = csv.DictReader(io.StringIO(output.read_text()))
    assert (row["case_decision"], row["decision"], row["action"], row["not_met"]) == (
        "no_version_in_effect",
        "no_version_in_effect",
        "refer_to_clinical_reviewer",
        "in-effect-on-the-date-of-service",
    )
    schema = json.dumps(record_json_schema())
    assert schema.count('"no_version_in_effect"') >= 2  # the case's and the line's decision
