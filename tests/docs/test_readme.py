"""The README's library example runs and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re

from conftest import ROOT


def test_readme_library_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    said = [
        m.group(1)
        for line in code.splitlines()
        if "print(" in line and (m := re.search(r"#\s*(.*)$", line))
    ]
    lines = printed.getvalue().splitlines()
    assert lines[0] == said[0] == "medically_necessary"
    assert lines[1] == said[1] == "approve []"
    assert (
        lines[2]
        == said[2]
        == "<case>: services[0].genetically_modified: must be a JSON boolean (true or false)"
    )


def test_the_readme_conformance_table_is_the_one_the_tests_make() -> None:
    from conformance import readme_table, rows, table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table(readme) == table(), "run `make conformance`"
    requirements = {r for r, _, _ in rows()}
    assert {"CRD hook-13", "CRD found-5", "DTR oper-16", "PAS spec-33"} <= requirements
