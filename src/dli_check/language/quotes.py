"""Whether a rule file's quotes are the guideline's own words: every ``quote`` (of a
citation, a scope, an outcome), and the words beside each code of a code set the guideline
prints (one with a citation), must appear verbatim in the guideline's text, white space
normalised and the extraction's bold markers (``**``) aside.

>>> from dli_check.language.text import load_rule_text
>>> located = load_rule_text(b"guideline: {scope: {quote: 'not this'}}", "r.yaml")
>>> [str(p) for p in unquoted(located, "r.yaml", "The scope is this.")]
["r.yaml:1:28: guideline.scope.quote: is not the guideline's words, verbatim"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dli_check.errors import PathKey, Problem
from dli_check.language.read import located_problem

if TYPE_CHECKING:
    from dli_check.language.text import Located


def normalised(text: str) -> str:
    """Text with its white space runs as one space, and no bold markers."""
    return " ".join(text.replace("**", "").split())


def unquoted(located: Located, name: str, guideline: str) -> list[Problem]:
    """A problem, at its line and column, for each quote of the rule file (as
    `load_rule_text` read it) that is not verbatim in `guideline`."""
    text = normalised(guideline)
    return [
        located_problem(name, located, path, "is not the guideline's words, verbatim")
        for path, quote in _quotes(located.data, ())
        if normalised(quote) not in text
    ]


def _quotes(node: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "quote" and isinstance(value, str):
                yield (*path, key), value
            elif key == "case":
                continue  # the case section's words are the rule file's own
            elif key == "code_sets" and isinstance(value, dict):
                yield from _printed_codes(value, (*path, key))
            else:
                yield from _quotes(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _quotes(value, (*path, i))


def _printed_codes(code_sets: dict[Any, Any], path: PathKey) -> Iterator[tuple[PathKey, str]]:
    """The quotes of each code set, and the words beside the codes of one the guideline
    prints (it has a citation); another's words are the rule file's own."""
    for set_name, code_set in code_sets.items():
        where = (*path, str(set_name))
        yield from _quotes(code_set, where)
        if not (isinstance(code_set, dict) and "citation" in code_set):
            continue
        for i, entry in enumerate(code_set.get("codes") or []):
            if isinstance(entry, dict) and isinstance(entry.get("description"), str):
                yield (*where, "codes", i, "description"), entry["description"]
