"""Rule-file test suites: the bundled suite passes with full coverage; a failing test is
reported as exact differences; gaps in coverage are named; a bad suite is located."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from conftest import ROOT
from dli_check.batch.suites import run_suite
from dli_check.cli.commands import app

runner = CliRunner()
RULES = ROOT / "rules" / "cg-trans-03.yaml"
AML = ROOT / "examples" / "cases" / "dli-relapsed-aml.json"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_bundled_suite_passes_with_full_coverage() -> None:
    suite = ROOT / "rules" / "cg-trans-03.tests.yaml"
    tests = len(yaml.safe_load(suite.read_text(encoding="utf-8"))["tests"])
    report = run_suite(suite)
    assert report.failures == []
    assert report.passed == tests
    assert report.coverage.gaps() == []
    assert report.coverage.percent == 100.0
    code, out, _ = run("rules", "test", str(ROOT / "rules"), "--min-coverage", "100")
    assert code == 0
    assert out.endswith(f"{tests} tests, {tests} passed, 0 failed; coverage 100.0% of {RULES}\n")


def _suite(tmp_path: Path, text: str) -> Path:
    (tmp_path / "cg-trans-03.yaml").write_bytes(RULES.read_bytes())
    path = tmp_path / "cg-trans-03.tests.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_failures_are_exact_differences_and_gaps_are_named(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        "tests:\n"
        f"  - name: relapsed AML\n    case: {json.dumps(str(AML))}\n"
        "    expect:\n      decision: not_medically_necessary\n"
        "      lines: [{service: lymphocyte_collection_cryopreservation, decision: medically_necessary,"
        " criteria: {same-donor: not_met}, missing: [x]}]\n"
        "  - name: no services\n    case: {case_id: X}\n"
        '    expect: {error: "services: is required but missing"}\n',
    )
    code, out, _ = run("rules", "test", str(tmp_path / "cg-trans-03.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert (
        lines[0]
        == f"{path}: 2 tests, 1 passed, 1 failed; coverage 19.1% of {tmp_path / 'cg-trans-03.yaml'}"
    )
    assert lines[1:5] == [
        "  FAIL relapsed AML: decision: expected not_medically_necessary, got medically_necessary",
        "  FAIL relapsed AML: services[0].service: expected lymphocyte_collection_cryopreservation,"
        " got donor_lymphocyte_infusion",
        "  FAIL relapsed AML: services[0].same-donor: expected not_met, got met",
        '  FAIL relapsed AML: services[0].missing: expected ["x"], got []',
    ]
    assert "  not covered: donor_lymphocyte_infusion same-donor: never not_met or unknown" in lines
    assert (
        "  not covered: genetic_modification_of_donor_lymphocytes: never decided not_medically_necessary"
        in lines
    )


def test_min_coverage_turns_gaps_into_failures(tmp_path: Path) -> None:
    _suite(
        tmp_path,
        f"tests:\n  - name: AML\n    case: {json.dumps(str(AML))}\n"
        "    expect: {decision: medically_necessary}\n",
    )
    assert run("rules", "test", str(tmp_path))[0] == 0
    assert run("rules", "test", str(tmp_path), "--min-coverage", "90")[0] == 1


def test_a_bad_suite_is_located(tmp_path: Path) -> None:
    path = _suite(tmp_path, "tests:\n  - name: x\n    case: {}\n    expect: {decision: fine}\n")
    code, _, err = run("rules", "test", str(path))
    assert code == 2
    assert err == (
        f"dli-check: {path}:4:24: tests[0].expect.decision: must be one of: "
        "'medically_necessary', 'not_medically_necessary', 'insufficient_information', "
        "'no_version_in_effect', 'not_applicable'\n"
    )


def test_the_suite_has_a_json_schema() -> None:
    code, out, _ = run("schema", "tests")
    assert code == 0
    assert json.loads(out)["title"] == "Suite"


def test_an_expected_error_is_its_message_and_its_place_is_apart(tmp_path: Path) -> None:
    case = tmp_path / "bad.json"
    case.write_text('{"case_id": "X",\n "services": []}\n', encoding="utf-8")
    rows = [
        ('{error: "services: must not be empty"}', None),  # the message alone
        ('{error: "2:14: services: must not be empty"}', None),  # with its place, as before
        ('{error: "services: must not be empty", at: "2:14"}', None),
        ('{error: "services: must not be empty", at: "1:1"}', "error at: expected 1:1, got 2:14"),
        (
            '{error: "services: is required"}',
            "error: expected 'services: is required', got 'services: must not be empty'",
        ),
    ]
    tests = "".join(
        f"  - name: t{i}\n    case: {json.dumps(str(case))}\n    expect: {expect}\n"
        for i, (expect, _) in enumerate(rows)
    )
    path = _suite(tmp_path, "tests:\n" + tests)
    report = run_suite(path)
    assert report.failures == [
        (f"t{i}", [said]) for i, (_, said) in enumerate(rows) if said is not None
    ]
