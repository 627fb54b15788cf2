"""Making untrusted text inert: for a terminal, for a spreadsheet, and for UTF-8 output.

Case files and file names come from other systems. Printed as they are, a newline or an
ANSI escape sequence in a case id can draw a fake decision on a reviewer's terminal, a cell
that starts with ``=`` runs as a formula in a spreadsheet, and a lone surrogate (from a
``\\udc80`` JSON escape, or a file name that is not UTF-8) cannot be written as UTF-8 at
all. Each function here maps text to a form that is shown, never obeyed, and that keeps
every character recoverable through backslash escapes:

>>> terminal("EX-1\\n\\x1b[32mMEDICALLY NECESSARY")
'EX-1\\\\n\\\\x1b[32mMEDICALLY NECESSARY'
>>> csv_cell("=HYPERLINK(1)")
"'=HYPERLINK(1)"
>>> csv_cell("a\\r=1+1")
'a\\\\r=1+1'
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# C0 and C1 controls, DEL, lone surrogates, and the characters that reorder or break lines
# on display (bidirectional overrides and isolates, line and paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_OR_BACKSLASH = re.compile(r"\\|" + _UNSAFE.pattern)

FORMULA_STARTS = ("=", "+", "-", "@")
"""A spreadsheet reads a cell that starts with one of these as a formula."""


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """Text to print on a terminal: controls, line breaks and bidirectional overrides
    become backslash escapes, so nothing in it moves the cursor, colours or forges lines."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def csv_cell(text: str) -> str:
    """Text for one spreadsheet cell, lossless: backslashes and controls are escaped (so
    no cell holds a line break), and a cell that starts like a formula gets a leading
    apostrophe, which spreadsheets show as text."""
    if _UNSAFE_OR_BACKSLASH.search(text):
        text = _UNSAFE_OR_BACKSLASH.sub(_escape, text)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def escape_surrogates(json_text: str) -> str:
    r"""JSON text that can be written as UTF-8: a lone surrogate (from a ``\udc80``
    escape in the input) becomes that escape again, which means the same in JSON.

    >>> escape_surrogates('"' + chr(0xDC80) + '"')
    '"\\udc80"'
    """
    try:
        json_text.encode("utf-8")
    except UnicodeEncodeError:
        return json_text.encode("utf-8", "backslashreplace").decode("utf-8")
    return json_text


# What json.dumps(ensure_ascii=False) leaves raw inside strings that a terminal obeys or
# draws misleadingly: DEL and C1 controls, line and paragraph separators, bidirectional
# overrides and isolates (C0 controls it escapes itself).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_json(json_text: str) -> str:
    r"""JSON text to print on a terminal: the same JSON (each such character becomes its
    ``\uXXXX`` escape, which means the same), with nothing a terminal would obey.

    >>> terminal_json('{"id": "EX\u202e1"}')
    '{"id": "EX\\u202e1"}'
    """
    if not _UNSAFE_IN_JSON.search(json_text):
        return json_text
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
