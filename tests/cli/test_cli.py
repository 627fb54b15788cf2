"""The dli-check command, through Typer's test runner and once as a real process."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import BASE_CASE, DATA, ROOT, mutate
from dli_check import evaluate
from dli_check.cli.commands import app
from dli_check.outputs.csv import CSV_COLUMNS

EXAMPLES = ROOT / "examples" / "cases"
AML = EXAMPLES / "dli-relapsed-aml.json"
AUTOLOGOUS = EXAMPLES / "dli-after-autologous-transplant.json"
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_the_decision_for_a_person() -> None:
    code, out, err = run(str(AML))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Case EX-001: MEETS CG-TRANS-03  (CG-TRANS-03, last reviewed 2023-05-11)"
    assert lines[2] == (
        "1. 2025-09-02 donor_lymphocyte_infusion (38242): MEETS CG-TRANS-03 -> approve (medical necessity "
        "only: the member's benefits decide coverage)"
    )
    assert lines[3] == (
        "   CG-TRANS-03 was last reviewed on 2023-05-11, more than 12 months before this date of "
        "service: it may have been revised since; check that this version is the one in effect"
    )
    assert lines[4].startswith(
        "   yes     transplant allogeneic (transplant-allogeneic, judged on transplants[0]): The "
        "transplant was allogeneic"
    )
    assert "✓" not in out  # plain text when not a terminal


def test_check_shows_unmet_and_unknown_criteria() -> None:
    code, out, _ = run(str(EXAMPLES / "dli-missing-information.json"))
    assert code == 0
    assert (
        "   unknown transplant medically necessary (transplant-medically-necessary, judged on "
        "transplants[0]): The transplant itself was medically necessary." in out
    )
    assert "           missing: transplants[0].medically_necessary" in out
    # Information needed: each missing fact by its question, with its path.
    assert out.splitlines()[-4:] == [
        "   Information needed:",
        "   - Was the transplant itself medically necessary? [transplants[0].medically_necessary]",
        "   - Who donated the lymphocytes for the infusion (donor id)? "
        "[services[0].lymphocyte_donor_id]",
        "   - Who donated the cells for the transplant (donor id)? [transplants[0].donor_id]",
    ]
    code, out, _ = run(str(AUTOLOGOUS))
    assert (
        "   no      transplant allogeneic (transplant-allogeneic, judged on transplants[0]):" in out
    )
    assert (
        ": DOES NOT MEET CG-TRANS-03 -> refer to a physician reviewer (a recommendation, "
        "not a denial)" in out
    )


def test_check_json_is_the_library_result() -> None:
    code, out, _ = run(str(AML), "--format", "json")
    assert code == 0
    assert out == evaluate(AML).to_json() + "\n"


def test_check_reads_stdin() -> None:
    code, out, _ = run("-", "--format", "json", stdin=json.dumps(BASE_CASE))
    assert code == 0
    assert json.loads(out)["decision"] == "medically_necessary"


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["-"],
            '{"case_id": 1, "services": []}',
            1,
            "dli-check: <stdin>:1:13: case_id: must be a string (and 1 more problem)",
        ),
        (
            ["-"],
            "{",
            1,
            "dli-check: <stdin>:1:2: invalid JSON: Expecting property name enclosed in double quotes",
        ),
        (["absent.json"], None, 2, "dli-check: absent.json: no such file"),
        (
            [str(AML), "--rules", "absent.yaml"],
            None,
            2,
            "dli-check: absent.yaml:1:1: cannot read: No such file or directory",
        ),
    ],
)
def test_check_errors_are_one_line(
    args: list[str], stdin: str | None, code: int, message: str
) -> None:
    got, out, err = run(*args, stdin=stdin)
    assert (got, out, err) == (code, "", message + "\n")


@pytest.mark.parametrize(
    ("path", "code"), [(AML, 0), (AUTOLOGOUS, 3), (EXAMPLES / "dli-missing-information.json", 3)]
)
def test_fail_unless_approved(path: Path, code: int) -> None:
    assert run(str(path), "--fail-unless-approved")[0] == code
    assert run(str(path))[0] == 0


def test_check_with_another_rule_file(tmp_path: Path) -> None:
    case = mutate(
        {
            "transplants": [{"type": "autologous", "date": "2024-02-01", "indication": "C90.00"}],
            "patient.diagnoses": ["C90.01"],
            "services": [{"code": "38241", "date": "2024-03-01"}],
        }
    )
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    code, out, _ = run(str(path), "--rules", str(DATA / "made-up-guideline.yaml"))
    assert code == 0
    assert out.startswith(
        "Case T-1: MEETS TEST-BOOST-01  (TEST-BOOST-01, last reviewed 2024-01-15)"
    )


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    root = tmp_path / "cases"
    (root / "b").mkdir(parents=True)
    for path in sorted(EXAMPLES.glob("*.json"))[:3]:
        shutil.copy(path, root / path.name)
    (root / "b" / "broken.json").write_text('{"case_id": "BAD-1", "services": [], "x": 1}')
    (root / "b" / "not-json.json").write_text("{")
    (root / "notes.txt").write_text("not a case")
    return root


def test_batch_writes_one_record_per_input_in_path_order(case_dir: Path) -> None:
    code, out, err = run("batch", str(case_dir), "--quiet")
    assert code == 1  # two invalid cases
    records = [json.loads(line) for line in out.splitlines()]
    sources = [Path(r["source"]).relative_to(case_dir).as_posix() for r in records]
    assert sources == [
        "b/broken.json",
        "b/not-json.json",
        *sorted(p.name for p in EXAMPLES.glob("*.json"))[:3],
    ]
    assert records[0] == {
        "source": str(case_dir / "b" / "broken.json"),
        "case_id": "BAD-1",
        "error": {
            "kind": "invalid_case",
            "message": "1:38: the case has an unknown field (its key number 3) (and 1 more problem)",
            "problems": [
                {"path": "services", "message": "must not be empty", "line": 1, "column": 34},
                {
                    "path": "",
                    "message": "the case has an unknown field (its key number 3)",
                    "line": 1,
                    "column": 38,
                },
            ],
        },
        "rules_sha256": records[2]["provenance"]["rules_sha256"],
    }
    assert records[1]["error"] == {
        "kind": "invalid_json",
        "message": "1:2: invalid JSON: Expecting property name enclosed in double quotes",
        "problems": [
            {
                "path": "",
                "message": "invalid JSON: Expecting property name enclosed in double quotes",
                "line": 1,
                "column": 2,
            }
        ],
    }
    assert records[1]["case_id"] is None
    assert records[2]["decision"] == "medically_necessary"
    assert records[2]["provenance"]["guideline"]["id"] == "CG-TRANS-03"
    assert err == ""


def test_batch_output_does_not_depend_on_workers(case_dir: Path, tmp_path: Path) -> None:
    outputs = []
    for workers in ("1", "2", "3"):
        target = tmp_path / f"out-{workers}.jsonl"
        code, _, _ = run(
            "batch", str(case_dir), "--workers", workers, "--output", str(target), "--quiet"
        )
        assert code == 1
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0].count(b"\n") == 5


def test_batch_reads_json_lines(tmp_path: Path) -> None:
    source = tmp_path / "cases.jsonl"
    source.write_text(
        json.dumps(BASE_CASE) + "\n\n" + '{"case_id": "x"}\n' + json.dumps(BASE_CASE) + "\n"
    )
    code, out, _ = run("batch", str(source), "--quiet")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["source"] for r in records] == [f"{source}:1", f"{source}:3", f"{source}:4"]
    assert records[1]["error"]["message"] == "1:1: services: is required but missing"


def test_batch_csv(case_dir: Path) -> None:
    code, out, _ = run("batch", str(case_dir), "--format", "csv", "--quiet")
    assert code == 1
    rows = out.splitlines()
    assert rows[0] == ",".join(CSV_COLUMNS)
    assert rows[1].endswith(
        ",invalid_case,1:38: the case has an unknown field (its key number 3) (and 1 more problem)"
    )
    assert len(rows) == 1 + 5
    assert (
        ",EX-011,medically_necessary,0,lymphocyte_collection_cryopreservation,,medically_necessary,approve,,,,,"
        in rows[3]
    )


def test_batch_summary_goes_to_stderr(case_dir: Path) -> None:
    code, out, err = run("batch", str(case_dir))
    assert code == 1
    assert "dli-check batch" in err and "error: invalid_case" in err and "total" in err
    assert out.count("\n") == 5


@pytest.mark.parametrize("args", [["batch", "absent-dir"], ["batch", str(AML)]])
def test_batch_bad_input_path(args: list[str]) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.startswith("dli-check: ") and err.count("\n") == 1


def test_batch_fail_unless_approved(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(BASE_CASE))
    assert run("batch", str(tmp_path), "--quiet")[0] == 0
    (tmp_path / "b.json").write_text(json.dumps(mutate({"transplants.0.type": "autologous"})))
    assert run("batch", str(tmp_path), "--quiet")[0] == 0
    assert run("batch", str(tmp_path), "--quiet", "--fail-unless-approved")[0] == 3


def test_rules_validate() -> None:
    code, out, _ = run("rules", "validate", str(ROOT / "rules" / "cg-trans-03.yaml"))
    assert code == 0
    assert out.endswith(
        ": OK (CG-TRANS-03: 3 services, 14 criteria, 6 code sets; in effect 2023-06-28 to ...)\n"
    )


def test_rules_validate_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (DATA / "made-up-guideline.yaml").read_text()
    bad.write_text(
        text.replace("transplant.indication}", "nope}").replace(
            "decision: medically_necessary", "decision: x"
        )
    )
    code, out, err = run("rules", "validate", str(bad))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"dli-check: {bad}:46:30: services[0].criteria[3].condition.present: not a fact: facts are "
        "named record.field, e.g. patient.diagnoses",
        f"dli-check: {bad}:48:17: services[0].when_met.decision: must be one of: 'medically_necessary', "
        "'not_medically_necessary'",
    ]


def test_rules_show() -> None:
    code, out, _ = run("rules", "show")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "CG-TRANS-03: Donor Lymphocyte Infusion for Hematologic Malignancies"
    )
    assert "Donor lymphocyte infusion (donor_lymphocyte_infusion; CPT 38242)" in lines
    assert "      transplant.type is allogeneic" in lines
    assert "      any of:" in lines
    assert "        - transplant.conditioning is not given" in lines
    assert "  otherwise -> NOT MEDICALLY NECESSARY" in lines


def test_rules_show_mermaid() -> None:
    code, out, _ = run("rules", "show", "--format", "mermaid")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  s0["Donor lymphocyte infusion<br/>CPT 38242"]' in lines
    assert '  s0 --> s0c0{"transplant-allogeneic<br/>transplant.type is allogeneic"}' in lines
    assert "  s0c0 -->|not met| s0no" in lines
    assert (
        '  s0c0 -->|met or unknown| s0c1{"transplant-conditioning<br/>any of:<br/>  - transplant.conditioning is not given<br/>  - transplant.conditioning is one of myeloablative, non_myeloablative, reduced_intensity"}'
        in lines
    )
    assert '  s0c7 -->|all met| s0yes(["MEDICALLY NECESSARY"])' in lines
    # Three-valued: unknown criteria lead to insufficient information, not to a decision.
    assert '  s0c7 -->|some unknown, none not met| s0unknown(["INSUFFICIENT INFORMATION"])' in lines
    assert '  s0no(["NOT MEDICALLY NECESSARY"])' in lines


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("case", "A case for CG-TRANS-03"),
        ("result", "CaseResult"),
        ("record", "dli-check batch record"),
        ("rules", "RuleFile"),
    ],
)
def test_schema(kind: str, title: str) -> None:
    code, out, _ = run("schema", kind)
    assert code == 0
    document = json.loads(out)
    assert document["title"] == title


def test_case_schema_comes_from_the_rule_files_declarations() -> None:
    document = json.loads(run("schema", "case")[1])
    line = document["properties"]["services"]["items"]
    assert line["properties"]["service"]["enum"] == [
        "donor_lymphocyte_infusion",
        "lymphocyte_collection_cryopreservation",
        "genetic_modification_of_donor_lymphocytes",
    ]
    assert sorted(line["properties"]) == [
        "code",
        "date",
        "genetically_modified",
        "lymphocyte_donor_id",
        "modifiers",
        "service",
    ]
    transplant = document["properties"]["transplants"]["anyOf"][0]["items"]
    assert transplant["properties"]["type"] == {
        "anyOf": [{"enum": ["allogeneic", "autologous", "syngeneic"]}, {"type": "null"}],
        "description": "Whose cells were transplanted.",
    }
    booster = json.loads(run("schema", "case", "--rules", str(DATA / "made-up-guideline.yaml"))[1])
    assert booster["title"] == "A case for TEST-BOOST-01"
    assert "lymphocyte_donor_id" not in json.dumps(booster)


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out == (
        "dli-check 0.6.0\nCG-TRANS-03 (published 2023-06-28, last reviewed 2023-05-11)\n"
        "ICD-10-CM FY2026 (April 1, 2026 update) from simple-icd-10-cm 1.5.0; earlier: FY2021 "
        "(January 1, 2021 update), FY2025 (April 1, 2025 update)\n"
    )


def test_usage_error_exits_2() -> None:
    assert run("batch")[0] == 2
    assert run(str(AML), "--format", "yaml")[0] == 2


def test_installed_entry_point_on_examples(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "dli-check"
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [str(exe), "batch", str(EXAMPLES), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [
        json.loads((ROOT / "examples" / "expected" / p.name).read_text())
        for p in sorted(EXAMPLES.glob("*.json"))
    ]
    assert [{k: v for k, v in r.items() if k != "source"} for r in records] == expected
    module = subprocess.run(
        [sys.executable, "-m", "dli_check", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert module.returncode == 0 and module.stdout.startswith("dli-check 0.6.0\n")


def _entry_point(
    argv: list[str], before: str = "", after: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the console script's `main` with `argv` in a fresh Python, with code around it."""
    probe = (
        f"import sys\n{before}sys.argv = ['dli-check', *{argv!r}]\n"
        f"from dli_check.__main__ import main\nmain()\n{after}"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )


