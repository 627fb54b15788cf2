"""Reading YAML rule files (and test suites) into plain data with positions.

YAML is composed with PyYAML's safe loader (no Python object tags) into plain data, and
every mapping key and value keeps its line and column, so that a problem anywhere in a
rule file can be reported as ``file:line:column``. Duplicate keys are errors: parsers
otherwise keep the last one silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml

from dli_check.errors import PathKey, Problem, RuleFileError
from dli_check.files import MAX_RULE_FILE_BYTES

MAX_RULE_FILE_NODES = 200_000
"""Nodes of a rule file counted as expanded: an alias counts as often as it is used."""
MAX_RULE_FILE_CHARS = 2 * MAX_RULE_FILE_BYTES
"""Characters in all scalars of a rule file, counted as expanded."""

# libyaml's safe loader when PyYAML has it (it does on common platforms): same nodes, faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_MERGE_TAG = "tag:yaml.org,2002:merge"


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
        budget = [MAX_RULE_FILE_NODES, MAX_RULE_FILE_CHARS]
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
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # Merges copy mappings into mappings: nested, they grow exponentially.
                raise _YamlProblem(*_mark(key_node), "merge keys (<<) are not supported")
            key = _scalar(loader, key_node, budget)
            if not isinstance(key, str | int | bool) or key is None:
                raise _YamlProblem(*_mark(key_node), "mapping keys must be plain scalars")
            if key in result:
                raise _YamlProblem(*_mark(key_node), f"duplicate key {key!r}")
            out.key_positions[(*path, key)] = _mark(key_node)
            result[key] = _build(loader, value_node, (*path, key), out, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, n, (*path, i), out, budget) for i, n in enumerate(node.value)]
    return _scalar(loader, node, budget)


def _scalar(loader: yaml.SafeLoader | yaml.CSafeLoader, node: yaml.Node, budget: list[int]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        budget[1] -= len(node.value)
        if budget[1] < 0:
            raise _YamlProblem(*_mark(node), "too much text in YAML scalars (aliases expanding?)")
    try:
        value = loader.construct_object(node)
    except (ValueError, OverflowError):  # 2023-02-30, an integer of 5,000 digits...
        raise _YamlProblem(*_mark(node), f"not a valid {_kind(node.tag)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        # .nan compares false with everything: as a bound it would silently bound nothing.
        raise _YamlProblem(*_mark(node), "not a finite number (.nan and .inf are refused)")
    return value


def _kind(tag: str) -> str:
    name = tag.rsplit(":", 1)[-1]
    return {"timestamp": "date", "int": "integer", "float": "number"}.get(name, "value")


def load_rule_text(raw: bytes, name: str) -> Located:
    """Parse a rule file's bytes into data with positions. Raises `RuleFileError`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleFileError([Problem((), f"not UTF-8 (byte {exc.start})", name, 1, 1)]) from None
    try:
        return load_yaml(text)
    except _YamlProblem as exc:
        raise RuleFileError([Problem((), exc.message, name, exc.line, exc.column)]) from None
