"""A made-up rule file for the rule language's tests: one service (a drug, HCPCS J3590)
whose criteria and case section each test writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dli_check import RuleFileError, load_rules

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider

HEAD = """\
rules_format: 2
guideline:
  id: {id}
  title: {title} (made up for tests)
  publish_date: 2025-01-31
  last_review_date: 2025-01-15
  status: New
  scope: {{section: Description, quote: "made up"}}
code_sets:
  drug_codes:
    system: HCPCS
    title: The drug
    citation: {{section: Coding, quote: "HCPCS"}}
    codes:
      - {{codes: J3590, description: Made-up drug code}}
{code_sets}services:
  - id: drug
    title: The drug
    code_set: drug_codes
    criteria:
"""

OUTCOMES = """\
    when_met:
      decision: medically_necessary
      citation: {section: Criteria, quote: "is medically necessary"}
    otherwise:
      decision: not_medically_necessary
      citation: {section: Criteria, quote: "is not medically necessary"}
"""


def rule_file(guideline_id: str, title: str, criteria: str, case: str, code_sets: str = "") -> str:
    """The rule file's YAML: `criteria` (items of the service's list, indented six
    spaces), `case` (the case section, from ``case:`` on) and more `code_sets` (indented
    two spaces) beside the drug's."""
    head = HEAD.format(id=guideline_id, title=title, code_sets="{code_sets}")
    return head.replace("{code_sets}", code_sets) + criteria + OUTCOMES + case


def loaded(text: str, directory: Path) -> Decider:
    """A rule file's YAML, written to `directory` and loaded."""
    path = directory / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


def refused(text: str, directory: Path) -> str:
    """What loading a rule file's YAML (written to `directory`) is refused with; the
    message starts with the file's path."""
    path = directory / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    said = str(caught.value)
    assert said.startswith(f"{path}:"), said
    return said
