"""Where things are in JSON text: the line and column of a value or key by its path, and
the first duplicate key.

The standard parser gives positions only for syntax errors. A problem found later (an
unknown field, a value of the wrong type, a duplicate key) is located by walking the text
once more, on the error path only. The walk is iterative, so depth costs no recursion,
and it assumes text that the standard parser has already accepted, apart from duplicates.

>>> text = '{"a": 1,\\n "b": [true, {"c": null}]}'
>>> locate(text, [("b", 1, "c")])
{('b', 1, 'c'): (2, 20)}
>>> locate(text, [("b",)], keys=True)
{('b',): (2, 2)}
>>> first_duplicate('{"x": {"k": 1, "\\\\u006b": 2}}')
(('x', 'k'), 1, 16)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from dli_check.errors import PathKey

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")


def _events(text: str) -> Iterator[tuple[str, PathKey, int]]:
    """``("value" | "key", path, offset)`` for every value and key, in text order."""
    # Each frame: [path, kind ("{" or "["), next list index]; a key pending in `key`.
    stack: list[list[object]] = []
    key: str | None = None
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    expect_value = True
    while pos < len(text):
        char = text[pos]
        if expect_value:
            if stack:
                frame = stack[-1]
                parent: PathKey = frame[0]  # type: ignore[assignment]
                if frame[1] == "[":
                    index: int = frame[2]  # type: ignore[assignment]
                    path: PathKey = (*parent, index)
                    frame[2] = index + 1
                else:
                    path = (*parent, key or "")
            else:
                path = ()
            yield ("value", path, pos)
            if char in "{[":
                stack.append([path, char, 0])
                pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
                if text[pos : pos + 1] in "}]":
                    stack.pop()
                    pos += 1
                    expect_value = False
                    continue
                expect_value = char == "["
                if char == "{":
                    start = pos
                    pos, key = _key(text, pos)
                    yield ("key", (*path, key), start)
                    pos = _after_colon(text, pos)
                    expect_value = True
                continue
            match = (_STRING if char == '"' else _SCALAR).match(text, pos)
            if match is None:
                return  # not JSON the parser accepted: nothing more to find
            pos = match.end()
            expect_value = False
            continue
        # After a value: a comma, or the end of the container.
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            return
        char = text[pos]
        if char == ",":
            pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            frame = stack[-1]
            if frame[1] == "{":
                parent = frame[0]  # type: ignore[assignment]
                start = pos
                pos, key = _key(text, pos)
                yield ("key", (*parent, key), start)
                pos = _after_colon(text, pos)
            expect_value = True
        elif char in "}]":
            stack.pop()
            pos += 1
        else:
            return


def _key(text: str, pos: int) -> tuple[int, str]:
    match = _STRING.match(text, pos)
    if match is None:
        raise ValueError("not JSON text")
    return match.end(), json.loads(match.group())


def _after_colon(text: str, pos: int) -> int:
    pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    return _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def locate(
    text: str, paths: Iterable[PathKey], *, keys: bool = False
) -> dict[PathKey, tuple[int, int]]:
    """The (line, column) of each path's value (or, with `keys`, of its key), 1-based; a
    path that is not in the text is left out. One walk, which stops when all are found."""
    wanted = set(paths)
    kind = "key" if keys else "value"
    found: dict[PathKey, tuple[int, int]] = {}
    if not wanted:
        return found
    try:
        for event, path, offset in _events(text):
            if event == kind and path in wanted and path not in found:
                found[path] = _line_column(text, offset)
                if len(found) == len(wanted):
                    break
    except ValueError:
        pass
    return found


def first_duplicate(text: str) -> tuple[PathKey, int, int] | None:
    """The path, line and column of the first key that repeats a key of its object (after
    decoding escapes, so ``"a"`` and ``"\\u0061"`` are the same key), or None."""
    seen: set[PathKey] = set()
    try:
        for event, path, offset in _events(text):
            if event == "key":
                if path in seen:
                    return (path, *_line_column(text, offset))
                seen.add(path)
    except ValueError:
        pass
    return None
