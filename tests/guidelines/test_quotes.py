"""Every quote in the bundled rule file is the guideline's own words.

The guideline's text lives outside the project (../shared/guideline); where it is not
beside the checkout, this test is skipped. Whitespace is normalised, and the extraction's
bold markers (**) are not words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from conftest import ROOT

GUIDELINE = ROOT.parent / "shared" / "guideline" / "CG-TRANS-03.txt"


def _normalise(text: str) -> str:
    return " ".join(text.replace("**", "").split())


def _quotes(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("quote", "description") and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from _quotes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _quotes(value, f"{path}[{i}]")


RULES = yaml.safe_load((ROOT / "rules" / "cg-trans-03.yaml").read_text(encoding="utf-8"))
# The case section's descriptions and questions are ours: the guideline has no such words;
# so are the descriptions of a code set the guideline does not print (it has no citation).
PRINTED = {**RULES, "code_sets": {k: v for k, v in RULES["code_sets"].items() if "citation" in v}}
QUOTES = list(_quotes({k: v for k, v in PRINTED.items() if k != "case"}))


@pytest.mark.skipif(not GUIDELINE.exists(), reason="the guideline text is not beside this checkout")
@pytest.mark.parametrize(("where", "quote"), QUOTES, ids=[w for w, _ in QUOTES])
def test_quote_is_verbatim(where: str, quote: str) -> None:
    text = _normalise(GUIDELINE.read_text(encoding="utf-8"))
    # The Coding table prints a code, a tab, then its words: the words must be there.
    assert _normalise(quote) in text


def test_quotes_were_found() -> None:
    assert len(QUOTES) > 30
    assert all(re.search(r"\S", q) for _, q in QUOTES)
