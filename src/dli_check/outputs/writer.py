"""Writing records so that none is lost, cut or overwritten by accident.

* An output is refused when it is an input: the same file (by device and inode, so hard
  and symbolic links count) as the rule file, the input file, or a case the batch reads.
* A new output is written to a temporary file beside the target and renamed over it only
  when the run ends with every record written; a failed run leaves the target as it was.
* ``--resume`` appends to the existing output, and syncs it to disk at the end.
* Every write is whole: short writes are continued, a non-blocking pipe is waited on, and
  a write that fails (disk full, interrupted by force) is cut back to the last whole
  record where the output is a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dli_check.errors import DliCheckError

STDOUT = "<stdout>"

Identity = tuple[int, int]
"""A file's (device, inode): the same for every path that leads to it."""


class OutputError(DliCheckError):
    """An output that must not be written: it is an input."""


def identity(path: str | os.PathLike[str]) -> Identity | None:
    """The (device, inode) of the file a path leads to, or None if there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


@dataclass
class Output:
    """An open output: write whole records, then `commit` (or `abandon`)."""

    fd: int
    name: str
    target: str | None = None
    """The file to rename the temporary file to on commit; None when writing in place."""
    temporary: str | None = None
    cuttable: bool = False
    """Whether a failed write can be cut back (the output is a regular file)."""
    sync: bool = False
    stream: BinaryIO | None = None
    """Standard output when it has no file descriptor (a test runner's capture)."""

    def write(self, data: bytes) -> None:
        """Write all of `data`, or raise with the output cut back to where it was."""
        if self.stream is not None:
            self.stream.write(data)
            self.stream.flush()
            return
        start = os.fstat(self.fd).st_size if self.cuttable else 0
        try:
            write_all(self.fd, data)
        except BaseException:
            if self.cuttable:
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, start)
            raise

    def commit(self) -> None:
        """Make the output durable and, for a new file, put it in place of the target."""
        if self.sync:
            os.fsync(self.fd)
        if self.fd >= 0 and self.name != STDOUT:
            os.close(self.fd)
            self.fd = -1
        if self.temporary is not None and self.target is not None:
            os.replace(self.temporary, self.target)
            self.temporary = None
            _sync_directory(self.target)

    def abandon(self) -> None:
        """Close without committing: a temporary file is removed, the target untouched."""
        if self.fd >= 0 and self.name != STDOUT:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if self.temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.temporary)
            self.temporary = None


def write_failure(output: str, exc: OSError) -> str:
    """What to tell a user whose output `output` could not be written.

    After a closed pipe, standard output is pointed at /dev/null, so that the interpreter's
    own flush at exit cannot fail a second time.
    """
    if isinstance(exc, BrokenPipeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return "output closed before everything was written"
    return f"{output}: cannot write: {exc.strerror}"


def write_all(fd: int, data: bytes) -> None:
    """Write every byte: continue after short writes and wait on a full non-blocking
    pipe. An interrupted write is resumed by Python itself unless a signal handler raises."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


def open_output(name: str, *, append: bool = False) -> Output:
    """Open an output: ``-`` for standard output, else a file, new (written beside the
    target and renamed on commit) or, with `append`, continued in place."""
    if name == "-":
        sys.stdout.flush()
        try:
            fd = sys.stdout.fileno()
        except (OSError, ValueError):
            return Output(-1, STDOUT, stream=sys.stdout.buffer)
        return Output(fd, STDOUT, cuttable=stat.S_ISREG(os.fstat(fd).st_mode))
    real = os.path.realpath(name)
    try:
        info: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory")
    if append:
        fd = os.open(real, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        return Output(fd, name, cuttable=True, sync=True)
    if info is not None and not stat.S_ISREG(info.st_mode):
        # A device or a FIFO (/dev/null, a named pipe) is written in place, never replaced.
        fd = os.open(real, os.O_WRONLY | os.O_CLOEXEC)
        return Output(fd, name)
    directory, base = os.path.split(real)
    fd, temporary = tempfile.mkstemp(prefix=f".{base}.", suffix=".partial", dir=directory)
    # mkstemp makes the file private; give it the mode the target has, or would get.
    os.fchmod(fd, stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask())
    return Output(fd, name, target=real, temporary=temporary, cuttable=True, sync=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_directory(path: str) -> None:
    # The rename is durable once the directory is synced (where the system allows it).
    with contextlib.suppress(OSError):
        fd = os.open(Path(path).parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
