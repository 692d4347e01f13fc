"""A real browser (Debian's Chromium, driven by Selenium) signs in to the Airflow UI, opens
the Governance page, finds the demo's overdue violation and downloads an export.

The screenshot is saved to build/screenshots/governance.png (or $TRAINGUARD_SCREENSHOTS).
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import GovernanceServer

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(
    os.environ.get("TRAINGUARD_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "build" / "screenshots"
)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("TRAINGUARD_REQUIRE_TOOLS") or os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are missing: .ci/run installs them")
        pytest.skip(
            "Chromium is not installed here (apt-get install chromium "
            "chromium-driver; .ci/run does)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1100",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(what: str, find: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = find()
            if found:
                return found
        except Exception:  # noqa: BLE001 - the element is not there yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_an_auditor_signs_in_sees_the_overdue_violation_and_downloads_an_export(
    governance_server: GovernanceServer, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    from trainguard.local.embedded import ui_passwords

    browser.get(f"{governance_server.base}/plugin/governance")
    # Not signed in: Airflow's own login page, which returns to the Governance page.
    _wait("the Airflow login form", lambda: browser.find_element(By.NAME, "username"))
    assert "/auth/login" in browser.current_url
    browser.find_element(By.NAME, "username").send_keys("auditor")
    browser.find_element(By.NAME, "password").send_keys(
        ui_passwords(governance_server.env)["auditor"]
    )
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    frame = _wait(
        "the Governance page framed in the Airflow UI",
        lambda: next(
            (
                f
                for f in browser.find_elements(By.TAG_NAME, "iframe")
                if "/trainguard/ui/" in (f.get_attribute("src") or "")
            ),
            None,
        ),
    )
    assert "/plugin/governance" in browser.current_url
    browser.switch_to.frame(frame)
    overdue = _wait(
        "an overdue violation", lambda: browser.find_elements(By.CSS_SELECTOR, "tr.overdue")
    )
    row = overdue[0].text
    assert "OVERDUE" in row and "ip_complaint" in row and "Art. 13" in row
    assert "takedown request nobody triaged" in row
    assert browser.find_elements(By.CSS_SELECTOR, "tr[data-gate] td.fail")  # failed gates
    browser.switch_to.default_content()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOTS / "governance.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")

    # Export the fine-tuned model's first version from the page, then download it.
    browser.switch_to.frame(frame)
    browser.find_element(
        By.CSS_SELECTOR, "tr[data-model='trainguard-demo-finetuned/1'] button[type=submit]"
    ).click()
    # The page reloads itself while the export runs, so an element found just before a
    # reload goes stale: read the link's address inside the wait, which retries.
    href = _wait(
        "the export's download link",
        lambda: next(
            (
                a.get_attribute("href")
                for a in browser.find_elements(By.CSS_SELECTOR, "tr[data-export] a")
                if a.text == "download zip"
            ),
            None,
        ),
        timeout=180,
    )
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "governance-export.png"))
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    with httpx.Client(cookies=cookies, timeout=60) as client:
        download = client.get(href)
    assert download.status_code == 200, download.text[:500]
    with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
        names = {Path(name).name for name in bundle.namelist()}
    assert {"disclosure.json", "prov.json", "spdx.json", "MANIFEST.sha256", "MANIFEST.sig"} <= names

    # Filters, as a reviewer narrows the list: the form's "due this week", then closed
    # ones too; then a failed gate's own page from the history chart.
    browser.switch_to.frame(frame)
    browser.find_element(By.LINK_TEXT, "Due this week").click()
    heading = _wait(
        "the filtered list",
        lambda: next(
            (
                h.text
                for h in browser.find_elements(By.CSS_SELECTOR, "h2#violations")
                if "due within 7 days" in h.text
            ),
            None,
        ),
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-violation]")
    assert rows and all("closed" not in r.text.split() for r in rows), heading
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.NAME, "show")).select_by_value("all")
    Select(browser.find_element(By.NAME, "due_within_days")).select_by_value("")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    _wait(
        "closed violations listed",
        lambda: any(
            "closed" in r.text for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-violation]")
        ),
    )
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "governance-filters.png"))
    browser.switch_to.frame(frame)
    browser.find_element(By.CSS_SELECTOR, "tr[data-gate] td.fail a").click()
    _wait("the gate's findings", lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-check]"))
    assert browser.find_elements(By.CSS_SELECTOR, "tr.fail[data-check]")
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "gate.png"))
