"""MkDocs hooks: pages made from the repository's own files and tables, so that the site
never holds a second copy to fall out of date."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _operators() -> str:
    from dli_check.language.operators import OPERATORS

    rows = []
    for name, operator in OPERATORS.items():
        doc = " ".join((operator.model.__doc__ or "").split())
        fields = ", ".join(f"`{field}`" for field in operator.model.model_fields)
        example = f"\n```yaml\n{operator.example}\n```\n" if operator.example else ""
        rows.append(
            f"### `{name}`\n\n{doc}\n\nWritten `{{{name}: ...}}`; its model's fields: {fields}.\n"
            + example
        )
    return "\n".join(rows)


def _fact_types() -> str:
    from dli_check.language.fact_types import FACT_TYPES

    rows = [
        "| type | a value is | options | FHIR answers | questionnaire item |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in FACT_TYPES.items():
        options = ", ".join(f"`{o}`" for o in sorted(row.options)) or "none"
        answers = ", ".join(f"`{a}`" for a in row.fhir_answers)
        rows.append(
            f"| `{name}` | {row.words} | {options} | {answers} | `{row.questionnaire_item}` |"
        )
    return "\n".join(rows) + "\n"


def _code_systems() -> str:
    from dli_check.values.systems import CODE_SYSTEMS

    rows = ["| system | e.g. | ranges | FHIR system |", "| --- | --- | --- | --- |"]
    for name, system in CODE_SYSTEMS.items():
        ranges = "yes" if system.ordered else "no (list each code)"
        rows.append(f"| `{name}` | `{system.example}` | {ranges} | `{system.uris[0]}` |")
    return "\n".join(rows) + "\n"


_FILE = re.compile(r"\{\{ FILE ([\w./-]+) \}\}")
"""``{{ FILE path }}``: a file of the repository, as a YAML block."""


_README_LINKS = (
    ("](docs/design/)", "](design/0001-rule-files-compile-to-python.md)"),
    ("](docs/", "]("),
    ("](CHANGELOG.md)", "](changelog.md)"),
    ("](CONTRIBUTING.md)", "](contributing.md)"),
)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Fill the markers with the files and tables they name."""
    for marker, path in (
        ("{{ README }}", "README.md"),
        ("{{ CONTRIBUTING }}", "CONTRIBUTING.md"),
        ("{{ CHANGELOG }}", "CHANGELOG.md"),
    ):
        if marker in markdown:
            text = (ROOT / path).read_text(encoding="utf-8")
            if marker == "{{ README }}":  # the home page: its links made the site's own
                for repository, site in _README_LINKS:
                    text = text.replace(repository, site)
            markdown = markdown.replace(marker, text)
    if "{{ FACT_TYPES }}" in markdown:
        markdown = markdown.replace("{{ FACT_TYPES }}", _fact_types())
    if "{{ OPERATORS }}" in markdown:
        markdown = markdown.replace("{{ OPERATORS }}", _operators())
    if "{{ CODE_SYSTEMS }}" in markdown:
        markdown = markdown.replace("{{ CODE_SYSTEMS }}", _code_systems())
    return _FILE.sub(
        lambda m: "```yaml\n" + (ROOT / m.group(1)).read_text(encoding="utf-8") + "```", markdown
    )
