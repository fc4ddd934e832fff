"""report.html in a real browser (headless Chromium driven by Selenium, as in tests/browser/): opened from
the report folder, the cells table sorts and filters, an answer opens whole, the intervals are drawn, and
a hostile answer stays text (its script never runs)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.compare import report, runner
from tests.test_compare import serve  # noqa: F401  (the fixture)
from tests.test_compare_stats import HOSTILE, answering

pytestmark = pytest.mark.slow
GEN = "gen:arithmetic?n=10&seed=9"


def _tools() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("needs Chromium and its driver: `apt-get install -y chromium chromium-driver`")
    return chromium, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chromium, driver = _tools()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'p'}"):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(driver, log_output=str(tmp_path / "driver.log")))
    try:
        yield session
    finally:
        session.quit()


def _visible_rows(b: Any) -> list[Any]:
    return [r for r in b.find_elements("css selector", "#cells tbody tr") if r.is_displayed()]


def _column(b: Any, index: int) -> list[str]:
    return [r.find_elements("css selector", "td")[index].get_attribute("data-sort") for r in _visible_rows(b)]


def test_report_html_sorts_filters_opens_and_stays_inert(serve, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    serve("openai", answering(GEN, set(range(10)), hostile={0}))
    serve("groq", answering(GEN, {0, 1, 2, 3}))
    result = runner.compare(["openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b"], GEN, progress=False,
                            out=open("/dev/null", "w"))  # noqa: SIM115
    page = report.write(result, tmp_path / "rep").parent / "report.html"
    browser.get(page.as_uri())
    b = browser

    assert b.execute_script("return window.pwned === undefined")  # the hostile answer's script never ran
    assert len(_visible_rows(b)) == 20 and b.find_element("id", "shown").text == "20"
    assert len(b.find_elements("css selector", "svg line.interval")) == 2  # one interval per model

    # sort by tokens (column 5): ascending, then descending
    header = b.find_elements("css selector", "#cells thead th")[5]
    header.click()
    up = [float(x) for x in _column(b, 5)]
    assert up == sorted(up) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [float(x) for x in _column(b, 5)] == sorted(up, reverse=True)
    b.find_elements("css selector", "#cells thead th")[1].click()  # by model: text order
    models = [r.find_elements("css selector", "td")[1].text for r in _visible_rows(b)]
    assert models == sorted(models) and models[0] == "groq/openai/gpt-oss-20b"

    # filter by grade, then by text
    from selenium.webdriver.support.ui import Select

    Select(b.find_element("id", "mark-filter")).select_by_value("✗")
    assert len(_visible_rows(b)) == 6 and b.find_element("id", "shown").text == "6"  # groq wrong on 4 of 10
    Select(b.find_element("id", "mark-filter")).select_by_value("")
    box = b.find_element("id", "filter")
    box.send_keys("arithmetic-s9-001")
    rows = _visible_rows(b)
    assert len(rows) == 2 and {r.find_elements("css selector", "td")[0].text for r in rows} == {"arithmetic-s9-001"}

    # the full answer and the grader's note, a click away; hostile text shown as text
    mine = next(r for r in rows if r.find_elements("css selector", "td")[1].text == "openai/gpt-4.1-mini")
    details = mine.find_element("css selector", "details")
    assert details.get_attribute("open") is None and not details.find_element("css selector", "pre").is_displayed()
    details.find_element("css selector", "summary").click()
    assert details.get_attribute("open") is not None
    full = details.find_element("css selector", "pre")
    assert full.is_displayed() and HOSTILE in full.text and "Answer:" in full.text
    assert "expected:" in details.find_element("css selector", "p.note").text
    assert not b.find_elements("css selector", "#cells img")  # the hostile <img> is not an element
    assert b.execute_script("return window.pwned === undefined")
