"""The rule file's Questionnaire renders in LHC-Forms (the NLM's SDC form renderer, which
DTR apps use), in headless Chromium: every question shows, and a service's questions
appear only once its service is chosen (``enableWhen``).

`make test` installs Chromium and its driver (Debian's packages) and LHC-Forms (from the
npm registry, pinned) into .venv/js; where they cannot be had the test is skipped with a
message, except under CI, where it fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import JS, SCREENSHOTS, chromium
from service_support import free_port

from dli_check import load_rules
from dli_check.interop.questionnaires import questionnaire
from dli_check.service.app import Settings, create_app
from dli_check.service.log import DecisionLog

LFORMS = JS / "package" / "dist" / "lforms"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DTR form</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="lforms/webcomponent/styles.css">
<script src="lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="lforms/webcomponent/runtime.js" type="module"></script>
<script src="lforms/webcomponent/polyfills.js" type="module"></script>
<script src="lforms/webcomponent/main.js" type="module"></script>
<script src="lforms/fhir/R4/lformsFHIR.min.js" defer></script>
</head><body><div id="form"></div>
<script type="module">
window.rendered = null;
await customElements.whenDefined("wc-lhc-form");
fetch("/Questionnaire/cg-trans-03").then(r => r.json()).then(q =>
  LForms.Util.addFormToPage(q, "form", {fhirVersion: "R4"})
).then(() => { window.rendered = "ok"; }, e => { window.rendered = "error: " + e; });
</script></body></html>
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The service on 127.0.0.1, with a DTR app's page beside it (LHC-Forms, which loads
    the form from ``GET /Questionnaire/cg-trans-03`` and expands its value sets with the
    service's ``ValueSet/$expand``)."""
    import uvicorn
    from fastapi.staticfiles import StaticFiles

    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "lforms").symlink_to(LFORMS, target_is_directory=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings([load_rules()], DecisionLog(tmp_path / "log.sqlite3"), public_url=base)
    app = create_app(settings)
    app.mount("/dtr", StaticFiles(directory=tmp_path, follow_symlink=True), name="dtr")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"{base}/dtr/index.html"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium(("LHC-Forms (.venv/js)", LFORMS / "webcomponent" / "lhc-forms.js"))


def _open(browser: Any, site: str) -> None:
    """Load the page and wait until LHC-Forms has rendered the form (or failed to)."""
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(site)
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return window.rendered"))
    assert browser.execute_script("return window.rendered") == "ok"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def _texts(browser: Any) -> list[str]:
    found: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll('.lhc-de-label, .lf-de-label, label'))"
        ".map(e => e.textContent.trim()).filter(t => t);"
    )
    return found


@pytest.mark.requirement(
    "DTR",
    "The full Questionnaire renders in LHC-Forms (headless Chromium): every question shows, "
    "a service's questions only once it is chosen",
)
def test_the_full_questionnaire_renders_in_lhc_forms(site: str, browser: Any) -> None:
    _open(browser, site)
    browser.save_screenshot(str(SCREENSHOTS / "dtr-questionnaire.png"))
    shown = " ".join(_texts(browser))
    form = questionnaire(load_rules())
    always = [
        item["text"]
        for group in form["item"]
        for item in group["item"]
        if "enableWhen" not in item and not item.get("readOnly")
    ]
    assert always and all(text in shown for text in always), shown
    assert "Are the lymphocytes genetically modified?" not in shown  # no service chosen yet
    errors = [e["message"] for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == []


def _choose(browser: Any, link_id: str, typed: str) -> list[str]:
    """Type into a question's autocompleting field; the list it offers for what was typed.

    A click shows the whole list at once, and the field filters it only as the
    keys arrive, so the list is read once every item it offers holds the typed
    words: the answer to what was typed, not to the click.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    field = browser.find_element(By.ID, f"{link_id}/1/1")
    field.click()
    field.send_keys(typed)

    def offered(b: Any) -> list[str]:
        found: list[str] = b.execute_script(
            "return Array.from(document.querySelectorAll('#lhc-tools-searchResults li'))"
            ".map(e => e.textContent.replace(/^\\d+:\\s*/, '').trim());"
        )
        return found

    def answered(b: Any) -> bool:
        found = offered(b)
        return bool(found) and all(typed.casefold() in item.casefold() for item in found)

    WebDriverWait(browser, 15).until(
        answered, f"{link_id} never offered a list of answers holding {typed!r}"
    )
    return offered(browser)


@pytest.mark.requirement(
    "DTR",
    "In LHC-Forms, a diagnosis is looked up by its words through the service's "
    "`ValueSet/$expand`, and choosing the infusion shows its questions",
)
def test_codes_are_looked_up_and_a_service_shows_its_questions(site: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.wait import WebDriverWait

    _open(browser, site)
    offered = _choose(browser, "patient.diagnoses", "myeloblastic")  # by the service's $expand
    assert "Acute myeloblastic leukemia, not having achieved remission" in offered, offered
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    offered = _choose(browser, "services[0].service", "infusion")
    assert offered == ["the infusion"]
    browser.find_element(By.CSS_SELECTOR, "#lhc-tools-searchResults li").click()
    browser.save_screenshot(str(SCREENSHOTS / "dtr-questionnaire-infusion.png"))
    WebDriverWait(browser, 15).until(
        lambda b: "Are the lymphocytes genetically modified?" in " ".join(_texts(b))
    )
    browser.save_screenshot(str(SCREENSHOTS / "dtr-questionnaire-infusion.png"))
