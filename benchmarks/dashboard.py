"""The dashboard's streaming pass against reading the records alone: `python
benchmarks/dashboard.py [N]` writes N full records (the example cases' records, repeated),
then times reading them with the record reader, and reading them into a dashboard's tally
and building the page; it prints both, their ratio (target: at most 1.5) and the peak
memory of the process (target: under 200 MiB)."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from dli_check.cli.commands import app
from dli_check.outputs.dashboard import Tally, dashboard
from dli_check.outputs.records import read_record

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.jsonl"
        CliRunner().invoke(
            app, ["batch", str(ROOT / "examples" / "cases"), "-o", str(one), "--quiet"]
        )
        lines = one.read_bytes().splitlines(keepends=True)
        many = Path(tmp) / "many.jsonl"
        with many.open("wb") as out:
            for i in range(count):
                out.write(lines[i % len(lines)])
        started = time.perf_counter()
        with many.open("rb") as records:
            for line in records:
                read_record(line)
        reading = time.perf_counter() - started
        started = time.perf_counter()
        counted = Tally()
        with many.open("rb") as records:
            for line in records:
                counted.add(read_record(line))
        dashboard(counted, title="benchmark")
        building = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{count:,} full records: reading {reading:.1f} s, dashboard {building:.1f} s, "
        f"ratio {building / reading:.2f} (target <= 1.5), peak {peak:.0f} MiB (target < 200)"
    )


if __name__ == "__main__":
    main()
