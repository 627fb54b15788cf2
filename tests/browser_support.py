"""Headless Chromium for the browser tests, through Selenium: `make test` installs
Chromium and its driver (Debian's packages) and the pinned JavaScript the tests use
(LHC-Forms, axe-core) into .venv/js; where they cannot be had a test is skipped with a
message, except under CI, where it fails."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

JS = ROOT / ".venv" / "js"
SCREENSHOTS = ROOT / "build" / "screenshots"


def browser_or_skip(*needed: tuple[str, Path]) -> tuple[str, str]:
    """Chromium's and chromedriver's paths; a skip (a failure under CI) naming what is
    missing, the `needed` files (what, path) too."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [
        what
        for what, found in (
            ("Chromium", chromium),
            ("chromedriver", driver),
            *((what, path.is_file()) for what, path in needed),
        )
        if not found
    ]
    if missing:
        message = f"{', '.join(missing)} not installed: `make test` installs them as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert chromium is not None and driver is not None
    return chromium, driver


def chromium(*needed: tuple[str, Path], size: str = "1200,2400") -> Iterator[Any]:
    """A headless Chromium driven by Selenium, quit afterwards."""
    binary, driver_path = browser_or_skip(*needed)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={size}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
