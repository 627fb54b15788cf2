"""The README's conformance table, made from the tests: every test marked
``@pytest.mark.requirement(ID, BEHAVIOUR)`` is a row (requirement, behaviour, test).

``python tests/conformance.py`` rewrites the table in README.md (`make conformance`);
tests/docs/test_readme.py fails when the README's table is not the one the tests make.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- conformance:start -->", "<!-- conformance:end -->"


def rows(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(requirement, behaviour, test) for every marked test, in requirement order."""
    found = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and ast.unparse(decorator.func) == "pytest.mark.requirement"
                ):
                    requirement, behaviour = (ast.literal_eval(a) for a in decorator.args)
                    test = f"`{path.relative_to(root).as_posix()}::{node.name}`"
                    found.append((requirement, behaviour, test))
    return sorted(found, key=lambda row: (_order(row[0]), row[0], row[2]))


_PREFIXES = ("CDS Hooks", "CRD", "DTR", "PAS", "FHIR")
"""The standards, in the order the table lists them."""


def _order(requirement: str) -> int:
    for rank, prefix in enumerate(_PREFIXES):
        if requirement.startswith(prefix):
            return rank
    return len(_PREFIXES)


def table(root: Path = ROOT) -> str:
    """The table as Markdown, between its markers."""
    lines = [START, "", "| requirement | behaviour | test |", "| --- | --- | --- |"]
    lines += [f"| {r} | {b} | {t} |" for r, b, t in rows(root)]
    return "\n".join([*lines, "", END])


def readme_table(readme: str) -> str:
    """The table the README holds now (markers included), or ''."""
    if START not in readme or END not in readme:
        return ""
    return readme[readme.index(START) : readme.index(END) + len(END)]


def main() -> int:
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    old = readme_table(text)
    if not old:
        print(f"{path}: no {START} ... {END} section", file=sys.stderr)
        return 1
    path.write_text(text.replace(old, table()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
