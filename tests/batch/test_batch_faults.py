"""A batch under faults: every input is reported exactly once, nothing else is lost, and
every failure is one clear line with a documented exit code."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import BASE_CASE, mutate
from dli_check.batch import list_inputs, run_batch  # the public names, imported lazily
from dli_check.batch import runner as batch
from dli_check.batch.runner import Summary
from dli_check.cli.commands import app
from dli_check.outputs.records import Record

runner = CliRunner()
EXE = str(Path(sys.executable).parent / "dli-check")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_cases(directory: Path, count: int, prefix: str = "case") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        case = mutate(
            {"case_id": f"{prefix}-{i}", "transplants.0.type": ["allogeneic", "autologous"][i % 2]}
        )
        (directory / f"{prefix}-{i:04d}.json").write_text(json.dumps(case))


def sources(output: str) -> list[str]:
    return [json.loads(line)["source"] for line in output.splitlines()]


def test_unreadable_file_gives_an_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cases(tmp_path, 3)
    real_open = os.open

    def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("case-0001.json"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    # CI runs as root, where chmod 000 does not stop a read: refuse the open instead.
    monkeypatch.setattr(os, "open", guarded)
    code, out, _ = run("batch", str(tmp_path), "--workers", "1", "--quiet")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("decision") for r in records] == [
        "medically_necessary",
        None,
        "medically_necessary",
    ]
    assert records[1]["error"]["kind"] == "unreadable"
    assert records[1]["error"]["message"] == "cannot read: Permission denied"


def test_files_that_vanish_or_change_during_the_run(tmp_path: Path) -> None:
    write_cases(tmp_path, 4)
    found = list_inputs(tmp_path)
    (tmp_path / "case-0001.json").unlink()
    (tmp_path / "case-0002.json").write_text('{"case_id": "x", "services": [')
    # Deleted and made again: the inode may well be the same one, the file is not.
    (tmp_path / "case-0003.json").unlink()
    (tmp_path / "case-0003.json").write_text(json.dumps(mutate({"case_id": "another"})))
    records = list(run_batch(found.items))
    assert [r.source for r in records] == [str(tmp_path / f"case-{i:04d}.json") for i in range(4)]
    assert [r.error_kind for r in records] == [None, "unreadable", "unreadable", "unreadable"]
    messages = [json.loads(r.json)["error"]["message"] for r in records[2:]]
    assert messages == ["cannot read: the file changed after it was listed"] * 2


def test_symbolic_links(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_cases(root / "real", 2)
    outside = tmp_path / "outside"
    write_cases(outside, 1, prefix="secret")
    (root / "data").mkdir()
    (root / "data" / "kept.txt").write_text(json.dumps(BASE_CASE))
    (root / "linked.json").symlink_to(root / "data" / "kept.txt")  # inside: followed
    (root / "escape.json").symlink_to(outside / "secret-0000.json")  # outside: skipped
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)  # a loop
    (root / "alias").symlink_to(root / "real", target_is_directory=True)  # the same files again
    (root / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    found = list_inputs(root)
    assert [Path(i.source).relative_to(root).as_posix() for i in found.items] == [
        "alias/case-0000.json",
        "alias/case-0001.json",
        "linked.json",
    ]
    assert dict(found.skipped) == {
        "symbolic link out of the input directory": 2,
        "symbolic link loop": 2,
        "the same file by another path (symbolic link)": 2,
        "broken symbolic link": 1,
        "not a .json file": 1,
    }


def test_listing_order_does_not_matter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cases(tmp_path / "a", 3)
    write_cases(tmp_path / "b", 3)
    first = run("batch", str(tmp_path), "--quiet")[1]
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: reversed(list(real_scandir(p))))
    assert run("batch", str(tmp_path), "--quiet")[1] == first


def test_non_json_files_are_skipped_and_counted(tmp_path: Path) -> None:
    write_cases(tmp_path, 2)
    (tmp_path / "README.txt").write_text("notes")
    output = tmp_path / "results.jsonl"
    output.write_text("left from an earlier run")
    code, out, err = run("batch", str(tmp_path), "--output", str(output))
    assert code == 0 and out == ""
    assert len(output.read_text().splitlines()) == 2
    assert "passed over: not a .json file" in err


def test_full_disk(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    write_cases(tmp_path, 2)
    code, _, err = run("batch", str(tmp_path), "--output", "/dev/full", "--quiet")
    assert code == 4
    assert err == "dli-check: /dev/full: cannot write: No space left on device\n"


def test_closed_pipe(tmp_path: Path) -> None:
    write_cases(tmp_path, 400)
    process = subprocess.Popen(
        [EXE, "batch", str(tmp_path), "--workers", "1", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(100)
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 4
    assert err == "dli-check: output closed before everything was written\n"


def _die_on(item: batch.Input, rules: Any, *rest: Any) -> Record:
    if Path(item.source).name.endswith("-die.json"):
        os._exit(3)
    return ORIGINAL(item, rules, *rest)


ORIGINAL = batch.evaluate_input


def test_a_worker_that_dies_ends_the_batch_after_the_records_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cases(tmp_path, 1000)
    (tmp_path / "case-0900-die.json").write_text(json.dumps(BASE_CASE))
    monkeypatch.setattr(batch, "evaluate_input", _die_on)  # forked workers inherit it
    found = list_inputs(tmp_path)
    records: list[Record] = []  # chunks of 256: the other worker's first one is whole
    started = time.monotonic()
    with pytest.raises(batch.WorkerDied) as caught:
        records.extend(run_batch(found.items, workers=2))
    assert time.monotonic() - started < 30
    assert str(caught.value) == "a worker ended unexpectedly (exit status 3)"
    names = [Path(r.source).name for r in records]
    assert names == [f"case-{i:04d}.json" for i in range(len(names))]  # in order, no gap
    # What the dying worker finished but had not yet sent when it died is not written (the
    # batch says it failed, and a resume does those again): how much depends on timing.
    assert 256 <= len(records) <= 900
    assert all(r.decision is not None for r in records)


def _sleep_on(item: batch.Input, rules: Any, *rest: Any) -> Record:
    if Path(item.source).name.endswith("-sleep.json"):
        time.sleep(3600)
    return ORIGINAL(item, rules, *rest)


@pytest.mark.parametrize("workers", [1, 2])
def test_stopping_ends_the_batch_whatever_the_workers_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    write_cases(tmp_path, 20)
    (tmp_path / "case-0005-sleep.json").write_text(json.dumps(BASE_CASE))
    monkeypatch.setattr(batch, "evaluate_input", _sleep_on)
    deadline = time.monotonic() + 2
    if workers == 1:  # in-process, the stop is seen between cases: no case sleeps
        (tmp_path / "case-0005-sleep.json").unlink()
    records = list(
        run_batch(
            list_inputs(tmp_path).items,
            workers=workers,
            should_stop=lambda: time.monotonic() > deadline,
        )
    )
    assert time.monotonic() - deadline < 10
    assert [Path(r.source).name for r in records] == [
        f"case-{i:04d}.json" for i in range(len(records))
    ]


def _worker_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


@pytest.mark.parametrize("how", ["SIGKILL a worker", "SIGTERM the batch", "SIGINT the batch"])
def test_a_killed_worker_or_a_signal_ends_the_batch_and_keeps_the_records(
    tmp_path: Path, how: str
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(mutate({"case_id": f"c{i}"})) + "\n" for i in range(40000)))
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [EXE, "batch", str(cases), "-o", str(output), "-w", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for_records(tmp_path, ".out.jsonl.")
    started = time.monotonic()
    if how == "SIGKILL a worker":
        os.kill(_worker_pids(process.pid)[0], signal.SIGKILL)
    else:
        process.send_signal(signal.SIGTERM if how == "SIGTERM the batch" else signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 30
    text = output.read_text()
    done = [json.loads(line)["case_id"] for line in text.splitlines()]
    assert done == [f"c{i}" for i in range(len(done))]
    assert 0 < len(done) < 40000
    message = err.decode()
    assert "Traceback" not in message
    if how == "SIGKILL a worker":
        assert process.returncode == 4
        assert message.endswith(
            "dli-check: the batch ended early: a worker was killed (signal 9, SIGKILL, likely "
            f"out of memory); {output} keeps every record made before it (--resume continues)\n"
        )
        code = subprocess.run(
            [EXE, "batch", str(cases), "-o", str(output), "-w", "2", "--resume", "--quiet"],
            timeout=300,
        ).returncode
        assert code == 0
        finished = [json.loads(line)["case_id"] for line in output.read_text().splitlines()]
        assert finished == [f"c{i}" for i in range(40000)]
    else:
        assert process.returncode == 128 + (15 if how == "SIGTERM the batch" else 2)
        assert "not evaluated (interrupted)" in message
    assert not list(tmp_path.glob(".out.jsonl.*.partial"))


WIDE_CASE = json.dumps(mutate({"case_id": "wide", "services": [{"code": "99215"}] * 1000}))
"""17 KB of input whose record is about 5 MB."""


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def test_memory_in_flight_is_bounded_by_bytes(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text((WIDE_CASE + "\n") * 512)
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen([EXE, "batch", str(cases), "-o", str(output), "-w", "2", "-q"])
    peak = 0
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        total = _rss_kib(process.pid) + sum(map(_rss_kib, _worker_pids(process.pid)))
        peak = max(peak, total)
        time.sleep(0.02)
    assert process.wait(timeout=10) == 0
    assert peak < 300 * 1024, f"peak {peak // 1024} MiB"
    assert sum(1 for _ in output.open("rb")) == 512


def test_a_case_over_the_line_limit_is_one_too_large_record(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    three = mutate({"services": [{"code": "38242"}, {"code": "99215"}, {"code": "99215"}]})
    cases.write_text(json.dumps(BASE_CASE) + "\n" + json.dumps(three) + "\n")
    code, out, _ = run("batch", str(cases), "--max-lines-per-case", "2", "--quiet")
    assert code == 1
    second = json.loads(out.splitlines()[1])
    assert second["error"] == {
        "kind": "too_large",
        "message": "services: more than 2 service lines (--max-lines-per-case)",
        "problems": [
            {
                "path": "services",
                "message": "more than 2 service lines (--max-lines-per-case)",
                "line": None,
                "column": None,
            }
        ],
    }
    assert "error" not in json.loads(out.splitlines()[0])


def test_memory_exhausted_in_the_batch_process_ends_it_with_a_message(tmp_path: Path) -> None:
    # Cases whose records are large (1,000 lines, about 5 MB): once the workers run, the
    # batch process itself is given no more memory than it has.
    cases = tmp_path / "cases.jsonl"
    cases.write_text((json.dumps(BASE_CASE) + "\n") * 300 + (WIDE_CASE + "\n") * 100)
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [EXE, "batch", str(cases), "-o", str(output), "-w", "2", "--quiet"],
        stderr=subprocess.PIPE,
    )
    _wait_for_records(tmp_path, ".out.jsonl.")
    status = Path(f"/proc/{process.pid}/status").read_text()
    size = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
    resource.prlimit(process.pid, resource.RLIMIT_AS, (size + (1 << 20), size + (1 << 20)))
    started = time.monotonic()
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 30
    text = err.decode()
    assert "Traceback" not in text
    assert (process.returncode, text.splitlines()[-1]) == (
        4,
        f"dli-check: the batch ended early: dli-check ran out of memory; {output} keeps every "
        "record made before it (--resume continues)",
    )
    assert json.loads(output.read_text().splitlines()[0])["case_id"] == "T-1"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_leaves_whole_records(tmp_path: Path, workers: str) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(mutate({"case_id": f"c{i}"})) + "\n" for i in range(20000)))
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [EXE, "batch", str(cases), "-o", str(output), "-w", workers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for_records(tmp_path, ".out.jsonl.")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    text = output.read_text()
    assert text.endswith("\n")
    done = [json.loads(line)["case_id"] for line in text.splitlines()]
    assert done == [f"c{i}" for i in range(len(done))]
    assert 0 < len(done) < 20000
    assert "not evaluated (interrupted)" in err.decode() and "Traceback" not in err.decode()


def _wait_for_records(directory: Path, prefix: str) -> None:
    """Wait until a batch has written records to its temporary output."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [
            p
            for p in directory.glob(prefix + "*.partial")
            if ".run." not in p.name and p.stat().st_size > 0  # not the run log
        ]
        if partial:
            return
        time.sleep(0.02)
    raise AssertionError("no records were written")


