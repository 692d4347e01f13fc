"""A real browser (Debian's Chromium, driven by Selenium) signs in to the Airflow UI, opens
the Governance page, finds the demo's overdue violation and downloads an export; then the
same in Chinese, the reports' summaries in both languages and the gate run in MLflow's UI.

Screenshots go to build/screenshots/ (or $TRAINGUARD_SCREENSHOTS): governance.png,
governance-export.png, governance-filters.png, gate.png, gate-zh.png,
governance-filters-zh.png, report-en.png, report-zh.png, mlflow-gate-run.png. The Chinese
ones need a CJK font (Debian's fonts-wqy-microhei; .ci/run installs it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
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
    governance_server: GovernanceServer, browser: Any, tmp_path: Path
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
    href = _export_from_page(browser, "download zip")
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "governance-export.png"))
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    english_report = _download_report(href, cookies, tmp_path / "en")
    assert "<h2>Attestation</h2>" in english_report.read_text()

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

    # In Chinese: the gate page's language link; back to the page, whose filters keep it;
    # then an export from the Chinese page, whose report.html is Chinese.
    browser.switch_to.frame(frame)
    browser.find_element(By.LINK_TEXT, "简体中文").click()
    _wait(
        "the gate page in Chinese",
        lambda: browser.find_element(By.TAG_NAME, "h1").text.startswith("闸门 "),
    )
    assert "《办法》第七条" in browser.find_element(By.TAG_NAME, "table").text
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "gate-zh.png"))
    browser.switch_to.frame(frame)
    browser.find_element(By.PARTIAL_LINK_TEXT, "治理").click()
    _wait("the page in Chinese", lambda: browser.find_element(By.TAG_NAME, "h1").text == "治理")
    Select(browser.find_element(By.NAME, "show")).select_by_value("all")
    Select(browser.find_element(By.NAME, "due_within_days")).select_by_value("7")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    _wait(
        "the Chinese filtered list",
        lambda: "7 天内到期" in browser.find_element(By.CSS_SELECTOR, "h2#violations").text,
    )
    assert "lang=zh" in browser.current_url
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "governance-filters-zh.png"))
    browser.switch_to.frame(frame)
    zh_href = _export_from_page(browser, "下载 zip", not_this=href)
    gate_row = browser.find_element(By.XPATH, "//tr[@data-gate][td[contains(@class, 'fail')]]")
    mlflow_link = gate_row.find_element(By.CSS_SELECTOR, "a[rel=noopener]").get_attribute("href")
    browser.switch_to.default_content()
    chinese_report = _download_report(zh_href, cookies, tmp_path / "zh")
    assert "<h2>证明</h2>" in chinese_report.read_text()

    # The auditor's summary, as printed or opened from the bundle, in both languages.
    for language, report in (("en", english_report), ("zh", chinese_report)):
        browser.get(report.as_uri())
        _wait("the report", lambda: browser.find_elements(By.CSS_SELECTOR, "table.attest"))
        browser.save_screenshot(str(SCREENSHOTS / f"report-{language}.png"))
    assert browser.find_element(By.TAG_NAME, "h2").text == "证明"

    # The gate run as a reviewer sees it in stock MLflow: a failed gate is FAILED there.
    match = re.search(r"/#/experiments/([0-9]+)/runs/([0-9a-f]{32})", mlflow_link or "")
    assert match, mlflow_link
    experiment, run_id = match.groups()
    with _mlflow_ui(governance_server.env) as mlflow_ui:
        browser.get(f"{mlflow_ui}/#/experiments/{experiment}/runs/{run_id}")
        _wait(
            "the gate run in MLflow's UI",
            lambda: (
                "gate " in browser.find_element(By.TAG_NAME, "body").text
                and ": FAIL" in browser.find_element(By.TAG_NAME, "body").text
            ),
            timeout=120,
        )
        browser.save_screenshot(str(SCREENSHOTS / "mlflow-gate-run.png"))
        assert "Failed" in browser.find_element(By.TAG_NAME, "body").text  # the run's status


def _export_from_page(browser: Any, link_text: str, not_this: str = "") -> str:
    """Press trainguard-demo-finetuned v1's export button; the new bundle's download link.

    The page reloads itself while the export runs, so an element found just before a
    reload goes stale: the link's address is read inside the wait, which retries."""
    from selenium.webdriver.common.by import By

    browser.find_element(
        By.CSS_SELECTOR, "tr[data-model='trainguard-demo-finetuned/1'] button[type=submit]"
    ).click()
    return str(
        _wait(
            f"the export's '{link_text}' link",
            lambda: _download_link(browser, link_text, not_this=not_this),
            timeout=180,
        )
    )


def _download_link(browser: Any, text: str, not_this: str = "") -> str | None:
    """The download link of the newest export of trainguard-demo-finetuned v1, when done
    (other tests export on this server too, other versions and earlier)."""
    from selenium.webdriver.common.by import By

    for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-export]"):
        if "trainguard-demo-finetuned v1" not in row.text:
            continue
        links = [a for a in row.find_elements(By.TAG_NAME, "a") if a.text == text]
        href = links[0].get_attribute("href") if links else None
        return href if href and href != not_this else None
    return None


def _download_report(href: str, cookies: dict[str, str], folder: Path) -> Path:
    """The export's zip, downloaded with the browser's session; its report.html."""
    with httpx.Client(cookies=cookies, timeout=60) as client:
        download = client.get(href)
    assert download.status_code == 200, download.text[:500]
    with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
        names = {Path(name).name for name in bundle.namelist()}
        bundle.extractall(folder)
    assert {"disclosure.json", "prov.json", "spdx.json", "MANIFEST.sha256", "MANIFEST.sig"} <= names
    return next(folder.rglob("report.html"))


@contextlib.contextmanager
def _mlflow_ui(env: dict[str, str]) -> Iterator[str]:
    """`mlflow server` on the demo's tracking store, as the README tells a reviewer."""
    from conftest import mlflow_server

    with mlflow_server(
        env["MLFLOW_TRACKING_URI"], log=SCREENSHOTS / "mlflow-ui.log", env=env
    ) as base:
        yield base
