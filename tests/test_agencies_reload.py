"""A running unit picks up allow-list edits within seconds, over real brokers: a valid change
is applied (and every agency is told), an invalid one is refused and can only narrow the list
in force (more in test_agencies_narrowing)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from brokers import AgencySubscriber, agency_toml
from query_support import quiet_unit_settings
from share_publisher import synthetic_read

from edge.audit.export import export_rows
from edge.cli import main
from edge.share.reload import AllowListWatcher
from edge.share.service import Sharing

CONFIG_CHANGE = "alpr-edge/config_change/1"


@dataclass
class RunningUnit:
    sharing: Sharing
    agencies: Path
    audit: Path
    oakland: AgencySubscriber

    def events(self, event: str) -> list[dict]:
        return [r for r in export_rows(self.audit) if r["event"] == event]


def wait_until(condition: Callable[[], object], timeout: float = 5.0) -> float:
    """Seconds until `condition()` held; fails the test after `timeout`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "not within the time allowed"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def unit(tmp_path, broker_factory, subscriber_factory) -> Iterator[RunningUnit]:
    oakland = broker_factory("oakland")
    agencies = tmp_path / "agencies.toml"
    agencies.write_text("# Test allow-list.\n\n" + agency_toml(oakland, "oakland-pd"))
    settings = quiet_unit_settings(agencies, tmp_path / "share")
    inbox = subscriber_factory(oakland, "oakland-dispatch")
    with Sharing(settings) as sharing:
        watcher = AllowListWatcher(sharing)
        watcher.start()
        try:
            yield RunningUnit(sharing, agencies, settings.data_dir / "audit.sqlite", inbox)
        finally:
            watcher.stop()


def test_valid_allow_list_change_is_applied_within_5_seconds(unit, broker_factory):
    chp = broker_factory("chp")
    unit_cert = chp.ca.issue("unit-1-for-chp")
    code = main(
        [
            "agencies",
            "add",
            "--agencies",
            str(unit.agencies),
            "--audit-log",
            str(unit.audit),
            "--id=chp",
            "--name=California Highway Patrol",
            "--ori=CA0349400",
            "--kind=state_agency",
            "--purpose=stolen vehicles, MOU CHP-2026-1",
            f"--broker={chp.url}",
            f"--ca-cert={chp.ca.cert}",
            f"--client-cert={unit_cert.cert}",
            f"--client-key={unit_cert.key}",
            "--receives=hits",
            "--expires=2099-01-01",
        ]
    )
    assert code == 0
    assert wait_until(lambda: unit.sharing.allowlist.get("chp")) < 5.0
    wait_until(lambda: chp.clients_connected("unit-1") == 1)
    # Every agency, old and new, is told that the sharing configuration changed.
    assert unit.oakland.wait_for(lambda s: s.of_schema(CONFIG_CHANGE), timeout=5)
    [alert] = unit.oakland.of_schema(CONFIG_CHANGE)
    assert alert["config_change"]["applied"] is True
    assert alert["config_change"]["added"] == ["chp"]
    assert alert["config_change"]["sha256_in_force"] == unit.sharing.allowlist.sha256
    [change] = unit.events("allowlist_change")
    assert '+id = "chp"' in json.loads(change["details"])["diff"]
    assert any(
        r["allowlist_sha256"] == change["allowlist_sha256"] for r in unit.events("config_load")
    )


def test_invalid_allow_list_change_is_refused_and_adds_nothing(unit, broker_factory):
    in_force = unit.sharing.allowlist
    federal = broker_factory("federal")
    # Edited by hand, bypassing `agencies add`: a federal agency slipped into the file.
    unit.agencies.write_text(
        unit.agencies.read_text()
        + agency_toml(federal, "hsi-sf", ori="CA0389999").replace(
            'kind = "city_police"', 'kind = "federal"'
        )
    )
    assert wait_until(lambda: unit.events("config_refused")) < 5.0
    [refusal] = unit.events("config_refused")
    assert "federal agencies are not California public agencies" in refusal["reason"]
    assert unit.sharing.allowlist.agencies == in_force.agencies
    assert unit.oakland.wait_for(lambda s: s.of_schema(CONFIG_CHANGE), timeout=5)
    assert unit.oakland.of_schema(CONFIG_CHANGE)[0]["config_change"]["applied"] is False
    # Sharing goes on under the old list; the federal broker never hears from the unit.
    unit.sharing.on_read(5, *synthetic_read(5))
    assert unit.oakland.wait_for(lambda s: s.of_schema("alpr-edge/hit/1"), timeout=5)
    assert federal.clients_connected("unit-1") == 0


def test_deleted_allow_list_file_shares_nothing(unit):
    # Fail closed: a missing file can be read to allow nothing (the file header's promise).
    unit.agencies.unlink()
    assert wait_until(lambda: unit.events("config_refused")) < 5.0
    assert unit.sharing.allowlist.agencies == ()
    time.sleep(2.5)  # the poll sees the same missing file again: refused once, not every time
    assert len(unit.events("config_refused")) == 1


def test_change_made_while_the_unit_was_stopped_is_reported_at_start(
    tmp_path, broker_factory, subscriber_factory
):
    oakland, chp = broker_factory("oakland"), broker_factory("chp")
    agencies = tmp_path / "agencies.toml"
    agencies.write_text(agency_toml(oakland, "oakland-pd"))
    settings = quiet_unit_settings(agencies, tmp_path / "share")
    with Sharing(settings):
        pass
    agencies.write_text(agencies.read_text() + agency_toml(chp, "chp", ori="CA0349400"))
    inbox = subscriber_factory(oakland, "oakland-dispatch")
    with Sharing(settings) as sharing:
        watcher = AllowListWatcher(sharing)
        watcher.start()
        try:
            assert inbox.wait_for(lambda s: s.of_schema(CONFIG_CHANGE), timeout=5)
        finally:
            watcher.stop()
    alert = inbox.of_schema(CONFIG_CHANGE)[0]["config_change"]
    assert (alert["when"], alert["added"], alert["removed"]) == (
        "while the unit was stopped",
        ["chp"],
        [],
    )
