"""The console in a real browser: Debian's chromium driven by selenium against uvicorn.

Log in, search a plate with a purpose, edit the allow-list with one invalid field and see the
error beside it, then a valid edit. Skips when chromium, chromedriver or selenium is absent
(`make system-deps` installs the first two).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("selenium")

from test_console import LAPD, PASSWORD, audit_rows, make_unit

from edge.config import load_config
from edge.console.app import create_app
from edge.console.server import console_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (make system-deps)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """uvicorn serving the console in a thread, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def browser(width: int = 1100, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def fill(driver, **fields: str) -> None:
    from selenium.webdriver.common.by import By

    for name, value in fields.items():
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)


def click_and_wait(driver, element) -> None:
    """Click, then wait for the next page to have loaded: a click does not wait for the page
    it loads. The old page is marked; the new one has no mark. While the page changes, the
    driver may answer with errors: they only mean "not yet"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.oldPage = true")
    element.click()
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.oldPage === undefined && document.readyState === 'complete'"
        )
    )


def submit(driver, form_action: str) -> None:
    from selenium.webdriver.common.by import By

    click_and_wait(
        driver, driver.find_element(By.CSS_SELECTOR, f'form[action="{form_action}"] button')
    )


def test_login_search_and_allowlist_edit_in_a_real_browser(tmp_path):
    from selenium.webdriver.common.by import By

    unit = make_unit(tmp_path / "unit")
    app = create_app(console_for(load_config(unit), tls=False))
    driver = browser()
    try:
        with Server(app) as url:
            driver.get(url + "/health")
            assert driver.current_url.endswith("/login")
            fill(driver, user="admin", password=PASSWORD)
            submit(driver, "/login")
            assert driver.find_element(By.TAG_NAME, "h1").text == "Health"

            driver.get(url + "/search")
            fill(driver, plate="7ABC12*", purpose="stolen vehicle", case="24-0012")
            submit(driver, "/search")
            plates = [p.text for p in driver.find_elements(By.CSS_SELECTOR, "p.plate")]
            assert sorted(plates) == ["7ABC123", "7ABC128"]
            crop = driver.find_element(By.CSS_SELECTOR, "img.crop")
            assert crop.size["width"] >= 200  # big enough to check the read by eye
            (search,) = audit_rows(unit, "search")
            assert search["username"] == "admin" and "24-0012" in search["purpose"]

            driver.get(url + "/allowlist/edit")
            fill(driver, **{**LAPD, "ori": "NY0300000"})
            submit(driver, "/allowlist/edit")
            error = driver.find_element(By.ID, "error-ori")
            assert "California" in error.text or "CA" in error.text
            assert driver.find_element(By.ID, "field-ori").get_attribute("aria-invalid")
            assert not driver.find_elements(By.ID, "error-name")

            fill(driver, ori=LAPD["ori"])
            submit(driver, "/allowlist/edit")
            assert '+id = "lapd"' in driver.find_element(By.CSS_SELECTOR, "pre.diff").text
            click_and_wait(driver, driver.find_element(By.ID, "save"))
            assert "add lapd saved and audited" in driver.find_element(By.CSS_SELECTOR, "main").text
            assert 'id = "lapd"' in (unit.parent / "agencies.toml").read_text()
            (change,) = audit_rows(unit, "allowlist_change")
            assert change["username"] == "admin"
    finally:
        driver.quit()
