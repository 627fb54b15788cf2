"""The official ICD-10-CM code set, as a compact index in tabular order.

The codes come from the release that the `simple-icd-10-cm` package ships. Importing that
package costs about 1.5 s and 190 MiB because it builds a tree of every code; this module
instead reads the package's own list of codes (the same codes, in the same tabular order,
as its ``get_all_codes()``; a test checks that) without importing the package, and keeps
just what range checks need: each code's position and the position of its last descendant.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = "simple_icd_10_cm"
_CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?")
_LIST_NAME = re.compile(r"code-list-([A-Za-z]+)-(\d{4})\.txt")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class CodeIndex:
    """Every ICD-10-CM code (chapters and blocks left out), in official tabular order."""

    position: dict[str, int]
    """Undotted code -> its position in tabular order."""
    last_descendant: tuple[int, ...]
    """Position -> position of the last code in its subtree (itself for a leaf)."""
    release: str
    """Which release this is, e.g. ``FY2026 (April 1, 2026 update)``."""
    source: str
    """Where it came from, e.g. ``simple-icd-10-cm 1.5.0``."""

    def __contains__(self, undotted: object) -> bool:
        return undotted in self.position


def undotted(code: str) -> str | None:
    """``"c92.00"`` -> ``"C9200"``: the code's key in the index, or None if it is not
    shaped like an ICD-10-CM code. Whether it exists is for the index to say."""
    text = code.strip().upper()
    if not _CODE_SHAPE.fullmatch(text):
        return None
    if len(text) > 3 and text[3] == ".":
        text = text[:3] + text[4:]
    return text if len(text) <= 7 and "." not in text else None


def dotted(key: str) -> str:
    """``"C9200"`` -> ``"C92.00"``: the printed form of an undotted code."""
    return key if len(key) <= 3 else f"{key[:3]}.{key[3:]}"


def _data_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the ICD-10-CM package {PACKAGE!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _release_name(list_file: Path) -> str:
    match = _LIST_NAME.fullmatch(list_file.name)
    if not match or match.group(1) not in _MONTHS:
        return list_file.stem
    month, year = match.group(1), int(match.group(2))
    # The US federal fiscal year starts on October 1: an October release is next year's.
    fiscal = year + 1 if _MONTHS.index(month) >= 9 else year
    return f"FY{fiscal} ({month} 1, {year} update)"


def build_index(codes: list[str], release: str, source: str) -> CodeIndex:
    """Index a tabular-order (pre-order) list of undotted codes.

    Chapters (``"2"``) and blocks (``"C81-C96"``) are left out: they are not codes. A block
    of one category (``"B10"``) is listed just before that category: it is kept once. A
    code's subtree is the run of codes after it that start with it.
    """
    kept: list[str] = []
    for code in codes:
        if code and not code.isdigit() and "-" not in code and (not kept or kept[-1] != code):
            kept.append(code)
    last = list(range(len(kept)))
    open_subtrees: list[int] = []
    for i, code in enumerate(kept):
        while open_subtrees and not code.startswith(kept[open_subtrees[-1]]):
            last[open_subtrees.pop()] = i - 1
        open_subtrees.append(i)
    for j in open_subtrees:
        last[j] = len(kept) - 1
    return CodeIndex(
        position={c: i for i, c in enumerate(kept)},
        last_descendant=tuple(last),
        release=release,
        source=source,
    )


@cache
def code_index() -> CodeIndex:
    """The index of the installed ICD-10-CM release, built once per process."""
    lists = sorted(_data_dir().glob("code-list-*.txt"))
    if len(lists) != 1:
        raise RuntimeError(f"expected one code list in {PACKAGE}, found {len(lists)}")
    codes = lists[0].read_text(encoding="utf-8").split("\n")
    version = importlib.metadata.version(PACKAGE.replace("_", "-"))
    return build_index(codes, _release_name(lists[0]), f"simple-icd-10-cm {version}")
