"""Compiled rule files kept between runs, so that deciding one case does not pay for
validating and compiling its rule file (and for importing YAML and pydantic to do it).

An entry is the compiled `Rules`, pickled: results' parts, code sets, the generated Python
as source (`codegen` makes the functions again), and the rule file's bytes (its model is
made again when first needed, see `dli_check.language.read`). Its key is the sha256 of the
rule file's bytes and a fingerprint of the engine: its version, its modules' sizes and
times (every module of the package), the Python version and the ICD-10-CM release. A
changed engine misses; its old entries are removed when a new one is written.

The cache is trusted as Python trusts its own bytecode caches, and kept as ``ssh`` keeps
its keys:

* it lives in ``$DLI_CHECK_CACHE`` if set (``off`` turns it off), else in
  ``$XDG_CACHE_HOME/dli-check`` or ``~/.cache/dli-check``;
* the directory is created owner-only (0700), and entries are written owner-only (0600)
  to a temporary file then renamed, so that concurrent writers never leave half an entry;
* an entry is read only from a directory and a file owned by the user and not open to
  others, never through a symbolic link, and only if its key and the sha256 of its
  content match;
* anything else (unreadable, foreign, corrupt, from another engine) is ignored, and the
  rule file compiled as if there were no cache. Failing to write is silent too: the cache
  only saves time.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from functools import cache
from pathlib import Path
from typing import Any

from dli_check._version import __version__

MAGIC = b"dli-check compiled rules 1\n"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
"""An entry larger than this is not read (a rule file is at most 4 MiB)."""
_SUFFIX = ".rules"


def cache_dir() -> Path | None:
    """Where entries are kept, or None when the cache is off (or there is no home)."""
    setting = os.environ.get("DLI_CHECK_CACHE")
    if setting == "off" or not hasattr(os, "geteuid"):  # no owner checks without uids
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "dli-check"


_FORMAT = "entries-2"
"""Part of every key: entries of an older format are never read (format 1 could hold code
a rule file's comment injected, so none of them may survive)."""


@cache
def fingerprint() -> str:
    """What an entry was made by: a new engine, Python or code list makes new entries."""
    from dli_check.values.icd10cm import release

    parts = [_FORMAT, __version__, sys.version, *release()]
    package = Path(__file__).parent.parent  # the whole package, every subfolder
    for folder, directories, names in os.walk(package):
        directories.sort()
        for name in sorted(names):
            if name.endswith(".py"):
                path = Path(folder, name)
                info = os.stat(path)
                parts.append(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _entry(directory: Path, raw: bytes) -> tuple[Path, bytes] | None:
    """The entry's path and the key it holds; None when the engine cannot be told (its
    modules are not files, say)."""
    try:
        engine = fingerprint()
    except OSError:
        return None
    rules = hashlib.sha256(raw).hexdigest()
    return directory / f"{rules}.{engine[:16]}{_SUFFIX}", f"{rules}.{engine}".encode()


def load(raw: bytes) -> object | None:
    """What was stored for a rule file's bytes (its compiled rules), if the cache holds a
    sound entry; the caller checks what it is."""
    directory = cache_dir()
    if directory is None or not _safe_directory(directory):
        return None
    entry = _entry(directory, raw)
    if entry is None:
        return None
    path, key = entry
    content = _read_own_file(path)
    if content is None:
        return None
    head = MAGIC + key + b"\n"
    if not content.startswith(head):
        return None
    digest, _, payload = content[len(head) :].partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None
    import pickle

    try:
        return pickle.loads(payload)  # type: ignore[no-any-return]
    except Exception:  # an entry of an engine whose classes changed: compile instead
        return None


def store(compiled: object, raw: bytes) -> None:
    """Keep the compiled rules of a rule file's bytes for the next run; silently nothing
    when that cannot be done."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return
    if not _safe_directory(directory):
        return
    try:
        payload = _pickle(compiled)
    except Exception:  # a rule file whose compiled form pickle cannot hold
        return
    entry = _entry(directory, raw)
    if entry is None:
        return
    path, key = entry
    content = b"".join(
        (MAGIC, key, b"\n", hashlib.sha256(payload).hexdigest().encode(), b"\n", payload)
    )
    import tempfile

    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return
    _remove_stale(directory, path.name.split(".")[1])


def _pickle(compiled: object) -> bytes:
    import io
    import pickle

    from dli_check.compiler.codegen import recipe, recompile

    class _Pickler(pickle.Pickler):
        def reducer_override(self, obj: object) -> Any:
            made = recipe(obj)
            return NotImplemented if made is None else (recompile, made)

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(compiled)
    return buffer.getvalue()


def _remove_stale(directory: Path, engine: str) -> None:
    """Remove entries another engine made (they will never be read again), and what
    writers that were killed left behind an hour ago or more."""
    import time

    try:
        for entry in directory.iterdir():
            parts = entry.name.split(".")
            if entry.name.endswith(_SUFFIX) and len(parts) == 3 and parts[1] != engine:
                entry.unlink(missing_ok=True)
            elif entry.name.endswith(".tmp") and entry.lstat().st_mtime < time.time() - 3600:
                entry.unlink(missing_ok=True)
    except OSError:
        pass


def _owned(info: os.stat_result, closed: int) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & closed


def _safe_directory(directory: Path) -> bool:
    """Whether a directory is the user's own, not a link, and not writable by others."""
    try:
        info = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and _owned(info, 0o022)


def _read_own_file(path: Path) -> bytes | None:
    """A file's bytes if it is a regular file of the user's, readable by no one else."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) and _owned(info, 0o077)):
            return None
        if info.st_size > MAX_ENTRY_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
