"""``--detail decisions``: the compact record says what the full record says about each
line's decision, without reasons or quotes, and every tool that reads records (resume,
CSV, the decision diff, the record schema) reads it alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from dli_check import evaluate, load_rules
from dli_check.batch.diff import compare_records
from dli_check.batch.runner import Input, evaluate_input
from dli_check.cli.commands import app
from dli_check.outputs.csv import csv_rows
from dli_check.outputs.records import read_record
from dli_check.outputs.schemas import DecisionsRecord

EXAMPLES = sorted((ROOT / "examples" / "cases").glob("*.json"))
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def expected(full: dict[str, Any]) -> dict[str, Any]:
    """The decisions record, derived by hand from the full one."""

    def line(service: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]:
        statuses = [(r["criterion"], r["status"]) for r in service["reasons"]]
        return {
            "service": service["service"],
            "code": service["code"],
            "decision": service["decision"],
            "action": service["action"],
            "not_met": [c for c, s in statuses if s == "not_met"],
            "unknown": [c for c, s in statuses if s == "unknown"],
            "missing": service["missing"],
            "rules_sha256": service["version"] and service["version"]["rules_sha256"],
            "code_set_release": audit["code_set_release"],
        }

    return {
        "case_id": full["case_id"],
        "decision": full["decision"],
        "decision_id": full["decision_id"],
        "case_sha256": full["case_sha256"],
        "services": [
            line(s, a) for s, a in zip(full["services"], full["audit"]["lines"], strict=True)
        ],
        "rules_sha256": full["provenance"]["rules_sha256"],
        "engine_version": full["provenance"]["engine_version"],
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_decisions_record_says_what_the_full_record_says(path: Path) -> None:
    result = evaluate(path)
    compact = result.to_json(indent=None, detail="decisions")
    full = json.loads(result.to_json(indent=None))
    assert json.loads(compact) == expected(full) == result.decisions()
    assert "quote" not in compact and "explanation" not in compact
    assert json.loads(result.to_json(detail="decisions")) == expected(full)  # indented
    record = f'{{"source":"x",{compact[1:]}'
    DecisionsRecord.model_validate_json(record)  # the schema `dli-check schema record` gives
    compact_read = read_record(record)
    full_read = read_record(json.dumps({"source": "x", **full}))
    assert csv_rows(compact_read) == csv_rows(full_read)
    assert compact_read[2:4] == full_read[2:4]  # case id and decision
    assert [line._replace(met=None) for line in full_read.lines] == list(compact_read.lines)
    assert compare_records(full_read, compact_read) == []


def test_a_changed_criterion_shows_in_the_diff_of_decisions_records() -> None:
    rules = load_rules()
    met, unmet = (
        read_record(f'{{"source":"x",{evaluate(ROOT / path, rules).to_json(indent=None)[1:]}')
        for path in (
            "examples/cases/dli-relapsed-aml.json",
            "examples/cases/dli-different-donor.json",
        )
    )
    (change,) = compare_records(met, unmet)
    assert change.criteria == (("same-donor", "met", "not_met"),)


def test_a_worker_makes_the_record_it_is_asked_for() -> None:
    raw = (ROOT / "examples/cases/dli-missing-information.json").read_bytes()
    item = Input("case.json", None, raw)
    record = evaluate_input(item, load_rules(), "decisions")
    assert json.loads(record.json)["services"][0]["unknown"] == [
        "transplant-medically-necessary",
        "same-donor",
    ]
    full = evaluate_input(item, load_rules(), "full")
    assert record.lines == tuple(line._replace(met=None) for line in full.lines)


@pytest.mark.parametrize("detail", ["full", "decisions"])
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_a_record_read_back_is_the_record_written(path: Path, detail: Any) -> None:
    record = evaluate_input(Input(path.name, None, path.read_bytes()), load_rules(), detail)
    assert read_record(record.json) == record


def test_an_error_record_read_back_is_the_record_written() -> None:
    record = evaluate_input(Input("bad.json", None, b"{"), load_rules())
    assert record.error is not None and record.error[0] == "invalid_json"
    assert read_record(record.json.encode()) == record


def test_batch_writes_decisions_records_and_resumes_only_the_same_detail(tmp_path: Path) -> None:
    cases = tmp_path / "in"
    cases.mkdir()
    for path in EXAMPLES[:4]:
        shutil.copy(path, cases)
    output = tmp_path / "out.jsonl"
    code, _, _ = run("batch", str(cases), "-o", str(output), "--detail", "decisions", "-q")
    assert code == 0
    records = output.read_text().splitlines()
    assert [json.loads(r)["source"] for r in records] == [str(cases / p.name) for p in EXAMPLES[:4]]
    assert all(DecisionsRecord.model_validate_json(r) for r in records)
    code, _, err = run("batch", str(cases), "-o", str(output), "--resume")
    assert (code, err) == (
        2,
        f"dli-check: {output}: was made by another run: --detail decisions (this run: full)\n",
    )
    code, _, _ = run("batch", str(cases), "-o", str(output), "--resume", "--detail", "decisions")
    assert code == 0 and output.read_text().splitlines() == records


def test_csv_is_the_same_whatever_the_detail(tmp_path: Path) -> None:
    cases = tmp_path / "in"
    cases.mkdir()
    for path in EXAMPLES:
        shutil.copy(path, cases)
    outputs = []
    for detail in ("full", "decisions"):
        output = tmp_path / f"{detail}.csv"
        run("batch", str(cases), "-f", "csv", "-o", str(output), "--detail", detail, "-q")
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") > len(EXAMPLES)


@pytest.mark.parametrize(
    ("args", "code", "out_start", "err"),
    [
        (
            ["--detail", "decisions", "--format", "json"],
            0,
            '{\n  "case_id": "EX-001",\n  "decision": "medically_necessary",',
            "",
        ),
        (["--detail", "decisions"], 2, "", "dli-check: --detail decisions needs --format json\n"),
        (["--detail", "some"], 2, "", None),
    ],
)
def test_one_case_with_detail(args: list[str], code: int, out_start: str, err: str | None) -> None:
    got_code, out, got_err = run(str(ROOT / "examples/cases/dli-relapsed-aml.json"), *args)
    assert got_code == code and out.startswith(out_start)
    if err is not None:
        assert got_err == err