def test_version_probe_loads_no_parser_and_no_pydantic() -> None:
    """``--version`` is what monitors and installers call: it answers before Typer loads."""
    done = _entry_point(
        ["--version"],
        after="heavy = {'typer', 'click', 'pydantic', 'pydantic_core', 'rich', 'dli_check.cli.commands'}\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))\n",
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("dli-check 0.6.0\nCG-TRANS-03 (published 2023-06-28")
    assert done.stdout.endswith("\n[]\n")


@pytest.mark.parametrize(
    ("raised", "code", "stderr"),
    [
        (
            "ZeroDivisionError",
            70,
            "dli-check: internal error (ZeroDivisionError); please report it\n",
        ),
        ("KeyboardInterrupt", 130, ""),
    ],
)
@pytest.mark.parametrize(
    ("argv", "module", "name"),
    [
        (["case.json"], "dli_check.cli.one_case", "check_case"),  # the plain path, without Typer
        (["batch", "cases"], "dli_check.cli.commands", "app"),
    ],
)
def test_no_traceback_reaches_the_user(
    raised: str, code: int, stderr: str, argv: list[str], module: str, name: str
) -> None:
    """A bug anywhere below the entry point is one line and exit 70, never a traceback."""
    done = _entry_point(
        argv,
        before=f"import {module}\ndef broken(*args, **kwargs):\n    raise {raised}\n"
        f"{module}.{name} = broken\n",
    )
    assert (done.returncode, done.stdout, done.stderr) == (code, "", stderr)


def test_public_names_resolve() -> None:
    import dli_check

    assert sorted(dli_check.__all__) == sorted(["__version__", *dli_check._PUBLIC])
    for name in dli_check.__all__:
        assert getattr(dli_check, name) is not None


def test_batch_with_a_relative_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "examples")
    code, out, _ = run("batch", "cases", "--quiet")
    assert code == 0
    assert [json.loads(line)["source"] for line in out.splitlines()] == [
        f"cases/{p.name}" for p in sorted(EXAMPLES.glob("*.json"))
    ]


