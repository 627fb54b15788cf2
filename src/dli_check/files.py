"""Reading files safely: never blocking on a FIFO, refusing links where asked, refusing a
file that changed since it was listed, within size limits. Every input of dli-check (rule
files, cases, JWKS) is read here.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from dli_check.errors import Problem, RuleFileError

MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
MAX_CASE_FILE_BYTES = 1024 * 1024
"""A case larger than this is refused while it is read, before it is parsed."""


def read_rule_file(path: Path) -> bytes:
    """A rule file's bytes, read once (never blocking on a FIFO). Raises `RuleFileError`."""
    name = str(path)
    try:
        raw = read_regular_file(path, MAX_RULE_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleFileError([Problem((), f"cannot read: {exc.strerror}", name, 1, 1)]) from None
    if len(raw) > MAX_RULE_FILE_BYTES:
        limit = MAX_RULE_FILE_BYTES // (1024 * 1024)
        raise RuleFileError([Problem((), f"larger than {limit} MiB", name, 1, 1)])
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