def test_resume_after_a_crash(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 30)
    (tmp_path / "in" / "zz-bad.json").write_text("{")
    full = tmp_path / "full.jsonl"
    run("batch", str(tmp_path / "in"), "-o", str(full), "--quiet")
    crashed = tmp_path / "crashed.jsonl"
    data = full.read_bytes()
    crashed.write_bytes(data[: data.index(b"\n", len(data) // 2) + 40])  # half a record at the end
    shutil.copy(f"{full}.run", f"{crashed}.run")  # the run record a resumed run keeps
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(crashed), "--resume")
    assert code == 1  # zz-bad.json, in the half evaluated again, is still invalid
    assert crashed.read_bytes() == data
    assert "already in the output (--resume)" in err
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(crashed), "--resume")
    assert crashed.read_bytes() == data  # nothing left to do
    assert code == 1  # the status is the whole output's: zz-bad.json is in it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume"], "dli-check: --resume needs --output FILE in the jsonl format\n"),
        (
            ["--resume", "-o", "x.csv", "-f", "csv"],
            "dli-check: --resume needs --output FILE in the jsonl format\n",
        ),
    ],
)
def test_resume_usage(tmp_path: Path, args: list[str], message: str) -> None:
    assert run("batch", str(tmp_path), *args)[::2] == (2, message)


