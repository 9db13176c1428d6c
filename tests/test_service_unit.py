"""The systemd unit keeps the promises docs/deploy.md makes: notify with a watchdog, restart
with backoff, journald, and writes only where the data lives."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "alpr-edge.service"


@pytest.fixture(scope="module")
def service():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNIT)
    return parser["Service"]


def test_the_unit_is_notify_with_a_watchdog_and_restarts_with_backoff(service):
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure" and "RestartSteps" in service
    assert service["StandardOutput"] == "journal"
    assert "--log-format json run" in service["ExecStart"]


def test_the_unit_runs_as_its_own_user_and_writes_only_its_data(service):
    assert service["User"] == service["Group"] == "alpr-edge"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/alpr-edge"
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "RestrictSUIDSGID"):
        assert service[key] == "yes", key
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_reads_the_unit_without_errors_beyond_the_missing_install():
    done = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    for line in done.stderr.splitlines():
        known = ("Unknown key 'Restart", "is not executable", "No such file")
        assert any(k in line for k in known), line
