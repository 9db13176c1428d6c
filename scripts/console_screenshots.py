"""Screenshots of every console page for docs/console/, taken with headless chromium.

Builds a throwaway unit with the tests' fixture (tests/test_console.py make_unit: synthetic
reads with drawn crops, a hotlist, two agencies, accounts), serves it with uvicorn and walks
the pages as an admin. Run from the repository root:

    PYTHONPATH=. python scripts/console_screenshots.py [--out docs/console]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_console import LAPD, PASSWORD, make_unit, seed_sharing  # noqa: E402
from test_console_browser import Server, browser, fill, submit  # noqa: E402

from edge.config import load_config  # noqa: E402
from edge.console.app import create_app  # noqa: E402
from edge.console.server import console_for  # noqa: E402


def shoot(driver, out: Path, name: str) -> None:
    """The whole page, however long: the window is stretched to the document first."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, 400)
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
    )
    driver.set_window_size(width, min(height + 140, 2400))
    time.sleep(0.3)
    driver.save_screenshot(str(out / f"{name}.png"))
    print(out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        unit = make_unit(Path(folder) / "unit", reads=12)
        seed_sharing(unit)
        app = create_app(console_for(load_config(unit), tls=False))
        driver = browser(1000, 800)
        try:
            with Server(app) as url:
                driver.get(url + "/login")
                shoot(driver, args.out, "01-login")
                fill(driver, user="admin", password=PASSWORD)
                submit(driver, "/login")
                shoot(driver, args.out, "02-health")
                driver.get(url + "/reads")
                shoot(driver, args.out, "03-reads-purpose")
                fill(driver, purpose="shift review", limit="4")
                submit(driver, "/reads")
                shoot(driver, args.out, "04-reads")
                driver.get(url + "/search")
                fill(driver, plate="7ABC12*", purpose="stolen vehicle", case="24-0012")
                submit(driver, "/search")
                shoot(driver, args.out, "05-search")
                driver.get(url + "/hotlists")
                shoot(driver, args.out, "06-hotlists")
                driver.get(url + "/allowlist")
                shoot(driver, args.out, "07-allowlist")
                driver.get(url + "/allowlist/edit")
                fill(driver, **{**LAPD, "ori": "NY0300000", "kind": "federal"})
                submit(driver, "/allowlist/edit")
                shoot(driver, args.out, "08-allowlist-refused")
                fill(driver, ori=LAPD["ori"], kind=LAPD["kind"])
                submit(driver, "/allowlist/edit")
                shoot(driver, args.out, "09-allowlist-diff")
                driver.get(url + "/audit")
                shoot(driver, args.out, "10-audit")
                driver.get(url + "/sharing?agency=chp")
                shoot(driver, args.out, "11-sharing")
                driver.get(url + "/transparency")
                shoot(driver, args.out, "12-transparency")
                driver.set_window_size(390, 844)  # a phone
                driver.get(url + "/search")
                fill(driver, plate="7ABC12*", purpose="stolen vehicle", case="24-0012")
                submit(driver, "/search")
                shoot(driver, args.out, "13-phone-search")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
