"""The HTML worksheet (`dli-check CASE --format html`): one self-contained page, the same
for the same result and date, whose style is the only thing its Content-Security-Policy
lets in, and in which no case text becomes markup, a link or a script."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import BASE_CASE, DELETE, ROOT, mutate
from dli_check import evaluate, load_rules
from dli_check.outputs.worksheet import ReportSupportMissing, environment, worksheet

CASES = sorted((ROOT / "examples" / "cases").glob("*.json"))
HOSTILE_ID = '<script>window.pwned=1</script>" onerror="pwned=1" javascript:alert(1) \u202eevil'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _page(case: Path | dict[str, object]) -> str:
    rules = load_rules()
    return worksheet(evaluate(case, rules), rules, "2026-12-02")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_each_example_renders_the_same_twice(path: Path) -> None:
    page = _page(path)
    assert page == _page(path)
    assert page.startswith("<!doctype html>") and "<script" not in page
    result = evaluate(path)
    assert f"<code>{result.decision_id}</code>" in page
    assert page.count('<li class="criterion">') == sum(len(s.reasons) for s in result.services)


def _tree(status: str, text: str, read: str = "", parts: str = "") -> str:
    words = {"met": "Met", "not_met": "Not met", "unknown": "Unknown"}.get(status)
    shown = words or "Met, by default"
    values = f' <span class="values">({read})</span>' if read else ""
    return f'<li><span class="status small {status}">{shown}</span> {text}{values}{parts}</li>'


NOT_GIVEN = "transplants[0].conditioning = not given"


@pytest.mark.parametrize(
    ("case", "criterion", "tree"),
    [
        pytest.param(
            mutate({"transplants.0.conditioning": DELETE}),
            1,
            _tree(
                "by_default",
                "any of:",
                parts="<ul>"
                + _tree("by_default", "transplant.conditioning is not given", NOT_GIVEN)
                + _tree(
                    "unknown",
                    "transplant.conditioning is one of myeloablative, non_myeloablative, "
                    "reduced_intensity",
                    NOT_GIVEN,
                )
                + "</ul>",
            ),
            id="each part's status and the value it read",
        ),
        pytest.param(
            BASE_CASE,
            0,
            _tree("met", "transplant.type is allogeneic", "transplants[0].type = allogeneic"),
            id="a condition of one part",
        ),
        pytest.param(
            mutate({"patient.diagnoses": ["D75.1", "Z94.84"]}),
            5,
            _tree(
                "met",
                "any of:",
                parts="<ul>"
                + _tree(
                    "not_met",
                    "patient.diagnoses has a code in dli_malignancy_diagnoses",
                    "patient.diagnoses = D75.1, Z94.84",
                )
                + _tree(
                    "met",
                    "patient.diagnoses has a code in dli_history_and_status_diagnoses",
                    "patient.diagnoses = D75.1, Z94.84",
                )
                + "</ul>",
            ),
            id="codes read, as a list",
        ),
    ],
)
def test_each_criterion_shows_its_tree_part_by_part(
    case: dict[str, object], criterion: int, tree: str
) -> None:
    trees = re.findall(r'<div class="tree">.*?</p><ul>(.*)</ul></div>', _page(case))
    assert trees[criterion] == tree


def test_a_part_answered_once_per_record_shows_no_status_of_its_own() -> None:
    trees = re.findall(r'<div class="tree">.*?</p><ul>(.*)</ul></div>', _page(BASE_CASE))
    other_line = trees[7].split("some other line")[1]
    assert "status" not in other_line


def test_the_policy_lets_in_only_the_pages_own_style() -> None:
    page = _page(CASES[0])
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    assert policy.group(1) == (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; "
        "form-action 'none'"
    )
    tags = _Tags()
    tags.feed(page)
    assert not [t for t, _ in tags.tags if t in ("script", "link", "img", "iframe", "a")]


def test_case_text_stays_text() -> None:
    case = json.loads((ROOT / "examples" / "cases" / "dli-relapsed-aml.json").read_text())
    case["case_id"] = HOSTILE_ID
    case["services"][0]["lymphocyte_donor_id"] = '<img src=x onerror="pwned=1">'
    page = _page(case)
    tags = _Tags()
    tags.feed(page)
    assert [t for t, _ in tags.tags if t in ("script", "img", "a")] == []
    assert not [n for _, attrs in tags.tags for n, _ in attrs if n.startswith("on")]
    assert "\u202e" not in page and "\\u202eevil" in page  # shown as its escape, never obeyed
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page


def test_the_command_writes_the_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "worksheet.html"
    case = ROOT / "examples" / "cases" / "dli-relapsed-aml.json"
    done = subprocess.run(
        [sys.executable, "-m", "dli_check", str(case), "--format", "html", "-o", str(out)],
        capture_output=True,
        text=True,
        env={"SOURCE_DATE_EPOCH": "1764633600", "PATH": ""},
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "<dt>Decided on</dt><dd>2025-12-02</dd>" in out.read_text(encoding="utf-8")
    missing = tmp_path / "no" / "such" / "dir" / "w.html"
    failed = subprocess.run(
        [sys.executable, "-m", "dli_check", str(case), "--format", "html", "-o", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode != 0 and failed.stderr.startswith(
        f"dli-check: {missing}: cannot write"
    )
    assert not missing.parent.exists()


def test_without_the_report_extra_it_says_which_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    environment.cache_clear()  # one per process, once made
    with pytest.raises(ReportSupportMissing, match=r"pip install 'dli-check\[report\]'"):
        _page(CASES[0])
