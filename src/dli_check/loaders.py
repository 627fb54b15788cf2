"""Reading files safely: YAML rule files with positions, JSON case files strictly.

YAML is composed with PyYAML's safe loader (no Python object tags) into plain data, and
every mapping key and value keeps its line and column, so that a problem anywhere in a
rule file can be reported as ``file:line:column``. Duplicate keys are errors in both YAML
and JSON: parsers otherwise keep the last one silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dli_check.errors import CaseError, Problem, RuleFileError

MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
MAX_RULE_FILE_NODES = 200_000
MAX_CASE_FILE_BYTES = 1024 * 1024
"""A case file larger than this is refused before it is parsed."""

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# libyaml's safe loader when PyYAML has it (it does on common platforms): same nodes, faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")

PathKey = tuple[str | int, ...]


@dataclass
class Located:
    """Plain data from a YAML file, and where each part of it starts (1-based)."""

    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """Where the value at each path starts."""
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """Where the key of each mapping entry starts."""

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Where a path's value (or key) starts, or its nearest ancestor's value."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found:
                return found
        return (1, 1)


class _YamlProblem(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(text: str) -> Located:
    """Parse one YAML document into plain data with positions (safe tags only)."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        located = Located(None)
        budget = [MAX_RULE_FILE_NODES]
        located.data = _build(loader, root, (), located, budget) if root is not None else None
        return located
    except RecursionError:
        raise _YamlProblem(1, 1, "YAML nested too deeply") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise _YamlProblem(line, column, f"YAML: {exc.problem or exc.context}") from None
    finally:
        loader.dispose()


def _build(
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    node: yaml.Node,
    path: PathKey,
    out: Located,
    budget: list[int],
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _YamlProblem(*_mark(node), "too many YAML nodes (aliases expanding?)")
    out.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        raise _YamlProblem(*_mark(node), f"unsupported YAML tag {node.tag!r}")
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int | bool) or key is None:
                raise _YamlProblem(*_mark(key_node), "mapping keys must be plain scalars")
            if key in result:
                raise _YamlProblem(*_mark(key_node), f"duplicate key {key!r}")
            out.key_positions[(*path, key)] = _mark(key_node)
            result[key] = _build(loader, value_node, (*path, key), out, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, n, (*path, i), out, budget) for i, n in enumerate(node.value)]
    return loader.construct_object(node)


def read_rule_file(path: Path) -> tuple[bytes, Located]:
    """Read and parse a rule file: its bytes and its data. Raises `RuleFileError`."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_RULE_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleFileError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_RULE_FILE_BYTES:
        limit = MAX_RULE_FILE_BYTES // (1024 * 1024)
        raise RuleFileError([Problem(name, 1, 1, "", f"larger than {limit} MiB")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleFileError([Problem(name, 1, 1, "", f"not UTF-8 (byte {exc.start})")]) from None
    try:
        return raw, load_yaml(text)
    except _YamlProblem as exc:
        raise RuleFileError([Problem(name, exc.line, exc.column, "", exc.message)]) from None


def format_path(path: PathKey) -> str:
    """``("services", 0, "cpt")`` -> ``services[0].cpt``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _no_constants(name: str) -> Any:
    raise _BadConstant(name)


class _DuplicateKey(ValueError):
    pass


class _BadConstant(ValueError):
    pass


def parse_case_json(raw: bytes, source: str) -> Any:
    """Decode a case file's bytes strictly: size limit, UTF-8 (a BOM is fine), no duplicate
    keys, no NaN or Infinity. Raises `CaseError` naming line and column, never the content."""
    if len(raw) > MAX_CASE_FILE_BYTES:
        limit = MAX_CASE_FILE_BYTES // 1024
        raise CaseError(source, "", f"larger than the {limit} KiB limit", kind="too_large")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseError(source, "", f"not UTF-8 (byte {exc.start})", kind="encoding") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKey as exc:
        key = str(exc)
        # Keys are field names; anything else might be content, which errors never echo.
        named = f" {key!r}" if _FIELD_NAME.fullmatch(key) else ""
        raise CaseError(
            source, "", f"duplicate key{named} in a JSON object", kind="invalid_json"
        ) from None
    except _BadConstant as exc:
        raise CaseError(
            source,
            "",
            f"{exc} is not valid JSON (NaN and Infinity are refused)",
            kind="invalid_json",
        ) from None
    except json.JSONDecodeError as exc:
        raise CaseError(
            source,
            "",
            f"invalid JSON: {exc.msg}",
            kind="invalid_json",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except RecursionError:
        raise CaseError(source, "", "JSON nested too deeply", kind="too_large") from None
    except ValueError:  # e.g. an integer of more than 4300 digits
        message = "invalid JSON: a number too large"
        raise CaseError(source, "", message, kind="invalid_json") from None


def read_case_file(path: Path) -> Any:
    """Read and decode a case file; raises `CaseError` for every way it can be bad."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CASE_FILE_BYTES + 1)
    except OSError as exc:
        raise CaseError(source, "", f"cannot read: {exc.strerror}", kind="unreadable") from None
    return parse_case_json(raw, source)
