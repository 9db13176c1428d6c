"""`alpr-edge status` for a person: from a running unit's endpoint, and from the stores when
the endpoint is off."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_service_notify import write_config

ROOT = Path(__file__).resolve().parents[1]


def alpr(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, env=env, **kwargs
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_status_with_the_endpoint_off_reads_the_stores(tmp_path):
    config = write_config(tmp_path)
    done = alpr("status", "--config", str(config))
    assert "the health endpoint is off" in done.stdout
    assert "no reads database" in done.stdout
    (tmp_path / "data").mkdir()
    from edge.runtime.store import ReadStore

    ReadStore(tmp_path / "data").close()
    done = alpr("status", "--config", str(config), "--json")
    stored = json.loads(done.stdout)["stored"]
    assert stored["reads_stored"] == 0 and stored["store_writable"] is True
    assert done.returncode == 0


@pytest.mark.slow
def test_status_of_a_running_unit_comes_from_its_endpoint(tmp_path):
    port = free_port()
    config = write_config(tmp_path)
    config.write_text(config.read_text() + f"[health]\nenabled = true\nport = {port}\n")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(config), "--realtime", "--loop"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, healthy = time.monotonic() + 120, False
        while time.monotonic() < deadline and not healthy:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    healthy = r.status == 200
            except OSError:
                continue
        assert healthy, "the endpoint never answered 200"
        time.sleep(2)
        done = alpr("status", "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "running unit: ok" in done.stdout
        assert "camera notify-cam: up" in done.stdout
        live = json.loads(alpr("status", "--config", str(config), "--json").stdout)["live"]
        assert live["frames"] > 0 and live["camera"]["fps"] > 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
