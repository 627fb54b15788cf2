"""What a newcomer runs into: a case with fields the bundled rule file does not declare,
a rule file edited in a checkout, `evaluate` given a rule file's path, `dir(dli_check)`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dli_check
from conftest import ROOT

CLI = [sys.executable, "-m", "dli_check"]


def test_a_case_for_another_rule_file_says_which_was_used(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text(
        json.dumps({"case_id": "x", "sleep_studies": [], "services": [{"code": "E0601"}]})
    )
    done = subprocess.run([*CLI, str(case)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        "the case has an unknown field (its key number 2) (checked against the installed "
        "CG-TRANS-03 rule file; --rules chooses another)"
    )
    with_rules = subprocess.run(
        [*CLI, str(case), "--rules", str(ROOT / "tests" / "data" / "cpap.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "--rules chooses another" not in with_rules.stderr


def test_an_edited_checkout_copy_is_named_as_not_used(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    edited = tmp_path / "rules" / "cg-trans-03.yaml"
    shutil.copy(ROOT / "rules" / "cg-trans-03.yaml", edited)
    case = ROOT / "examples" / "cases" / "dli-relapsed-aml.json"
    same = subprocess.run([*CLI, str(case)], capture_output=True, text=True, cwd=tmp_path)
    assert "differs from the installed copy" not in same.stderr
    edited.write_text(edited.read_text() + "\n# edited\n")
    done = subprocess.run([*CLI, str(case)], capture_output=True, text=True, cwd=tmp_path)
    assert (
        "note: rules/cg-trans-03.yaml differs from the installed copy, which is used; "
        "--rules rules/cg-trans-03.yaml uses it (or reinstall)"
    ) in done.stderr


def test_evaluate_takes_a_rule_files_path_and_dir_lists_the_public_names() -> None:
    case = {"case_id": "x", "services": [{"code": "38242"}]}
    by_path = dli_check.evaluate(case, ROOT / "rules" / "cg-trans-03.yaml")
    assert by_path.decision == dli_check.evaluate(case).decision == "insufficient_information"
    assert set(dli_check.__all__) <= set(dir(dli_check))
