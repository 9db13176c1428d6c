"""The notify protocol, driven over a real socket: `alpr-edge run` says READY once it can take
frames, feeds the watchdog from its frame loop, and on SIGTERM stores its open tracks, says
STOPPING and exits 0 well inside the unit's stop timeout."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.service.notify import Notifier

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_video" / "sample.mp4"
# TimeoutStopSec in deploy/alpr-edge.service.
STOP_TIMEOUT_S = 30
ALPR_RUN = [sys.executable, "-m", "edge", "run"]


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    yield server, path
    server.close()


def messages(server: socket.socket, until: str, timeout_s: float) -> list[dict[str, str]]:
    """Datagrams as {key: value}, up to the first that holds `until` (or the timeout)."""
    got: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        server.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = server.recv(4096).decode()
        except TimeoutError:
            break
        got.append(dict(line.split("=", 1) for line in data.splitlines()))
        if until in got[-1]:
            break
    return got


def test_notifier_sends_ready_watchdog_at_half_its_interval_status_and_stopping(notify_socket):
    server, path = notify_socket
    now = [100.0]
    notifier = Notifier(
        {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"}, clock=lambda: now[0]
    )
    notifier.ready("reading cam")
    for step in (0.5, 1.0, 1.0, 0.5, 1.5):  # fed at 2.5 s and 4.5 s: every 2 s at most
        now[0] += step
        notifier.feed(lambda: "3 fps")
    notifier.stopping()
    got = messages(server, "STOPPING", 2)
    assert got[0]["READY"] == "1" and got[0]["STATUS"] == "reading cam"
    assert got[0]["MAINPID"] == str(os.getpid())
    assert [m.get("WATCHDOG") for m in got[1:-1]] == ["1", "1"]
    assert got[-1]["STOPPING"] == "1"


def test_abstract_socket_names_and_a_watchdog_meant_for_another_process():
    assert Notifier({"NOTIFY_SOCKET": "@/org/test"})._address == b"\0/org/test"
    other = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    assert Notifier(other).watchdog_s is None
    quiet = Notifier({})
    assert not quiet.active and not quiet.send(READY=1)


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[camera]\nid = "notify-cam"\nsource = "{SAMPLE}"\n'
        f'[detector]\nmodel = "{ROOT / "models" / "detector.onnx"}"\n'
        f'[ocr]\nmodel = "{ROOT / "models" / "ocr.onnx"}"\n'
        f'plate_config = "{ROOT / "models" / "ocr_plate_config.yaml"}"\n'
        '[store]\ndata_dir = "data"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_run_says_ready_feeds_the_watchdog_per_frame_and_stops_cleanly_on_sigterm(
    tmp_path, notify_socket
):
    server, path = notify_socket
    env = dict(os.environ, NOTIFY_SOCKET=str(path), WATCHDOG_USEC="1000000")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [*ALPR_RUN, "--config", str(write_config(tmp_path)), "--realtime", "--loop"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = messages(server, "READY", 120)
        assert ready and ready[-1].get("READY") == "1", process.stderr
        # Frames flow: the watchdog is fed about every half second (half of WatchdogSec).
        fed = [m for m in messages(server, "never", 4) if m.get("WATCHDOG") == "1"]
        assert len(fed) >= 4
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        stopping = messages(server, "STOPPING", STOP_TIMEOUT_S)
        _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
        stopped_in = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    assert stopping and stopping[-1].get("STOPPING") == "1"
    assert process.returncode == 0, stderr
    assert stopped_in < STOP_TIMEOUT_S
    assert "stopped:" in stderr  # the run's own summary: open tracks were ended and stored
    with sqlite3.connect(tmp_path / "data" / "reads.db") as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'reads'").fetchone()


def test_a_stalled_loop_stops_feeding_the_watchdog(notify_socket):
    # No frame, no feed: nothing but the frame loop sends WATCHDOG=1.
    server, path = notify_socket
    now = [0.0]
    notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}, lambda: now[0])
    notifier.ready("reading")
    now[0] += 5.0  # five watchdog intervals without a frame
    assert messages(server, "never", 0.3)[1:] == []
    notifier.feed()
    assert messages(server, "WATCHDOG", 1)[-1] == {"WATCHDOG": "1"}