def test_batch_csv_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(mutate({"case_id": '=HYPERLINK("http://x","y")'})))
    (tmp_path / "b.json").write_text(json.dumps({"case_id": "@SUM(1)", "services": []}))
    code, out, _ = run("batch", str(tmp_path), "--format", "csv", "--quiet")
    assert code == 1
    rows = list(csv.reader(out.splitlines()))
    assert [row[1] for row in rows[1:]] == ['\'=HYPERLINK("http://x","y")', "'@SUM(1)"]


def test_rules_show_python_is_the_code_that_runs() -> None:
    # A snapshot: regenerate with `dli-check rules show --format python > tests/data/...`
    # after a deliberate change, and review the diff.
    code, out, _ = run("rules", "show", "--format", "python")
    assert code == 0
    assert out == (DATA / "cg-trans-03.python.txt").read_text(encoding="utf-8")
    assert "transplant_donor_id = rec['donor_id'] if rec is not None else None" in out
    assert "# _c0 = 'allogeneic'" in out


def test_a_traceback_through_generated_code_shows_its_lines() -> None:
    import traceback

    from dli_check import load_rules

    service = load_rules().services["donor_lymphocyte_infusion"]
    try:
        service.run(None, None, 0, None, 0)  # type: ignore[arg-type]
    except AttributeError:
        text = traceback.format_exc()
    assert re.search(r'File "<rules: donor_lymphocyte_infusion [0-9a-f]{12}>"', text)
    assert "service_date = line.facts['date']" in text


def test_each_generated_source_has_a_name_of_its_own() -> None:
    """Two rule sets never show each other's lines in a traceback (`linecache` names)."""
    import linecache

    from dli_check import load_rules

    names = set()
    for path in (ROOT / "rules" / "cg-trans-03.yaml", DATA / "cpap.yaml"):
        rules = load_rules(path)
        for service in rules.services.values():
            function = service.run
            names.add(function.__code__.co_filename)
        names.add(rules.case_format.run.__code__.co_filename)
    assert len(names) >= 4
    validators = [n for n in names if n.startswith("<dli-check case validator ")]
    assert len(validators) == 2
    for name in names:
        assert linecache.getlines(name), name
