"""`make bench`: how fast dli-check is, each figure against a floor measured in the same run.

Prints a table and writes it as JSON to benchmarks/out/results.json. `--quick` runs smaller
sizes (for trying the harness, not for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dli_check  # noqa: E402
from generate import generate  # noqa: E402
from handwritten import decide  # noqa: E402
from handwritten_rx import decide as decide_rx  # noqa: E402

BIN = Path(sys.executable).parent
EXE = str(BIN / "dli-check")
OUT = HERE / "out"
CORES = os.cpu_count() or 1


def timed(action: Callable[[], object], repeats: int) -> dict[str, float]:
    """Median, min and max wall time of several runs, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def run(command: list[str]) -> None:
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


WHY = {
    "in_process": "the floor validates nothing and cites nothing: strict validation of the case "
    "(the validator generated from the rule file) costs ~5 µs, judging the criteria ~4.5 µs and "
    "the cited result ~2 µs more, and with 100,000 results kept alive Python's garbage "
    "collector adds ~3 µs",
    "batch": "per case a worker parses, validates strictly (~5 µs), judges and cites (~6.5 µs) "
    "and writes ~5 KB of JSON (--detail decisions: ~400 bytes), ~37 µs of CPU in all, where the "
    "floor validates nothing and writes ~100 bytes; the parent, on the same 2 cores, spends "
    "~11 µs a case sending inputs to workers, taking their records back and writing them",
    "step_therapy": "the floor neither validates nor explains, and works in floats: per case "
    "the engine validates ~12 values (NDC, RxNorm and LOINC codes, dates; ~25 µs), writes a "
    "note with both dates for every window and duration it judges and one per trial record "
    "(~45 µs), works out the dose per 28 days exactly, as fractions, and hashes the case for "
    "its decision id (~25 µs)",
    "startup": "the rule file is compiled on a cache miss: the engine then imports pydantic and "
    "the rule language (~80 ms) and compiles (~36 ms)",
}


def row(
    name: str,
    unit: str,
    scale: float,
    ours: dict[str, float],
    floor: dict[str, float],
    target: float | None,
    why: str,
    limit_ms: float | None = None,
) -> dict[str, Any]:
    """One line of the table: our figure, the floor's, their ratio, and the target."""
    ratio = ours["median"] / floor["median"]
    if limit_ms is not None:
        met: bool | None = ours["median"] * 1e3 <= limit_ms
        goal = f"<= {limit_ms:.0f} ms"
    else:
        met = None if target is None else ratio <= target
        goal = "" if target is None else f"<= {target}x floor"
    return {
        "measure": name,
        "unit": unit,
        "ours": {k: v * scale for k, v in ours.items()},
        "floor": {k: v * scale for k, v in floor.items()},
        "ratio": ratio,
        "target": goal,
        "met": met,
        "why": "" if met or met is None else why,
    }


def in_process(count: int, repeats: int) -> list[dict[str, Any]]:
    cases = generate(count)
    rules = dli_check.load_rules()
    for case in cases[:1000]:  # warm the caches a long-running service would have warm
        dli_check.evaluate(case, rules)
    floor = timed(lambda: [decide(case) for case in cases], repeats)
    per_case = 1e6 / count
    measures: list[tuple[str, Callable[[dict[str, Any]], object], float | None]] = [
        ("full cited results", lambda case: dli_check.evaluate(case, rules), 2.0),
        (
            "+ to_json()",
            lambda case: dli_check.evaluate(case, rules).to_json(indent=None),
            None,
        ),
        (
            "+ to_json(detail='decisions')",
            lambda case: dli_check.evaluate(case, rules).to_json(indent=None, detail="decisions"),
            None,
        ),
        (
            # The default, indent=2: at most 10 µs (or 3x compact) more than compact.
            "+ to_json() indented",
            lambda case: dli_check.evaluate(case, rules).to_json(),
            None,
        ),
    ]
    rows = []
    for name, action, target in measures:
        ours = timed(lambda: [action(case) for case in cases], repeats)  # noqa: B023
        rows.append(
            row(
                f"evaluate(), {count:,} cases in memory, {name}",
                "µs/case",
                per_case,
                ours,
                floor,
                target,
                WHY["in_process"],
            )
        )
    return rows


def step_therapy(count: int, repeats: int) -> list[dict[str, Any]]:
    """evaluate() on the made-up step-therapy guideline's example cases, against a
    hand-written function of the same criteria."""
    guideline = HERE.parent / "examples" / "guidelines" / "rx-exemplumab"
    rules = dli_check.load_rules(guideline / "rx-exemplumab.yaml")
    examples = [json.loads(p.read_text()) for p in sorted((guideline / "cases").glob("*.json"))]
    cases = [examples[i % len(examples)] for i in range(count)]
    for case in cases[:1000]:
        dli_check.evaluate(case, rules)
    floor = timed(lambda: [decide_rx(case) for case in cases], repeats)
    ours = timed(lambda: [dli_check.evaluate(case, rules) for case in cases], repeats)
    name = f"evaluate(), {count:,} step-therapy cases (RX-EXEM-01), full cited results"
    return [row(name, "µs/case", 1e6 / count, ours, floor, 25.0, WHY["step_therapy"])]


