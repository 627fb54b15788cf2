"""Data safety: no input is ever destroyed, every record is whole, no case content reaches
an error or a terminal, and CSV cells are inert. Each test is named for the failure it
prevents."""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from conftest import BASE_CASE, ROOT, mutate
from dli_check import CaseError, evaluate, load_rules
from dli_check.batch.runner import list_inputs, run_batch
from dli_check.cli.commands import app
from dli_check.engine import rules as engine
from dli_check.outputs.csv import CSV_COLUMNS
from dli_check.outputs.schemas import ErrorRecord, ResultRecord
from dli_check.outputs.writer import open_output

runner = CliRunner()
EXE = str(Path(sys.executable).parent / "dli-check")
RULES = ROOT / "rules" / "cg-trans-03.yaml"
SECRET = "Jane Doe DOB 1970"


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def write_cases(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"case-{i:04d}.json").write_text(json.dumps(mutate({"case_id": f"c{i}"})))


def jsonl_of(count: int) -> str:
    return "".join(json.dumps(mutate({"case_id": f"c{i}"})) + "\n" for i in range(count))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(".*.partial"))


# 1. An output that is an input is refused, with nothing touched.


def test_output_that_is_the_jsonl_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl_of(3))
    before = source.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(source)
    for output in (source, link):
        code, out, err = run("batch", str(source), "-o", str(output))
        assert (code, out) == (2, "")
        assert err == (
            f"dli-check: {output}: is the same file as {source}, an input; "
            "refusing to overwrite it\n"
        )
    assert source.read_bytes() == before


@pytest.mark.parametrize("how", ["same path", "hard link", "symbolic link", "--resume"])
def test_output_that_is_a_case_of_the_input_directory_is_refused(tmp_path: Path, how: str) -> None:
    write_cases(tmp_path / "in", 3)
    case = tmp_path / "in" / "case-0001.json"
    before = case.read_bytes()
    output = case
    if how == "hard link":
        output = tmp_path / "hard.json"
        os.link(case, output)
    elif how == "symbolic link":
        output = tmp_path / "soft.json"
        output.symlink_to(case)
    extra = ["--resume"] if how == "--resume" else []
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(output), "--quiet", *extra)
    assert code == 2
    assert err == (
        f"dli-check: {output}: is the same file as {case}, an input; refusing to overwrite it\n"
    )
    assert case.read_bytes() == before


def test_output_that_is_the_rule_file_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(RULES.read_bytes())
    write_cases(tmp_path / "in", 1)
    code, _, err = run("batch", str(tmp_path / "in"), "--rules", str(rules), "-o", str(rules))
    assert code == 2
    assert err == (
        f"dli-check: {rules}: is the same file as the rule file; refusing to overwrite it\n"
    )
    assert rules.read_bytes() == RULES.read_bytes()


def test_a_failed_run_leaves_the_old_output_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cases(tmp_path / "in", 600)
    output = tmp_path / "out.jsonl"
    output.write_text("last night's results\n")
    output.chmod(0o640)
    real_write = os.write
    calls = [0]

    def full_disk(fd: int, data: Any) -> int:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(output), "-w", "1", "--quiet")
    assert (code, err) == (4, f"dli-check: {output}: cannot write: No space left on device\n")
    assert output.read_text() == "last night's results\n"
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    assert run("batch", str(tmp_path / "in"), "-o", str(output), "--quiet")[0] == 0
    assert len(output.read_text().splitlines()) == 600
    assert stat.S_IMODE(output.stat().st_mode) == 0o640  # the new file keeps the old mode


def test_dev_null_is_written_to_not_replaced(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 2)
    assert run("batch", str(tmp_path / "in"), "-o", os.devnull, "--quiet")[0] == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_failed_write_is_cut_back_to_the_last_whole_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(b'{"whole":1}\n')
    output = open_output(str(target), append=True)
    real_write = os.write

    def short_then_full(fd: int, data: Any) -> int:
        if len(data) > 5:
            return real_write(fd, bytes(data[:5]))  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(OSError, match="No space left"):
        output.write(b'{"record":2}\n')
    monkeypatch.undo()
    output.abandon()
    assert target.read_bytes() == b'{"whole":1}\n'


