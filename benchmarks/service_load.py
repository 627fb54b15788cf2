"""`make bench-service`: latency and throughput of `dli-check serve` on loopback.

Starts `dli-check serve` on a free 127.0.0.1 port with its decision log on, then sends
CDS Hooks `order-sign` requests for one DLI order at fixed rates (50, 100 and 200 per
second, 30 s each by default) from a pool of keep-alive connections, and measures each
request from the moment it was due (so a server that falls behind shows its queueing, not
just its service time). Then a memory run: `--memory-requests` requests as fast as the
pool goes, with the server's RSS sampled as it goes. Everything stays on loopback, every
phase is bounded in requests and in time, and the server is stopped at the end.

    .venv/bin/python benchmarks/service_load.py [--duration 30] [--memory-requests 100000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXE = str(Path(sys.executable).parent / "dli-check")
PATH = "/cds-services/cg-trans-03-order-sign"
WORKERS = 16
TARGET_P99_MS = 25.0


def request_body() -> bytes:
    """An order-sign request for one DLI order, with its prefetch (the example Bundle's
    resources), answered so that the order is decided in full."""
    bundle = json.loads((ROOT / "examples" / "fhir" / "order-sign-dli-answered.json").read_text())
    resources = [e["resource"] for e in bundle["entry"]]

    def of(kind: str) -> list[dict[str, Any]]:
        return [r for r in resources if r["resourceType"] == kind]

    def searchset(kind: str) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in of(kind)],
        }

    draft = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in of("ServiceRequest")],
    }
    request = {
        "hook": "order-sign",
        "hookInstance": "5b0f1c52-0000-4000-8000-000000000001",
        "context": {"userId": "PractitionerRole/prr-1", "patientId": "pat-1", "draftOrders": draft},
        "prefetch": {
            "patient": of("Patient")[0],
            "coverage": searchset("Coverage"),
            "condition": searchset("Condition"),
            "procedure": searchset("Procedure"),
            "answers": of("QuestionnaireResponse")[0],
        },
    }
    return json.dumps(request).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [EXE, "serve", "--host", "127.0.0.1", "--port", str(port), "--log", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def load(port: int, body: bytes, count: int, rate: float | None, limit_s: float) -> dict[str, Any]:
    """Send `count` requests, at `rate` per second (None: as fast as the pool goes), for at
    most `limit_s` seconds; latencies are measured from each request's due time."""
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    errors = [0]
    next_index = [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    stop_at = start + limit_s

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= count:
                break
            due = start + index / rate if rate else time.perf_counter()
            if due > stop_at:
                break
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                connection.request("POST", PATH, body, headers)
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == 200
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            done = time.perf_counter()
            with lock:
                latencies.append(done - due)
                errors[0] += not ok
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "throughput": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per rate")
    parser.add_argument("--memory-requests", type=int, default=100_000)
    args = parser.parse_args()
    body = request_body()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(port, Path(tmp) / "decisions.sqlite3")
        try:
            load(port, body, 500, None, 60)  # warm up
            for rate in (50, 100, 200):
                figures = load(port, body, int(rate * args.duration), rate, args.duration + 30)
                rows.append({"rate": rate, **figures})
                print(
                    f"| {rate}/s for {args.duration:.0f} s | {figures['p50_ms']:.1f} ms "
                    f"| {figures['p99_ms']:.1f} ms | {figures['throughput']:.0f}/s "
                    f"| {figures['errors']} |",
                    flush=True,
                )
            memory: list[int] = []
            sampling = [True]

            def sample() -> None:
                while sampling[0]:
                    memory.append(rss_kib(server.pid))
                    time.sleep(1)

            sampler = threading.Thread(target=sample)
            sampler.start()
            run = load(port, body, args.memory_requests, None, 3600)
            sampling[0] = False
            sampler.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    tenth = max(len(memory) // 10, 1)
    early, late = max(memory[:tenth]), max(memory[-tenth:])
    report = {
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "rates": rows,
        "memory_run": {**run, "rss_kib_first_tenth": early, "rss_kib_last_tenth": late},
        "target_p99_ms_at_100": TARGET_P99_MS,
        "met": next(r for r in rows if r["rate"] == 100)["p99_ms"] <= TARGET_P99_MS,
    }
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "service.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"memory run: {run['requests']:,} requests at {run['throughput']:.0f}/s, "
        f"p99 {run['p99_ms']:.1f} ms, {run['errors']} errors; server RSS "
        f"{early / 1024:.0f} MiB in the first tenth, {late / 1024:.0f} MiB in the last"
    )
    print(f"p99 at 100/s <= {TARGET_P99_MS} ms: {'yes' if report['met'] else 'no'}")


if __name__ == "__main__":
    main()
