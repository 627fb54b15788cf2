"""The worksheets of the example cases in headless Chromium: what a reviewer sees (the
recommendation, each criterion's status in words, and each part of its condition's), no serious or critical axe-core
violation, a hostile case shown as text with no script of its own run, and a worksheet
printed to PDF with no line clipped. Screenshots go to build/screenshots/."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import JS, SCREENSHOTS, chromium

from conftest import ROOT
from dli_check import evaluate, load_rules
from dli_check.outputs.worksheet import worksheet

AXE = JS / "axe" / "package" / "axe.min.js"
GUIDELINES = ROOT / "examples" / "guidelines"
CASES = [(None, p) for p in sorted((ROOT / "examples" / "cases").glob("*.json"))] + [
    (g / f"{g.name}.yaml", p)
    for g in sorted(GUIDELINES.iterdir())
    for p in sorted((g / "cases").glob("*.json"))
]
STATUS_WORDS = {"met": ("Yes", "Met"), "not_met": ("No", "Not met"), "unknown": ("Unknown",)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium(("axe-core (.venv/js)", AXE))


def _open(
    browser: Any, tmp_path: Path, case: Path | dict[str, Any], rules_path: Path | None = None
) -> Any:
    rules = load_rules(rules_path)
    result = evaluate(case, rules)
    page = tmp_path / "worksheet.html"
    page.write_text(worksheet(result, rules, "2026-12-02"), encoding="utf-8")
    browser.get(page.as_uri())
    return result


def _axe(browser: Any) -> list[str]:
    """The serious and critical violations axe-core finds (it is injected by the test: the
    page itself lets no script in)."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact}))));"
    )
    return [v["id"] for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize(("rules", "path"), CASES, ids=[p.stem for _, p in CASES])
def test_a_reviewer_sees_the_recommendation_and_each_criterion(
    browser: Any, tmp_path: Path, rules: Path | None, path: Path
) -> None:
    from selenium.webdriver.common.by import By

    result = _open(browser, tmp_path, path, rules)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"worksheet-{path.stem}.png"))
    banners = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".banner")]
    assert len(banners) == len(result.services)
    for banner in banners:
        assert banner.startswith("RECOMMENDATION: ")
    shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".criterion-head .status")]
    expected = [r.status for s in result.services for r in s.reasons]
    assert len(shown) == len(expected)
    for text, status in zip(shown, expected, strict=True):
        assert text.split(",")[0] in STATUS_WORDS[status], (text, status)
    # Each part of each criterion's condition shows what it came to, in words.
    parts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".tree .status")]
    assert {p.split(",")[0] for p in parts} <= {"Met", "Not met", "Unknown"}
    assert bool(parts) == any(result.conditions(n) for n in range(len(result.services)))
    assert _axe(browser) == []
    severe = [e["message"] for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == []


def test_a_hostile_case_is_shown_as_text_and_runs_nothing(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    case = json.loads((ROOT / "examples" / "cases" / "dli-relapsed-aml.json").read_text())
    case["case_id"] = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">\u202e'
    case["services"][0]["lymphocyte_donor_id"] = "javascript:window.pwned=3"
    _open(browser, tmp_path, case)
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith('Case <script>window.pwned=1</script><img src=x onerror="window')
    assert "\\u202e" in heading
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script, main a") == []


def test_a_worksheet_prints_without_clipping(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.print_page_options import PrintOptions

    _open(browser, tmp_path, ROOT / "examples" / "cases" / "dli-after-a-second-allograft.json")
    for width, height in ((21.0, 29.7), (21.59, 27.94)):  # A4, Letter
        options = PrintOptions()
        options.page_width, options.page_height = width, height
        pdf = base64.b64decode(browser.print_page(options))
        assert pdf.startswith(b"%PDF") and b"/Type /Page" in pdf
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    browser.set_window_size(700, 1000)  # an A4 page's printable width, at 96 dpi
    clipped = browser.execute_script(
        "return Array.from(document.querySelectorAll('p, li, dd, dt, h1, h2, h3, blockquote'))"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 40));"
    )
    assert clipped == []
    browser.save_screenshot(str(SCREENSHOTS / "worksheet-print.png"))


def test_the_dashboard_shows_its_charts_and_filters_its_table(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait
    from typer.testing import CliRunner

    from dli_check.cli.commands import app

    report = tmp_path / "report.html"
    done = CliRunner().invoke(
        app,
        [
            "batch",
            str(ROOT / "examples" / "cases"),
            "-o",
            str(tmp_path / "r.jsonl"),
            "--quiet",
            "--workers",
            "1",
            "--report",
            str(report),
            "--worksheets",
            str(tmp_path / "worksheets"),
        ],
    )
    assert done.exit_code == 0, done.output
    browser.get(report.as_uri())
    charts = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(charts) == 5
    assert all(browser.execute_script("return arguments[0].naturalWidth", c) > 0 for c in charts)
    alt = charts[0].get_attribute("alt")
    assert alt.startswith("Decisions by service: ")
    assert "donor_lymphocyte_infusion: medically_necessary 15" in alt
    shown = browser.find_element(By.ID, "shown")
    rows = browser.find_elements(By.CSS_SELECTOR, "#lines tbody tr")
    assert shown.text == str(len(rows)) == "17"
    decision = browser.find_element(By.CSS_SELECTOR, "[data-filter='4']")
    decision.send_keys("insufficient")
    visible = [r for r in rows if r.is_displayed()]
    assert shown.text == str(len(visible)) == "3"
    assert all("insufficient_information" in r.text for r in visible)
    decision.send_keys("\b" * len("insufficient"))  # emptied, one input event per key
    assert shown.text == "17"
    header = browser.find_element(By.CSS_SELECTOR, "#lines th:nth-child(7)")

    def dates() -> list[str]:
        return [
            r.find_elements(By.TAG_NAME, "td")[6].text
            for r in browser.find_elements(By.CSS_SELECTOR, "#lines tbody tr")
        ]

    header.find_element(By.TAG_NAME, "button").click()
    assert (header.get_attribute("aria-sort"), dates()) == ("ascending", sorted(dates()))
    header.find_element(By.TAG_NAME, "button").click()
    assert (header.get_attribute("aria-sort"), dates()) == (
        "descending",
        sorted(dates(), reverse=True),
    )
    assert _axe(browser) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "dashboard.png"))
    severe = [e["message"] for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == []
    # Each line links to its case's worksheet.
    first = browser.find_element(By.CSS_SELECTOR, "#lines tbody tr td a")
    case_id = first.text
    first.click()

    def heading(b: Any) -> str:
        found: str = b.execute_script(
            "const h = document.querySelector('h1'); return h ? h.textContent : '';"
        )
        return found

    # The link opens another page; its heading is read once that page has loaded.
    WebDriverWait(browser, 15).until(lambda b: heading(b).startswith(f"Case {case_id}: "))


def test_the_diff_report_renders_and_is_accessible(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from typer.testing import CliRunner

    from dli_check.cli.commands import app

    rules = (ROOT / "rules" / "cg-trans-03.yaml").read_text(encoding="utf-8")
    revised = tmp_path / "revised.yaml"
    criterion = "condition:\n          equals: {fact: transplant.type, value: allogeneic}"
    assert criterion in rules
    revised.write_text(rules.replace(criterion, criterion.replace("allogeneic}", "syngeneic}"), 1))
    report = tmp_path / "diff.html"
    CliRunner().invoke(
        app,
        [
            "diff",
            str(ROOT / "examples" / "cases"),
            "--new",
            str(revised),
            "--quiet",
            "--workers",
            "1",
            "--report",
            str(report),
        ],
    )
    browser.get(report.as_uri())
    charts = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(charts) == 2
    assert all(browser.execute_script("return arguments[0].naturalWidth", c) > 0 for c in charts)
    assert "transplant-allogeneic" in charts[1].get_attribute("alt")
    rows = browser.find_elements(By.CSS_SELECTOR, "#lines tbody tr")
    assert rows and browser.find_element(By.ID, "shown").text == str(len(rows))
    assert _axe(browser) == []
    browser.save_screenshot(str(SCREENSHOTS / "diff.png"))