# 2. Short writes: every record whole on a non-blocking pipe.


def test_every_record_is_whole_on_a_non_blocking_pipe(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl_of(2000))
    process = subprocess.Popen(
        [EXE, "batch", str(source), "-w", "1", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: os.set_blocking(1, False),  # the pipe the child writes to
    )
    assert process.stdout is not None
    time.sleep(0.5)  # let the pipe fill: writes would come back short or EAGAIN
    out = process.stdout.read()
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, b"")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["case_id"] for r in records] == [f"c{i}" for i in range(2000)]


# 3. A case that exhausts memory costs only itself.


def _memory_hog(case: Any, rules: Any) -> Any:
    if case.case_id == "c2":
        raise MemoryError
    return ORIGINAL_DECIDE(case, rules)


ORIGINAL_DECIDE = engine.decide


@pytest.mark.parametrize("workers", [1, 2])
def test_memory_error_costs_only_its_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    write_cases(tmp_path, 600)
    monkeypatch.setattr(engine, "decide", _memory_hog)  # forked workers inherit it
    records = list(run_batch(list_inputs(tmp_path), workers=workers))
    assert len(records) == 600
    assert [r.error_kind for r in records if r.error_kind] == ["too_large"]
    assert json.loads(records[2].json)["error"]["message"] == (
        "the case needs more memory than there is"
    )


# 4. SIGTERM stops like Ctrl-C; workers never outlive their parent.


def _wait_for_records(directory: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.stat().st_size for p in directory.glob(".*.partial") if ".run." not in p.name):
            return
        time.sleep(0.02)
    raise AssertionError("no records were written")