def write_inputs(directory: Path, count: int, as_lines: bool) -> Path:
    cases = generate(count, seed=count)
    if as_lines:
        path = directory / f"cases-{count}.jsonl"
        with path.open("w") as handle:
            for case in cases:
                handle.write(json.dumps(case) + "\n")
        return path
    path = directory / f"cases-{count}"
    for i, case in enumerate(cases):
        sub = path / f"{i // 1000:04d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"case-{i:07d}.json").write_text(json.dumps(case))
    return path


class PeakRss:
    """Samples the memory of a process and all its children, summed as PSS (proportional
    set size): forked workers share pages with their parent, and RSS would count those
    pages once per process."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _tree(self, pid: int) -> list[int]:
        pids = [pid]
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    for child in handle.read().split():
                        pids += self._tree(int(child))
        except OSError:
            pass
        return pids

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, sum(self._rss(p) for p in self._tree(self.pid)))
            time.sleep(0.05)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def batch(
    directory: Path, count: int, as_lines: bool, repeats: int, detail: str = "full"
) -> tuple[dict[str, Any], int]:
    source = write_inputs(directory, count, as_lines)
    kind = "JSON Lines file" if as_lines else "one-case files"
    if detail != "full":
        kind += f", --detail {detail}"
    ours_cmd = [EXE, "batch", str(source), "-o", os.devnull, "-q", "-w", str(CORES)]
    ours_cmd += ["--detail", detail]
    floor_cmd = [sys.executable, str(HERE / "floor_batch.py"), str(source), str(CORES)]
    peak = 0

    def ours_run() -> None:
        nonlocal peak
        process = subprocess.Popen(ours_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sampler = PeakRss(process.pid)
        process.wait()
        peak = max(peak, sampler.stop())

    ours = timed(ours_run, repeats)
    floor = timed(lambda: run(floor_cmd), repeats)
    result = row(
        f"dli-check batch, {count:,} {kind}, {CORES} workers",
        "µs/case",
        1e6 / count,
        ours,
        floor,
        1.5,
        WHY["batch"],
    )
    return result, peak


def startup(case: Path, repeats: int) -> list[dict[str, Any]]:
    baseline = timed(lambda: run([sys.executable, "-c", "pass"]), repeats)
    command = [EXE, str(case), "--format", "json"]
    run(command)  # the first run compiles the rule file into the user's cache
    check = timed(lambda: run(command), repeats)
    uncached = os.environ | {"DLI_CHECK_CACHE": "off"}
    cold = timed(lambda: subprocess.run(command, env=uncached, capture_output=True), repeats)
    version = timed(lambda: run([EXE, "--version"]), repeats)
    return [
        row(
            "dli-check CASE.json --format json (whole process)",
            "ms",
            1e3,
            check,
            baseline,
            None,
            WHY["startup"],
            limit_ms=100,
        ),
        row(
            "the same, without the compiled-rules cache (DLI_CHECK_CACHE=off)",
            "ms",
            1e3,
            cold,
            baseline,
            None,
            "",
        ),
        row(
            "dli-check --version (whole process)",
            "ms",
            1e3,
            version,
            baseline,
            None,
            "it reads the rule file's metadata and nothing else",
            limit_ms=60,
        ),
    ]


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| measure | dli-check median (min-max) | floor median | ratio | target | met | why not |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        o, f = r["ours"], r["floor"]
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(
            f"| {r['measure']} | {o['median']:.2f} {r['unit']} ({o['min']:.2f}-{o['max']:.2f}) "
            f"| {f['median']:.2f} {r['unit']} | {r['ratio']:.2f}x | {r['target']} | {met} "
            f"| {r['why']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args()
    sizes = (
        (10_000, 20_000, 30_000, 100_000) if args.quick else (100_000, 10_000, 100_000, 1_000_000)
    )
    repeats = 3 if args.quick else 5
    rows: list[dict[str, Any]] = []
    print(
        f"dli-check {dli_check.__version__} on {platform.python_implementation()} "
        f"{platform.python_version()}, {CORES} cores",
        flush=True,
    )
    rows += in_process(sizes[0], repeats)
    rows += step_therapy(sizes[0] // 10, repeats)
    print(table(rows), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        peaks = []
        for count, as_lines, reps, detail in (
            (sizes[1], False, 3, "full"),
            (sizes[2], False, 3, "full"),
            (sizes[3], True, 1, "full"),
            (sizes[3], True, 1, "decisions"),
        ):
            result, peak = batch(scratch, count, as_lines, reps, detail)
            peaks.append(peak)
            rows.append(result)
            print(table(rows[-1:]), flush=True)
        peak = peaks[2]  # the full records of the JSON Lines file
        memory = {
            "measure": f"peak memory, batch of {sizes[3]:,} lines",
            "bytes": peak,
            "target_bytes": 120 * 1024 * 1024,
            "met": peak <= 120 * 1024 * 1024,
        }
        case = HERE.parent / "examples" / "cases" / "dli-relapsed-aml.json"
        rows += startup(case, 15)
    OUT.mkdir(exist_ok=True)
    report = {"python": platform.python_version(), "cores": CORES, "rows": rows, "memory": memory}
    (OUT / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(rows))
    print(
        f"| {memory['measure']} (all processes) | {peak / 2**20:.0f} MiB | | | <= 120 MiB | "
        f"{'yes' if memory['met'] else '**no**'} |"
    )
    print(f"\nwritten: {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