def test_resume_refuses_a_file_that_is_not_ours(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 1)
    other = tmp_path / "other.jsonl"
    other.write_text("hello\n")
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(other), "--resume")
    assert (code, err) == (
        2,
        f"dli-check: {other}: has no run record (other.jsonl.run); cannot tell which run made "
        "it, so cannot resume\n",
    )
    full = tmp_path / "full.jsonl"
    run("batch", str(tmp_path / "in"), "-o", str(full), "--quiet")
    shutil.copy(f"{full}.run", f"{other}.run")
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(other), "--resume")
    assert (code, err) == (2, f"dli-check: {other}:1: not a dli-check record; cannot resume\n")


def test_summary_adds_up(tmp_path: Path) -> None:
    summary = Summary(total=5)
    records = list(run_batch(list_inputs(_three(tmp_path))))
    summary.add(records[0], earlier=True)
    for record in records[1:]:
        summary.add(record)
    assert summary.already_done == 1 and summary.evaluated == 2
    assert summary.evaluated + summary.already_done + summary.not_evaluated == summary.total
    assert summary.not_evaluated == 2


def _three(tmp_path: Path) -> Path:
    write_cases(tmp_path, 2)
    (tmp_path / "x.json").write_text("[]")
    return tmp_path


def test_a_directory_of_broken_hostile_and_valid_files(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_cases(root, 3)
    hostile = {
        "bad-json.json": b'{"case_id": "x",',
        "duplicate.json": b'{"case_id": "a", "case_id": "b", "services": []}',
        "nan.json": b'{"case_id": NaN}',
        "latin1.json": '{"case_id": "Ren\u00e9e"}'.encode("latin-1"),
        "huge.json": b" " * (1024 * 1024 + 10),
        "deep.json": b"[" * 50_000 + b"]" * 50_000,
        "unknown-field.json": json.dumps({**BASE_CASE, "medicaly_necessary": True}).encode(),
        "list.json": b"[]",
        "empty.json": b"",
    }
    for name, content in hostile.items():
        (root / name).write_bytes(content)
    (root / "notes.txt").write_text("not a case")
    (root / "elsewhere.json").symlink_to(tmp_path / "outside.json")
    (tmp_path / "outside.json").write_text(json.dumps(BASE_CASE))
    code, out, err = run("batch", str(root))
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    names = [Path(r["source"]).name for r in records]
    assert names == sorted([*hostile, *(f"case-{i:04d}.json" for i in range(3))])
    kinds = {Path(r["source"]).name: r.get("error", {}).get("kind") for r in records}
    assert kinds == {
        "bad-json.json": "invalid_json",
        "case-0000.json": None,
        "case-0001.json": None,
        "case-0002.json": None,
        "deep.json": "too_large",
        "duplicate.json": "invalid_json",
        "empty.json": "invalid_json",
        "huge.json": "too_large",
        "latin1.json": "encoding",
        "list.json": "invalid_case",
        "nan.json": "invalid_json",
        "unknown-field.json": "invalid_case",
    }
    assert "Traceback" not in err
    assert "passed over: not a .json file" in err
    assert "passed over: symbolic link out of" in err  # the table may wrap the rest


def _stopped_run(cases: Path, output: Path) -> None:
    """A run stopped half way: its output and run file, as Ctrl-C leaves them."""
    full = output.with_name("full.jsonl")
    assert run("batch", str(cases), "-o", str(full), "--quiet")[0] == 0
    lines = full.read_bytes().splitlines(keepends=True)
    output.write_bytes(b"".join(lines[: len(lines) // 2]))
    run_lines = Path(f"{full}.run").read_bytes().splitlines(keepends=True)
    Path(f"{output}.run").write_bytes(b"".join(run_lines[: 1 + len(lines) // 2]))


def test_resume_refuses_a_json_lines_input_that_changed(tmp_path: Path) -> None:
    cases = tmp_path / "in.jsonl"
    lines = [json.dumps(mutate({"case_id": f"c{i}"})) + "\n" for i in range(10)]
    cases.write_text("".join(lines))
    output = tmp_path / "out.jsonl"
    _stopped_run(cases, output)
    before = output.read_bytes()
    # A line gained in the middle: every line after it has another number now.
    lines.insert(
        2, json.dumps(mutate({"case_id": "new", "transplants.0.type": "autologous"})) + "\n"
    )
    cases.write_text("".join(lines))
    code, _, err = run("batch", str(cases), "-o", str(output), "--resume", "--fail-unless-approved")
    assert (code, err) == (
        2,
        f"dli-check: {output}: cannot resume: the input {cases}:3 changed since its record was "
        "written\n",
    )
    assert output.read_bytes() == before


def test_resume_refuses_a_case_file_that_changed(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 10)
    output = tmp_path / "out.jsonl"
    _stopped_run(tmp_path / "in", output)
    changed = tmp_path / "in" / "case-0001.json"
    changed.write_text(json.dumps(mutate({"case_id": "case-1", "transplants.0.type": "syngeneic"})))
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(output), "--resume")
    assert (code, err) == (
        2,
        f"dli-check: {output}: cannot resume: the input {changed} changed since its record was "
        "written\n",
    )


def test_resume_of_unchanged_inputs_finishes_the_run(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 10)
    output = tmp_path / "out.jsonl"
    _stopped_run(tmp_path / "in", output)
    assert run("batch", str(tmp_path / "in"), "-o", str(output), "--resume", "-q")[0] == 0
    assert output.read_bytes() == (tmp_path / "full.jsonl").read_bytes()
    # The run file now knows every record: a later change anywhere is seen.
    (tmp_path / "in" / "case-0009.json").write_text("{}")
    assert run("batch", str(tmp_path / "in"), "-o", str(output), "--resume", "-q")[0] == 2


def test_resume_refuses_an_output_with_a_source_twice(tmp_path: Path) -> None:
    write_cases(tmp_path / "in", 4)
    output = tmp_path / "out.jsonl"
    _stopped_run(tmp_path / "in", output)
    first = output.read_bytes().splitlines(keepends=True)[0]
    output.write_bytes(output.read_bytes() + first)
    code, _, err = run("batch", str(tmp_path / "in"), "-o", str(output), "--resume")
    source = json.loads(first)["source"]
    assert (code, err) == (
        2,
        f"dli-check: {output}:3: a second record of {source}; cannot resume\n",
    )


def test_a_second_run_on_the_same_output_is_refused_at_once(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(mutate({"case_id": f"c{i}"})) + "\n" for i in range(40000)))
    output = tmp_path / "out.jsonl"
    first = subprocess.Popen(
        [EXE, "batch", str(cases), "-o", str(output), "-w", "2", "-q"], stderr=subprocess.PIPE
    )
    try:
        _wait_for_records(tmp_path, ".out.jsonl.")
        started = time.monotonic()
        for args in ([], ["--resume"]):
            second = subprocess.run(
                [EXE, "batch", str(cases), "-o", str(output), "-q", *args],
                capture_output=True,
                timeout=60,
            )
            assert (second.returncode, second.stderr.decode()) == (
                2,
                f"dli-check: another dli-check is writing {output}\n",
            )
        assert time.monotonic() - started < 20
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
