"""The official ICD-10-CM code set, as a compact index in tabular order, release by release.

The latest codes come from the release that the `simple-icd-10-cm` package ships; earlier
releases are shipped here as data files (``icd10cm_releases/``, see its SOURCE.md), so that
a claim's codes are judged by the release in effect on the date of service
(`releases_on`). Importing that
package costs about 1.5 s and 190 MiB because it builds a tree of every code; this module
instead reads the package's own list of codes (the same codes, in the same tabular order,
as its ``get_all_codes()``; a test checks that) without importing the package, in about
5 ms, and keeps just what range checks need: each code's position (found in the list's
text at first, in a dictionary once enough codes are asked for), and (worked out when
first asked) the position of its last descendant.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
import re
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
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


class CodeIndex:
    """Every line of the official code list, in tabular order, and where each code stands.

    The list also holds chapters (``"2"``) and blocks (``"C81-C96"``); they are never looked
    up as codes. A block of one category (``"B10"``) has the category's name: the name
    stands for the category, which comes right after it.

    Looking a code up searches the list's text until enough codes have been asked for to
    pay for a dictionary of all of them: a single case looks up a handful, and a dictionary
    of 98,000 codes costs more than the rest of its start-up.

    >>> index = build_index(["C92", "C920", "C9200", "C9201", "C921"], "test", "doctest")
    >>> index.find("C9200"), index.last_descendant(index.find("C920"))
    (2, 3)
    """

    _DICTIONARY_AFTER = 16
    """Text searches before the dictionary is built."""

    def __init__(self, lines: tuple[str, ...], release: str, source: str) -> None:
        self.lines = lines
        self.release = release
        """Which release this is, e.g. ``FY2026 (April 1, 2026 update)``."""
        self.source = source
        """Where it came from, e.g. ``simple-icd-10-cm 1.5.0``."""
        self._text = "\n" + "\n".join(lines) + "\n"
        self._found: dict[str, int | None] = {}
        self._position: dict[str, int] | None = None
        self._last: dict[int, int] = {}

    def __reduce__(self) -> tuple[object, tuple[()]]:
        # Compiled rules name the index in their generated code; a cached copy of them
        # stands for the installed release, which the cache's key names.
        return (code_index, ())

    @property
    def position(self) -> dict[str, int]:
        """Undotted code -> its position in tabular order (all of them)."""
        if self._position is None:
            self._position = dict(zip(self.lines, range(len(self.lines)), strict=True))
        return self._position

    def prepare(self) -> None:
        """Build the dictionary of every code now: before forking workers, which then
        share it rather than each building its own."""
        self.position  # noqa: B018 - the property builds it

    def find(self, undotted: str) -> int | None:
        """The position of an undotted code in tabular order, or None if it is not one."""
        if self._position is not None:
            return self._position.get(undotted)
        if undotted in self._found:
            return self._found[undotted]
        if len(self._found) >= self._DICTIONARY_AFTER:
            return self.position.get(undotted)
        at = self._text.find(f"\n{undotted}\n") if "\n" not in undotted else -1
        found = None if at < 0 else self._text.count("\n", 0, at)
        self._found[undotted] = found
        return found

    def __contains__(self, undotted: object) -> bool:
        return isinstance(undotted, str) and self.find(undotted) is not None

    def place(self, undotted: str) -> int | None:
        """The position of a code; for a code this release does not have (one deleted
        since), the position of its nearest ancestor that it has, which stands for it:
        ``C88.0`` of FY2021 would be placed at ``C88``. None when no ancestor is here."""
        for end in range(len(undotted), 2, -1):
            found = self.find(undotted[:end])
            if found is not None:
                return found
        return None

    def is_heading(self, position: int) -> bool:
        """Whether the code at `position` has more specific codes (it is not billable)."""
        return self.last_descendant(position) > position

    def first_leaf(self, position: int) -> int:
        """The position of the first billable code in the subtree of the code at
        `position` (itself for a leaf)."""
        while self.last_descendant(position) > position:
            position += 1
        return position

    def last_descendant(self, position: int) -> int:
        """The position of the last code in the subtree of the code at `position` (itself
        for a leaf): the run of codes after it that start with it."""
        last = self._last.get(position)
        if last is None:
            code, lines = self.lines[position], self.lines
            last = position
            while last + 1 < len(lines) and lines[last + 1].startswith(code):
                last += 1
            self._last[position] = last
        return last


_MAX_CHOICES = 6
"""Billable choices named one by one at most; more are summed up."""


def billable_choices(index: CodeIndex, position: int) -> str:
    """The billable codes under a heading, in tabular order, with runs that differ only in
    their last digit written as ranges: ``C81.90-C81.99 or C81.9A``.

    >>> index = build_index(["C81", "C819", *[f"C819{d}" for d in range(10)], "C819A"], "t", "t")
    >>> billable_choices(index, index.find("C819"))
    'C81.90-C81.99 or C81.9A'
    >>> billable_choices(index, index.find("C81"))
    'C81.90-C81.99 or C81.9A'
    """
    leaves = [
        code
        for i, code in enumerate(index.lines[position + 1 : index.last_descendant(position) + 1])
        if index.last_descendant(position + 1 + i) == position + 1 + i
    ]
    runs: list[list[str]] = []
    for code in leaves:
        last = runs[-1][-1] if runs else ""
        follows = (
            code[:-1] == last[:-1]
            and code[-1].isdigit()
            and last[-1:].isdigit()
            and int(code[-1]) == int(last[-1]) + 1
        )
        if follows:
            runs[-1].append(code)
        else:
            runs.append([code])
    said = [
        item
        for run in runs
        for item in (
            [f"{dotted(run[0])}-{dotted(run[-1])}"] if len(run) > 2 else [dotted(c) for c in run]
        )
    ]
    if not said:  # a billable code itself
        return dotted(index.lines[position])
    if len(said) > _MAX_CHOICES:
        first, last = dotted(leaves[0]), dotted(leaves[-1])
        return f"one of its {len(leaves)} billable codes, {first} to {last}"
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " or " + said[-1]


def undotted(code: str) -> str | None:
    """``"c92.00"`` -> ``"C9200"``: the code's key in the index, or None if it is not
    shaped like an ICD-10-CM code (ASCII only, with ASCII spaces around it at most).
    Whether it exists is for the index to say."""
    text = code.strip(" ")
    # ASCII before upper-casing: a dotless i (U+0131) upper-cases to I, a long s to S.
    if not text.isascii():
        return None
    text = text.upper()
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


def _release_of(list_file: Path) -> tuple[str, dt.date, dt.date]:
    """A code list's release name, the first day it is in effect, and the last day of its
    fiscal year (the US federal fiscal year starts on October 1; an October release is
    next year's)."""
    match = _LIST_NAME.fullmatch(list_file.name)
    if not match or match.group(1) not in _MONTHS:
        return list_file.stem, dt.date.min, dt.date.max
    month, year = _MONTHS.index(match.group(1)) + 1, int(match.group(2))
    fiscal = year + 1 if month >= 10 else year
    name = f"FY{fiscal} ({_MONTHS[month - 1]} 1, {year} update)"
    return name, dt.date(year, month, 1), dt.date(fiscal, 9, 30)


def build_index(lines: list[str], release: str, source: str) -> CodeIndex:
    """Index a tabular-order (pre-order) list of undotted codes, chapters and blocks."""
    return CodeIndex(tuple(line for line in lines if line), release, source)


def _package_version(package_dir: Path) -> str:
    # What importlib.metadata would say, without its import cost at start-up.
    for info in package_dir.parent.glob(f"{PACKAGE}-*.dist-info"):
        return info.name[len(PACKAGE) + 1 : -len(".dist-info")]
    import importlib.metadata  # slow to import: only where the package has no dist-info

    return importlib.metadata.version(PACKAGE.replace("_", "-"))  # pragma: no cover


_NAMED = re.compile(rb"<name>([^<]*)</name>\s*<desc>([^<]*)</desc>")
_LOOKUPS_BEFORE_TABLE = 16
"""Descriptions found by searching the tabular's text before all of them are read."""


class _Descriptions:
    """The installed release's tabular descriptions, read when first asked for: a search of
    the text per code for the first few, then a table of all of them (a batch asks for
    many; one case for a few, and the table costs a tenth of a second)."""

    def __init__(self) -> None:
        self.found: dict[str, str | None] = {}
        self.table: dict[str, str] | None = None

    @cached_property
    def text(self) -> bytes:
        tabular = sorted(_data_dir().glob("icd10c*-tabular-*.xml"))
        return tabular[0].read_bytes() if tabular else b""

    def of(self, code: str) -> str | None:
        if self.table is None and len(self.found) >= _LOOKUPS_BEFORE_TABLE:
            self.table = {
                name.decode("ascii", "replace"): html.unescape(desc.decode("utf-8", "replace"))
                for name, desc in _NAMED.findall(self.text)
            }
        if self.table is not None:
            return self.table.get(code)
        if code not in self.found:
            at = self.text.find(b"<name>" + code.encode("ascii") + b"</name>")
            match = _NAMED.match(self.text, at) if at >= 0 else None
            self.found[code] = html.unescape(match.group(2).decode()) if match else None
        return self.found[code]


_DESCRIPTIONS = _Descriptions()


def description(undotted_code: str) -> str | None:
    """A code's words in the installed release's tabular list (``D613``: ``Idiopathic
    aplastic anemia``); None for a code it does not describe (a 7th-character extension,
    a code retired since).

    >>> description("D613")
    'Idiopathic aplastic anemia'
    """
    return _DESCRIPTIONS.of(dotted(undotted_code))


def _code_list() -> Path:
    lists = sorted(_data_dir().glob("code-list-*.txt"))
    if len(lists) != 1:
        raise RuntimeError(f"expected one code list in {PACKAGE}, found {len(lists)}")
    return lists[0]


@cache
def release() -> tuple[str, str]:
    """Which release is installed and where it comes from, without reading it."""
    code_list = _code_list()
    version = _package_version(code_list.parent.parent)
    return _release_of(code_list)[0], f"simple-icd-10-cm {version}"


@cache
def code_index() -> CodeIndex:
    """The index of the installed ICD-10-CM release, built once per process."""
    return _read_index(_code_list(), *release())


def _read_index(code_list: Path, name: str, source: str) -> CodeIndex:
    # The lists are ASCII, some with CRLF line ends; bytes split faster than text read in
    # universal-newline mode.
    return build_index(code_list.read_bytes().decode("ascii").splitlines(), name, source)


_SHIPPED = Path(__file__).with_name("icd10cm_releases")


@dataclass(frozen=True)
class Release:
    """One ICD-10-CM release: its name, where it comes from, and its dates of service (from
    its first day to the end of its fiscal year). Its codes are read when first asked."""

    name: str
    source: str
    start: dt.date
    end: dt.date
    path: Path

    def index(self) -> CodeIndex:
        """The release's codes (read once per process)."""
        return _index_of(self)


@cache
def _index_of(release_: Release) -> CodeIndex:
    if release_.name == release()[0]:
        return code_index()
    return _read_index(release_.path, release_.name, release_.source)


@cache
def releases() -> tuple[Release, ...]:
    """Every release here, in date order: those shipped as data files, and the installed
    one (which stands for a shipped one of the same name)."""
    installed = _code_list()
    found = {}
    for path in sorted(_SHIPPED.glob("code-list-*.txt")):
        name, start, end = _release_of(path)
        found[name] = Release(
            name, "dli-check (from simple-icd-10-cm, see SOURCE.md)", start, end, path
        )
    name, start, end = _release_of(installed)
    found[name] = Release(name, release()[1], start, end, installed)
    return tuple(sorted(found.values(), key=lambda r: r.start))


def in_any_release(undotted_code: str) -> bool:
    """Whether some release here has the code: the installed one is asked first."""
    if undotted_code in code_index():
        return True
    return any(undotted_code in r.index() for r in releases())


@dataclass(frozen=True, eq=False)  # interned by `releases_on` and `releases_received`
class ReleaseChoice:
    """The releases a line's codes are judged by: the one in effect on its date of service,
    or, when that one is not here, those just before and after it (a code valid, or
    billable, in either is); with no date, the latest."""

    releases: tuple[Release, ...]
    gap: str = ""
    """Which release of the date of service is not here (``FY2024``); empty when it is."""
    dated: bool = True
    """False for a line with no date of service (and no received date in its place)."""
    received: dt.date | None = None
    """The date the case was received, which chose the releases for a line with no date
    of service (`releases_received`)."""

    @cached_property
    def name(self) -> str:
        """``FY2025 (April 1, 2025 update)``, or two releases joined by "or"."""
        return " or ".join(r.name for r in self.releases)

    @property
    def per_line(self) -> bool:
        """Whether `why` is said once for the line (which has no date of service), not
        with each code."""
        return not self.dated or self.received is not None

    @property
    def why(self) -> str:
        """Why these releases, when they are not simply the one in effect on the date."""
        either = "either " if len(self.releases) > 1 else ""
        if not self.dated:
            return (
                f"the line has no date of service, so its codes are read in {self.name}, "
                "the latest release here"
            )
        if self.received is not None:
            if self.gap:
                return (
                    "the line has no date of service, so its codes are read by the date the "
                    f"case was received ({self.received}): {self.gap}, so a code valid in "
                    f"{either}{self.name} is accepted"
                )
            return (
                f"the line has no date of service, so its codes are read in {self.name}, the "
                f"release in effect when the case was received ({self.received})"
            )
        if not self.gap:
            return ""
        return f"{self.gap}, so a code valid in {either}{self.name} is accepted"


@lru_cache(maxsize=4096)
def releases_on(day: dt.date | None) -> ReleaseChoice:
    """The releases a code billed on a date of service is judged by: the release in effect
    then, when it is here; else the releases here just before and just after it; with no
    date, the latest release here.

    >>> releases_on(dt.date(2025, 6, 3)).name
    'FY2025 (April 1, 2025 update)'
    >>> releases_on(dt.date(2024, 6, 3)).name
    'FY2021 (January 1, 2021 update) or FY2025 (April 1, 2025 update)'
    >>> releases_on(dt.date(2024, 6, 3)).gap
    'ICD-10-CM FY2024 is not shipped here'
    """
    every = releases()
    if day is None:
        return _choice(every[-1:], "", dated=False)
    for candidate in every:
        if candidate.start <= day <= candidate.end:
            return _choice((candidate,), "", dated=True)
    before = [r for r in every if r.end < day][-1:]
    after = [r for r in every if r.start > day][:1]
    fiscal = day.year + 1 if day.month >= 10 else day.year
    return _choice((*before, *after), f"ICD-10-CM FY{fiscal} is not shipped here", dated=True)


@lru_cache(maxsize=4096)
def releases_received(day: dt.date) -> ReleaseChoice:
    """The releases a line with no date of service is judged by when its case was received
    on `day`: those of `releases_on(day)`, saying why once for the line.

    >>> on = releases_received(dt.date(2025, 6, 3))
    >>> on.name, on.per_line
    ('FY2025 (April 1, 2025 update)', True)
    """
    on = releases_on(day)
    return ReleaseChoice(on.releases, on.gap, dated=True, received=day)


@cache
def _choice(chosen: tuple[Release, ...], gap: str, dated: bool) -> ReleaseChoice:
    return ReleaseChoice(chosen, gap, dated)