def test_sigterm_stops_with_whole_records_and_exit_143(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl_of(20000))
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [EXE, "batch", str(source), "-o", str(output), "-w", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for_records(tmp_path)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    done = [json.loads(line)["case_id"] for line in output.read_text().splitlines()]
    assert 0 < len(done) < 20000 and done == [f"c{i}" for i in range(len(done))]
    assert "not evaluated (interrupted)" in err.decode() and "Traceback" not in err.decode()
    # What was written is a run that --resume continues to the same bytes as one run.
    code, _, _ = run("batch", str(source), "-o", str(output), "--resume", "--quiet")
    assert code == 0
    full = tmp_path / "full.jsonl"
    run("batch", str(source), "-o", str(full), "--quiet")
    assert output.read_bytes() == full.read_bytes()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl_of(20000))
    process = subprocess.Popen(
        [EXE, "batch", str(source), "-o", str(tmp_path / "out.jsonl"), "-w", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_records(tmp_path)
    workers = _children(process.pid)
    assert workers
    process.kill()
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()]
    for pid in alive:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert alive == []


# 5. One rule file per run, read once.


def test_workers_use_the_rules_the_run_started_with(tmp_path: Path) -> None:
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_bytes(RULES.read_bytes())
    rules = load_rules(rule_file)
    rule_file.write_text("edited: [mid-run")  # invalid now: a worker reading it would fail
    write_cases(tmp_path / "in", 8)
    records = list(run_batch(list_inputs(tmp_path / "in"), rules, workers=2))
    assert [r.error_kind for r in records] == [None] * 8
    shas = {json.loads(r.json)["provenance"]["rules_sha256"] for r in records if r.decision}
    assert shas == {rules.sha256}


# 6. --resume continues the same run, or refuses.


def test_resume_with_an_absolute_path_after_a_relative_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cases(tmp_path / "in", 30)
    monkeypatch.chdir(tmp_path)
    full = tmp_path / "full.jsonl"
    run("batch", "in", "-o", str(full), "--quiet")
    crashed = tmp_path / "crashed.jsonl"
    data = full.read_bytes()
    crashed.write_bytes(data[: data.index(b"\n", len(data) // 2) + 1])
    (tmp_path / "crashed.jsonl.run").write_bytes((tmp_path / "full.jsonl.run").read_bytes())
    code, _, _ = run("batch", str(tmp_path / "in"), "-o", str(crashed), "--resume", "--quiet")
    assert code == 0
    assert crashed.read_bytes() == data  # no duplicates, sources spelt as the run began


def test_resume_with_other_rules_is_refused(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 3)
    output = tmp_path / "out.jsonl"
    run("batch", str(tmp_path / "in"), "-o", str(output), "--quiet")
    before = output.read_bytes()
    other = tmp_path / "other.yaml"
    other.write_text(RULES.read_text() + "\n# edited\n")
    code, _, err = run(
        "batch", str(tmp_path / "in"), "-o", str(output), "--resume", "--rules", str(other)
    )
    assert code == 2
    assert err.startswith(f"dli-check: {output}: was made by another run: rules sha256 ")
    assert output.read_bytes() == before


def test_resume_of_another_input_is_refused(tmp_path: Path) -> None:
    write_cases(tmp_path / "a", 2)
    write_cases(tmp_path / "b", 2)
    output = tmp_path / "out.jsonl"
    run("batch", str(tmp_path / "a"), "-o", str(output), "--quiet")
    code, _, err = run("batch", str(tmp_path / "b"), "-o", str(output), "--resume")
    assert code == 2
    assert err == (
        f"dli-check: {output}: was made by another run: input {tmp_path / 'a'} "
        f"(this run: {tmp_path / 'b'})\n"
    )


# 8 and 13. CSV: every cell inert, every row as wide as the header.


def test_csv_cells_cannot_break_rows_or_run_as_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = tmp_path / "in"
    cases.mkdir()
    (cases / "a.json").write_text(json.dumps(mutate({"case_id": "ok\r=1+1"})))
    (cases / "b.json").write_text(json.dumps({"case_id": "=HYPERLINK(1)", "services": []}))
    (cases / "c.json").write_text('{"case_id": "lone \\udc80 surrogate", "services": []}')
    (cases / "=SUM(1).json").write_text(json.dumps(BASE_CASE))
    os.mkdir(os.fsencode(cases) + b"/\xff-not-utf8")
    (Path(os.fsdecode(os.fsencode(cases) + b"/\xff-not-utf8")) / "d.json").write_text(
        json.dumps(BASE_CASE)
    )
    monkeypatch.chdir(cases)
    code, out, err = run("batch", ".", "--format", "csv", "--quiet")
    assert code == 1, err
    assert "\r" not in out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert all(list(row) == CSV_COLUMNS and None not in row.values() for row in rows)
    by_source = {row["source"]: row for row in rows}
    assert set(by_source) == {
        "'=SUM(1).json",
        "a.json",
        "b.json",
        "c.json",
        "\\udcff-not-utf8/d.json",
    }
    assert by_source["a.json"]["case_id"] == "ok\\r=1+1"
    assert by_source["b.json"]["case_id"] == "'=HYPERLINK(1)"
    assert by_source["b.json"]["error_kind"] == "invalid_case"
    assert by_source["c.json"]["case_id"] == "lone \\udc80 surrogate"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_jsonl_keeps_surrogates_and_odd_file_names_as_json_escapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xff"))
    directory.mkdir()
    (directory / "c.json").write_text('{"case_id": "x\\udc80", "services": []}')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("batch", ".", "--quiet")
    assert code == 1
    assert out.isascii()
    record = json.loads(out)
    assert (record["source"], record["case_id"]) == ("\udcff/c.json", "x\udc80")


# 9. No case content in errors.


def test_unknown_field_names_are_never_echoed() -> None:
    key = f"{SECRET}\n\x1b[31m"
    with pytest.raises(CaseError) as caught:
        evaluate(json.dumps({**BASE_CASE, "transplants": [{"type": "allogeneic", key: 1}]}))
    assert str(caught.value) == (
        "<case>:1:107: transplants[0]: has an unknown field (its key number 2)"
    )
    assert caught.value.problems[0].path == ("transplants", 0)


def test_duplicate_keys_are_located_and_named_only_when_declared() -> None:
    text = '{"case_id": "a",\n "patient": {"' + SECRET + '": 1, "' + SECRET + '": 2}}'
    with pytest.raises(CaseError) as caught:
        evaluate(text)
    assert str(caught.value) == "<case>:2:38: patient: duplicate key in a JSON object"


@pytest.mark.parametrize(
    "case",
    [
        json.dumps({**BASE_CASE, "case_id": 1, "note": SECRET}),
        json.dumps({**BASE_CASE, "case_id": 1, "note": SECRET}).encode(),
        "\n  " + json.dumps({**BASE_CASE, "case_id": 1}),
    ],
    ids=["text", "bytes", "text with leading space"],
)
def test_json_text_is_read_as_a_case_not_as_a_path(case: str | bytes) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(case)
    assert str(caught.value).startswith("<case>:")
    assert SECRET not in str(caught.value) and "T-1" not in str(caught.value)
    assert evaluate(json.dumps(BASE_CASE)).decision == "medically_necessary"
    assert evaluate(json.dumps(BASE_CASE).encode()).decision == "medically_necessary"


# 10. Nothing in a case can draw on the reviewer's terminal.


def test_case_text_cannot_forge_terminal_output(tmp_path: Path) -> None:
    forged = "x\n\n1. donor_lymphocyte_infusion: \x1b[32mMEDICALLY NECESSARY -> approve\x1b[0m"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(mutate({"case_id": forged, "transplants.0.type": "autologous"})))
    code, out, _ = run(str(path))
    assert code == 0
    assert "\x1b" not in out
    assert out.splitlines()[0].startswith(
        "Case x\\n\\n1. donor_lymphocyte_infusion: \\x1b[32mMEDICALLY NECESSARY -> approve"
    )
    assert out.count("MEDICALLY NECESSARY -> approve") == 1  # only inside the escaped id


def test_file_names_cannot_forge_error_lines(tmp_path: Path) -> None:
    path = tmp_path / "a\nb\x1b[2J.json"
    path.write_text("{")
    code, _, err = run(str(path))
    assert code == 1
    assert err.count("\n") == 1 and "\x1b" not in err
    assert (
        err
        == f"dli-check: {tmp_path}/a\\nb\\x1b[2J.json:1:2: invalid JSON: Expecting property name enclosed in double quotes\n"
    )


# 11. Blank and placeholder identifiers; codes in ASCII only.


@pytest.mark.parametrize(
    ("donor", "expected"),
    [
        (" ", "services[0].lymphocyte_donor_id: must not be blank"),
        ("\u200b", "services[0].lymphocyte_donor_id: must not be blank"),
        ("\t\u2060 ", "services[0].lymphocyte_donor_id: must not be blank"),
        ("", "services[0].lymphocyte_donor_id: must not be empty"),
    ],
)
def test_blank_donor_ids_are_refused(donor: str, expected: str) -> None:
    case = mutate({"transplants.0.donor_id": donor, "services.0.lymphocyte_donor_id": donor})
    with pytest.raises(CaseError) as caught:
        evaluate(case)
    assert caught.value.path == "transplants[0].donor_id"
    assert [str(p) for p in caught.value.problems] == [
        expected.replace("services[0].lymphocyte_donor_id", "transplants[0].donor_id"),
        expected,
    ]


PLACEHOLDER_IDS = [
    *("N/A", "n/a", "unknown", " Unknown ", "NONE", "TBD"),
    # No letter or digit once normalised; placeholder words written with punctuation.
    *("n / a", "N.A.", "n-a", "Not-Known", "not_available", "U.N.K.", "nil.", "(null)"),
    *("--", "??", "-", "?", "...", "***", "#", "/", "_", "()", "\u3164", "\uffa0"),
    *("\u2014", "\u2800", "\uff0d\uff0d", "\u30fb", "N\u200b/A", "\uff2e\uff0f\uff21"),
]


@pytest.mark.parametrize("placeholder", PLACEHOLDER_IDS)
def test_placeholder_donor_ids_are_absent_not_a_match(placeholder: str) -> None:
    case = mutate(
        {"transplants.0.donor_id": placeholder, "services.0.lymphocyte_donor_id": placeholder}
    )
    line = evaluate(case).services[0]
    assert line.decision == "insufficient_information"
    assert line.missing == ("services[0].lymphocyte_donor_id", "transplants[0].donor_id")


@pytest.mark.parametrize("donor", ["D-1", "d1", "NA-1", "none2", "\u3164D", "\u0661"])
def test_ids_with_a_letter_or_digit_are_ids(donor: str) -> None:
    case = mutate({"transplants.0.donor_id": donor, "services.0.lymphocyte_donor_id": donor})
    assert evaluate(case).services[0].decision == "medically_necessary"


@pytest.mark.parametrize(
    "code",
    ["\u0131" + "10", "\u017f02.0XXA", "\tC92.00", "C92.00\u00a0", "\x00C92.00", "C92.00\n"],
    ids=["dotless i", "long s", "tab", "no-break space", "NUL", "newline"],
)
def test_codes_must_be_ascii(code: str) -> None:
    with pytest.raises(CaseError) as caught:
        evaluate(mutate({"patient.diagnoses": [code]}))
    assert str(caught.value) == (
        "<case>: patient.diagnoses[0]: not shaped like an ICD-10-CM code (e.g. C92.00)"
    )


def test_ascii_spaces_around_a_code_are_fine() -> None:
    assert evaluate(mutate({"patient.diagnoses": [" c92.02 ", "Z94.84"]})).decision == (
        "medically_necessary"
    )


# 12. Work and input per case are bounded.


def test_a_claim_of_a_thousand_codes_gives_few_notes() -> None:
    codes = [f"C92.{a}{b}" for a in "0123456" for b in "012"][:20] * 50
    case = mutate({"patient.diagnoses": codes})
    case["services"] = [dict(BASE_CASE["services"][0]) for _ in range(1000)]
    result = evaluate(case)
    reason = next(r for r in result.services[0].reasons if r.criterion == "diagnosis-listed")
    assert len(reason.notes) == 6
    assert reason.notes[-1] == "and 15 more like these"
    # The audit names what each line read (about 1.2 KB a line); the codes, once.
    assert len(result.to_json(indent=None)) < 8_000_000


def test_standard_input_is_read_up_to_the_limit() -> None:
    code, _, err = run("-", stdin=b"{" + b" " * (2 * 1024 * 1024))
    assert (code, err) == (1, "dli-check: <stdin>: larger than the 1024 KiB limit\n")


def test_an_over_long_json_lines_line_is_one_error_record(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    long = json.dumps({"case_id": "x", "pad": "y" * (3 * 1024 * 1024)})
    source.write_text(json.dumps(BASE_CASE) + "\n" + long + "\n\n" + json.dumps(BASE_CASE))
    found = list_inputs(source)
    assert found.total == 3
    records = [json.loads(r.json) for r in run_batch(found)]
    assert [r["source"] for r in records] == [f"{source}:1", f"{source}:2", f"{source}:4"]
    assert [r.get("error", {}).get("kind") for r in records] == [None, "too_large", None]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_rules_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "rules.yaml"
    os.mkfifo(fifo)
    code, _, err = run("rules", "validate", str(fifo))
    assert (code, err) == (2, f"dli-check: {fifo}:1:1: cannot read: not a regular file\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("swap", ["fifo", "symbolic link", "another file"])
def test_a_case_swapped_after_listing_is_not_read(tmp_path: Path, swap: str) -> None:
    write_cases(tmp_path / "in", 2)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(mutate({"case_id": SECRET})))
    found = list_inputs(tmp_path / "in")
    target = tmp_path / "in" / "case-0001.json"
    target.unlink()
    if swap == "fifo":
        os.mkfifo(target)
    elif swap == "symbolic link":
        target.symlink_to(outside)
    else:
        os.link(outside, target)
    records = [json.loads(r.json) for r in run_batch(found)]
    assert (
        records[1]["error"]["message"]
        == {
            "fifo": "cannot read: not a regular file",
            "symbolic link": "cannot read: a symbolic link",
            "another file": "cannot read: the file changed after it was listed",
        }[swap]
    )
    assert SECRET not in json.dumps(records)


# 14. Every problem is kept, with its path.


def test_case_error_keeps_every_problem() -> None:
    case = mutate(
        {
            "transplants.0.type": "allo",
            "transplants.0.date": "2025-02-30",
            "services.0.date": 3,
            "patient.diagnoses": ["X"],
        }
    )
    with pytest.raises(CaseError) as caught:
        evaluate(case)
    assert [str(p) for p in caught.value.problems] == [
        "patient.diagnoses[0]: not shaped like an ICD-10-CM code (e.g. C92.00)",
        "transplants[0].type: must be one of: 'allogeneic', 'autologous', 'syngeneic'",
        "transplants[0].date: not a calendar date",
        "services[0].date: must be an ISO date (YYYY-MM-DD)",
    ]
    assert str(caught.value) == (
        "<case>: patient.diagnoses[0]: not shaped like an ICD-10-CM code (e.g. C92.00) "
        "(and 3 more problems)"
    )


# 16. What the documentation promises.


def test_null_genetically_modified_means_false() -> None:
    case = mutate({"services.0.genetically_modified": None})
    assert evaluate(case).decision == "medically_necessary"


@pytest.mark.parametrize("rules", ["", 0, False, b"rules/cg-trans-03.yaml"])
def test_rules_must_be_loaded_rules_a_path_or_none(rules: Any) -> None:
    with pytest.raises(TypeError, match="rules must be a Rules from load_rules"):
        evaluate(BASE_CASE, rules)


# 17. Packaging: typed, licensed, and a schema for batch records.


def test_the_package_is_typed_and_licensed() -> None:
    import dli_check

    assert (Path(dli_check.__file__).parent / "py.typed").exists()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_every_batch_record_matches_the_record_schema(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 2)
    (tmp_path / "in" / "bad.json").write_text('{"case_id": "x"}')
    code, out, _ = run("batch", str(tmp_path / "in"), "--quiet")
    assert code == 1
    adapter = TypeAdapter(ResultRecord | ErrorRecord)
    kinds = [type(adapter.validate_json(line)).__name__ for line in out.splitlines()]
    assert kinds == ["ErrorRecord", "ResultRecord", "ResultRecord"]
    code, out, _ = run("schema", "record")
    assert code == 0 and json.loads(out)["title"] == "dli-check batch record"


@pytest.mark.parametrize(
    "args",
    [["rules", "show"], ["batch", "examples/cases", "-q"]],
    ids=["rules show", "batch"],
)
def test_a_reader_that_closes_the_pipe_gives_exit_4(args: list[str]) -> None:
    process = subprocess.Popen(
        [EXE, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    if hasattr(fcntl, "F_SETPIPE_SZ"):  # a small pipe: every output here outgrows it
        fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    os.read(process.stdout.fileno(), 10)  # unbuffered: the rest stays in the pipe
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (
        4,
        b"dli-check: output closed before everything was written\n",
    )


@pytest.mark.parametrize(
    "args",
    [["--version"], ["examples/cases/dli-relapsed-aml.json"], ["schema", "record"]],
    ids=["--version", "check", "schema"],
)
def test_a_pipe_closed_before_the_first_write_gives_exit_4(args: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [EXE, *args], cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, check=False
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (
        4,
        b"dli-check: output closed before everything was written\n",
    )


def test_a_closed_standard_output_gives_exit_4() -> None:
    done = subprocess.run(
        [EXE, "examples/cases/dli-relapsed-aml.json"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert (done.returncode, done.stderr) == (4, b"dli-check: standard output is closed\n")
