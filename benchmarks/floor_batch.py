"""The batch floor: read the same inputs, parse them with orjson and decide them with the
hand-written function over the same number of processes, writing one line per case."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import orjson

from handwritten import decide


def _file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return _line(handle.read())


def _line(raw: bytes) -> bytes:
    try:
        return orjson.dumps(decide(orjson.loads(raw))) + b"\n"
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return b'"error"\n'


def main(source: str, workers: int) -> None:
    path = Path(source)
    out = sys.stdout.buffer
    if path.is_dir():
        items = sorted(str(p) for p in path.rglob("*.json"))
        work = _file
    else:
        items = path.open("rb")
        work = _line
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for line in pool.imap(work, items, chunksize=64):
            out.write(line)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
