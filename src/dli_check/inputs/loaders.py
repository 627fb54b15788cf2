"""Reading JSON case files strictly (`dli_check.files` reads them safely); rule files are
YAML, read in `dli_check.language.text`.

Duplicate keys are errors: parsers otherwise keep the last one silently.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Collection
from typing import Any

import jiter

from dli_check.errors import CaseError
from dli_check.files import MAX_CASE_FILE_BYTES, read_regular_file
from dli_check.inputs.json_positions import first_duplicate


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey()
    return result


def _no_constants(name: str) -> Any:
    raise _BadConstant(name)


class _DuplicateKey(ValueError):
    pass


class _BadConstant(ValueError):
    pass


_BOM = b"\xef\xbb\xbf"


def too_large(source: str) -> CaseError:
    """The error of a case over the size limit."""
    limit = MAX_CASE_FILE_BYTES // 1024
    return CaseError.one(source, f"larger than the {limit} KiB limit", kind="too_large")


def parse_case_json(raw: bytes, source: str, *, field_names: Collection[str] = ()) -> Any:
    """Decode a case's bytes strictly: size limit, UTF-8 (a BOM is fine), no duplicate
    keys, no NaN or Infinity. Raises `CaseError` naming line and column, never the content:
    a duplicate key is named only if it is one of `field_names`."""
    if len(raw) > MAX_CASE_FILE_BYTES:
        raise too_large(source)
    try:
        # jiter (Rust, from the pydantic team) parses valid JSON about 3x faster than the
        # standard library with a duplicate-key hook. Whatever it refuses goes to the
        # standard parser below, which alone decides what is refused and how it is said:
        # jiter's messages name duplicate keys (content), and it refuses some valid JSON
        # (lone surrogate escapes, nesting over 200) that the standard parser takes.
        return jiter.from_json(
            raw[3:] if raw[:3] == _BOM else raw,
            catch_duplicate_keys=True,
            allow_inf_nan=False,
            cache_mode="keys",
        )
    except ValueError:
        return parse_case_json_slowly(raw, source, field_names=field_names)


def parse_case_json_slowly(raw: bytes, source: str, *, field_names: Collection[str] = ()) -> Any:
    """`parse_case_json` with the standard parser alone: the reference that the fast path
    must agree with, and the one that words every refusal."""
    if len(raw) > MAX_CASE_FILE_BYTES:
        raise too_large(source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseError.one(source, f"not UTF-8 (byte {exc.start})", kind="encoding") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKey:
        # The key itself may be content: say where it is, and name it only if it is one of
        # the names the caller declared as field names.
        found = first_duplicate(text)
        path, line, column = found if found else ((), None, None)
        named = path[-1] if path and path[-1] in field_names else None
        message = f"duplicate key {named!r}" if named else "duplicate key"
        raise CaseError.one(
            source,
            f"{message} in a JSON object",
            path=path[:-1],
            kind="invalid_json",
            line=line,
            column=column,
        ) from None
    except _BadConstant as exc:
        raise CaseError.one(
            source, f"{exc} is not valid JSON (NaN and Infinity are refused)", kind="invalid_json"
        ) from None
    except json.JSONDecodeError as exc:
        raise CaseError.one(
            source,
            f"invalid JSON: {exc.msg}",
            kind="invalid_json",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except RecursionError:
        raise CaseError.one(source, "JSON nested too deeply", kind="too_large") from None
    except ValueError:  # e.g. an integer of more than 4300 digits
        message = "invalid JSON: a number too large"
        raise CaseError.one(source, message, kind="invalid_json") from None


def read_case_file(
    path: str | os.PathLike[str],
    *,
    follow_symlinks: bool = True,
    identity: tuple[int, ...] | None = None,
) -> bytes:
    """A case file's bytes (at most one more than the size limit, so that an oversized
    file is refused without reading it all); raises `CaseError` if it cannot be read."""
    try:
        return read_regular_file(
            path, MAX_CASE_FILE_BYTES + 1, follow_symlinks=follow_symlinks, identity=identity
        )
    except OSError as exc:
        reason = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise CaseError.one(str(path), f"cannot read: {reason}", kind="unreadable") from None
