"""The compiled-rules cache: what it reads decides exactly as a fresh compile does; it reads
only sound entries of the user's own, in a directory of the user's own; it never makes
loading fail; concurrent writers leave one whole entry."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ROOT
from dli_check import evaluate
from dli_check.engine import cache as rules_cache
from dli_check.engine.rules import Rules, compile_rules, rules_from_bytes
from dli_check.errors import RuleFileError

RULE_FILE = ROOT / "rules" / "cg-trans-03.yaml"


def rules_from_bytes_cached(raw: bytes) -> Rules | None:
    """What the cache holds for a rule file's bytes, if it is sound compiled rules."""
    found = rules_cache.load(raw)
    return found if isinstance(found, Rules) and found.raw == raw else None


RAW = RULE_FILE.read_bytes()
CASES = sorted((ROOT / "examples" / "cases").glob("*.json")) + sorted(
    (ROOT / "examples" / "fhir").glob("*.json")
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("DLI_CHECK_CACHE", str(directory))
    return directory


def _entry(cache: Path) -> Path:
    (entry,) = cache.glob("*.rules")
    return entry


def test_cached_rules_decide_as_freshly_compiled_ones(cache: Path) -> None:
    fresh = rules_from_bytes(RAW, "first.yaml")
    entry = _entry(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    cached = rules_from_bytes(RAW, "second.yaml")
    assert cached.rule_model._model is None  # read from the cache: no model made yet
    assert (cached.source, cached.sha256) == ("second.yaml", fresh.sha256)
    for case in CASES:
        assert evaluate(case, cached).to_json() == evaluate(case, fresh).to_json(), case.name
    assert cached.case_format.source == fresh.case_format.source
    assert {n: s.source for n, s in cached.services.items()} == {
        n: s.source for n, s in fresh.services.items()
    }
    assert cached.model == fresh.model  # made again when asked for


def _flip_last_byte(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[-1] ^= 1
    entry.write_bytes(bytes(data))


def _other_key(entry: Path) -> None:
    data = entry.read_bytes()
    entry.write_bytes(data.replace(hashlib.sha256(RAW).hexdigest().encode(), b"0" * 64, 1))


def _not_rules(entry: Path) -> None:
    key_line = entry.read_bytes().split(b"\n")[1]
    payload = pickle.dumps(42)
    digest = hashlib.sha256(payload).hexdigest().encode()
    entry.write_bytes(rules_cache.MAGIC + key_line + b"\n" + digest + b"\n" + payload)


def _open_to_others(entry: Path) -> None:
    entry.chmod(0o644)


def _directory_open_to_others(entry: Path) -> None:
    entry.parent.chmod(0o777)


def _symbolic_link(entry: Path) -> None:
    target = entry.with_name("elsewhere")
    entry.rename(target)
    entry.symlink_to(target)


def _truncated(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[:100])


def _unreadable(entry: Path) -> None:
    entry.unlink()
    entry.mkdir()


@pytest.mark.parametrize(
    "spoil",
    [
        _flip_last_byte,
        _other_key,
        _not_rules,
        _open_to_others,
        _directory_open_to_others,
        _symbolic_link,
        _truncated,
        _unreadable,
    ],
)
def test_unsound_entries_are_ignored(cache: Path, spoil: Callable[[Path], None]) -> None:
    rules_from_bytes(RAW, "first.yaml")
    spoil(_entry(cache))
    assert rules_from_bytes_cached(RAW) is None
    rules = rules_from_bytes(RAW, "second.yaml")  # compiled again, as if there were no cache
    assert rules.rule_model._model is not None
    assert (
        evaluate(CASES[0], rules).to_json() == evaluate(CASES[0], compile_rules(RAW, "x")).to_json()
    )


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_entries_of_another_user_are_ignored(cache: Path) -> None:
    rules_from_bytes(RAW, "first.yaml")
    os.chown(_entry(cache), 65534, 65534)
    assert rules_from_bytes_cached(RAW) is None
    os.chown(_entry(cache), 0, 0)
    os.chown(cache, 65534, 65534)
    assert rules_from_bytes_cached(RAW) is None


def test_another_engine_misses_and_its_entries_are_removed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules_from_bytes(RAW, "first.yaml")
    old = _entry(cache)
    for name, age in ((".left-by-a-killed-writer.tmp", 7200), (".being-written.tmp", 0)):
        (cache / name).write_bytes(b"")
        os.utime(cache / name, (old.stat().st_atime - age, old.stat().st_mtime - age))
    monkeypatch.setattr(rules_cache, "fingerprint", lambda: "f" * 64)
    assert rules_from_bytes_cached(RAW) is None
    rules_from_bytes(RAW, "second.yaml")
    assert sorted(p.name for p in cache.iterdir()) == [
        ".being-written.tmp",
        old.name.replace(old.name.split(".")[1], "f" * 16),
    ]


@pytest.mark.parametrize("setting", ["off", "{file}/below-a-file"])
def test_no_cache_never_fails_loading(
    setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    monkeypatch.setenv("DLI_CHECK_CACHE", setting.format(file=a_file))
    assert rules_from_bytes(RAW, "rules.yaml").sha256 == hashlib.sha256(RAW).hexdigest()
    assert rules_from_bytes_cached(RAW) is None


def test_invalid_rule_files_are_not_cached(cache: Path) -> None:
    with pytest.raises(RuleFileError):
        rules_from_bytes(b"guideline: {}\n", "bad.yaml")
    assert not list(cache.glob("*.rules"))


def test_concurrent_writers_leave_one_whole_entry(cache: Path) -> None:
    writer = (
        "from pathlib import Path\nfrom dli_check.engine.rules import compile_rules\n"
        "from dli_check.engine import cache as rules_cache\n"
        f"rules = compile_rules(Path({str(RULE_FILE)!r}).read_bytes(), 'r.yaml')\n"
        "for _ in range(5):\n    rules_cache.store(rules, rules.raw)\n"
    )
    env = {**os.environ, "DLI_CHECK_CACHE": str(cache)}
    writers = [subprocess.Popen([sys.executable, "-c", writer], env=env) for _ in range(4)]
    assert [w.wait(timeout=60) for w in writers] == [0] * 4
    assert [p.name.endswith(".rules") for p in cache.iterdir()] == [True]
    loaded = rules_from_bytes_cached(RAW)
    assert loaded is not None and loaded.sha256 == hashlib.sha256(RAW).hexdigest()
