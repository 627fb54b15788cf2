"""Reading files safely (never blocking on a FIFO, refusing links where asked, within size
limits), and JSON case files strictly; `rule_text` reads YAML rule files.

Duplicate keys are errors: parsers otherwise keep the last one silently.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO

import jiter

from dli_check.errors import CaseError, Problem, RuleFileError
from dli_check.inputs.json_positions import first_duplicate

MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
MAX_CASE_FILE_BYTES = 1024 * 1024
"""A case larger than this is refused while it is read, before it is parsed."""


def read_rule_file(path: Path) -> bytes:
    """A rule file's bytes, read once (never blocking on a FIFO). Raises `RuleFileError`."""
    name = str(path)
    try:
        raw = read_regular_file(path, MAX_RULE_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleFileError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_RULE_FILE_BYTES:
        limit = MAX_RULE_FILE_BYTES // (1024 * 1024)
        raise RuleFileError([Problem(name, 1, 1, "", f"larger than {limit} MiB")])
    return raw


class NotRegularFile(OSError):
    """A path that is a FIFO, a device or a directory where a file was expected."""

    def __init__(self) -> None:
        super().__init__(0, "not a regular file")


class ChangedFile(OSError):
    """A file that is no longer the one that was listed."""

    def __init__(self) -> None:
        super().__init__(0, "the file changed after it was listed")


def read_regular_file(
    path: str | os.PathLike[str],
    limit: int,
    *,
    follow_symlinks: bool = True,
    identity: tuple[int, ...] | None = None,
) -> bytes:
    """At most `limit` bytes of a regular file. Opening never blocks (a FIFO is refused,
    not waited on); without `follow_symlinks` a symbolic link is refused; with
    `identity` (device, inode and, where given, size and modification time in ns), a
    file that is not the one listed (swapped or changed since) is refused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except ValueError:  # a NUL byte in the name
        raise OSError(errno.EINVAL, "not a valid file name") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile()
        if identity is not None and identity != _version(info)[: len(identity)]:
            raise ChangedFile()
        parts, size = [], 0
        want = min(info.st_size + 1, limit)  # one read takes in a file that is not growing
        while size < limit:
            part = os.read(fd, min(want, limit - size))
            parts.append(part)
            size += len(part)
            if len(part) < want:
                break
        return b"".join(parts)
    finally:
        os.close(fd)


def _version(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def read_at_most(handle: BinaryIO, limit: int) -> bytes:
    """Up to `limit` bytes from a stream (a file, standard input), never more."""
    parts, size = [], 0
    while size < limit:
        part = handle.read(limit - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


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
