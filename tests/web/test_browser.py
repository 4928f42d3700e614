"""The web view in a real browser: headless Chromium (Debian's, through selenium) against
uvicorn on a free loopback port. Where no browser can run these tests skip with the reason;
in CI (CI=true) that is a failure, so they always run there."""

from __future__ import annotations

import os

import pytest

from ledger.values import Amount
from tests.jamtland import G
from tests.web.browser import chromium, missing_browser, serving


@pytest.fixture(scope="module")
def browser():
    why = missing_browser()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the browser tests")
        pytest.skip(why)
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def site(sealed):
    with serving(sealed.db) as url:
        yield url


def _console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_pages_load_figures_match_and_links_click(browser, site, sealed, tmp_path):
    """Overview, region-year, decision and audit load in Chromium without a console error; the
    committed figure is the CLI's; clicking through region, decision and the audit form works."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    shots = tmp_path / "screenshots"
    shots.mkdir()
    browser.get(f"{site}/g/{G}/2018?on=2019-03-01")
    assert "Professionsmiljarden 2018" in browser.find_element(By.TAG_NAME, "h1").text
    cli = sealed.json("balance", G, "--region", "23", "--year", "2018")[0]
    shown = browser.find_element(By.CSS_SELECTOR, 'tr[data-region="23"] td[data-key="committed"]').text
    assert shown == Amount.parse(cli["committed"]).pretty() == "9 930 000"
    assert browser.find_element(By.CSS_SELECTOR, 'tr[data-region="23"] .badge').text == "non-compliant"
    browser.save_screenshot(str(shots / "overview.png"))

    browser.find_element(By.LINK_TEXT, "23 Jämtland").click()
    assert "/r/23" in browser.current_url
    assert "23 Jämtland" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_element(By.CSS_SELECTOR, "svg.ladder").is_displayed()
    browser.save_screenshot(str(shots / "region-year.png"))

    browser.find_element(By.LINK_TEXT, "JH-PM-01").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Decision JH-PM-01"
    bookings = browser.find_element(By.ID, "bookings").text
    assert "voucher V1" in bookings and "voucher V2" in bookings
    browser.save_screenshot(str(shots / "decision.png"))

    browser.get(f"{site}/g/{G}/2018/audit")
    browser.find_element(By.ID, "position").send_keys("20")
    browser.find_element(By.CSS_SELECTOR, "form.asof button").click()
    # the click submits the form; the browser loads the answer in its own time (a loaded machine: seconds)
    WebDriverWait(browser, 20).until(lambda b: "position=20" in b.current_url)
    audit = sealed.json("audit", G, "--year", "2018", "--position", "20")
    assert browser.find_element(By.CSS_SELECTOR, '[data-key="digest"]').text == audit["digest"]
    browser.save_screenshot(str(shots / "audit.png"))
    assert _console_errors(browser) == []
    assert all((shots / f"{name}.png").stat().st_size > 10_000 for name in ("overview", "region-year",
                                                                            "decision", "audit"))


def test_unknown_page_is_a_404_page_in_the_browser(browser, site):
    """An unknown grant shows its one error line in the browser."""
    from selenium.webdriver.common.by import By

    browser.get(f"{site}/g/nosuchgrant/2018")
    assert browser.find_element(By.CSS_SELECTOR, ".error").text.startswith("error: unknown grant 'nosuchgrant'")
    browser.get_log("browser")  # the 404 itself is the browser's only complaint: read and drop it
