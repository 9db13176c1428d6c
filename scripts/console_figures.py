"""The console's figures for the closing note: RSS idle and after 1,000 requests, the median
time of the recent-reads page (and of a plate search) with 100,000 reads in the store, and how
many password checks a login attacker gets per second once the rate limit has kicked in.

Runs `alpr-edge console serve` as its own process (as on a unit) against a throwaway unit:

    PYTHONPATH=. python scripts/console_figures.py [--reads 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_console import PASSWORD, make_unit  # noqa: E402
from test_console_browser import free_port  # noqa: E402

from edge.runtime.store import ReadStore  # noqa: E402


def add_reads(store_dir: Path, count: int) -> None:
    """Bulk-load `count` reads, one a second going back from now (no crops)."""
    store = ReadStore(store_dir)
    now = datetime.now(timezone.utc)
    rows = (
        {
            "seen_at": (now - timedelta(seconds=i + 3600)).isoformat(),
            "camera_id": "cam-1",
            "plate": f"{i % 10}ABC{i % 1000:03d}",
            "region": "CA",
            "confidence": 0.9,
            "box_x": 1,
            "box_y": 1,
            "box_w": 100,
            "box_h": 30,
            "frame_count": 5,
            "crop_path": None,
            "char_confidences": "[0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]",
        }
        for i in range(count)
    )
    store.db["reads"].insert_all(rows, batch_size=5000)
    store.close()


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(url: str, user: str = "admin") -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/login")
    response = client.post(
        "/login", data={"user": user, "password": PASSWORD, "csrf": csrf(page.text)}
    )
    assert response.status_code in (200, 303), response.text
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=100_000)
    parser.add_argument("--hammer-s", type=float, default=10.0)
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        config = make_unit(Path(folder) / "unit")
        add_reads(config.parent / "store", args.reads)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path[1:]])}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "--log-level",
                "warning",
                "console",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            env=env,
        )
        try:
            for _ in range(100):
                try:
                    httpx.get(url + "/transparency", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            time.sleep(1)
            figures["rss_idle_mib"] = round(rss_mib(server.pid), 1)

            client = login(url)
            token = csrf(client.get("/health").text)
            times = []
            for _ in range(60):
                start = time.perf_counter()
                page = client.post(
                    "/reads", data={"purpose": "figures", "limit": "50", "csrf": token}
                )
                times.append(time.perf_counter() - start)
                assert page.status_code == 200 and page.text.count('class="plate"') == 50
            figures["recent_reads_median_ms"] = round(1000 * statistics.median(times), 1)
            figures["recent_reads_p90_ms"] = round(1000 * statistics.quantiles(times, n=10)[-1], 1)
            searches = []
            for _ in range(20):
                start = time.perf_counter()
                page = client.post(
                    "/search",
                    data={"purpose": "figures", "case": "1", "plate": "7ABC12*", "csrf": token},
                )
                searches.append(time.perf_counter() - start)
                assert page.status_code == 200
            figures["search_7ABC12*_median_ms"] = round(1000 * statistics.median(searches), 1)
            pages = ["/health", "/hotlists", "/audit", "/transparency", "/search"]
            for index in range(1000 - len(times) - len(searches) - 2):
                assert client.get(pages[index % len(pages)]).status_code == 200
            figures["rss_after_1000_requests_mib"] = round(rss_mib(server.pid), 1)

            attacker = httpx.Client(base_url=url, timeout=30)
            token = csrf(attacker.get("/login").text)
            statuses: list[int] = []
            start = time.perf_counter()
            while time.perf_counter() - start < args.hammer_s:
                statuses.append(
                    attacker.post(
                        "/login",
                        data={"user": "admin", "password": "guess guess", "csrf": token},
                    ).status_code
                )
            elapsed = time.perf_counter() - start
            checked = statuses.count(401)
            figures["login_attempts_sent_per_s"] = round(len(statuses) / elapsed, 1)
            figures["login_passwords_checked"] = checked
            figures["login_refused_429"] = statuses.count(429)
            figures["login_checks_per_s_after_limit"] = "0 (5 per 300 s per name and address)"
            figures["hammer_seconds"] = round(elapsed, 1)
        finally:
            server.terminate()
            server.wait(timeout=10)
    figures["reads_in_store"] = args.reads + 5
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
