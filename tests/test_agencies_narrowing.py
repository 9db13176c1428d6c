"""An edit never widens sharing: a refused (invalid) allow-list still takes away at once what it
removes, expires or narrows, over real brokers, and adds or widens nothing.

The acceptance run that found this: a unit shared with oakland-pd and chp; agencies.toml was
rewritten to drop chp with `receives` misspelt `recieves` in the same edit; the edit was refused
and chp went on receiving reads for 15 s.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from brokers import AgencySubscriber, MosquittoBroker, agency_toml
from query_support import quiet_unit_settings
from share_publisher import synthetic_read

from edge.audit.export import export_rows
from edge.cli import main
from edge.share.reload import AllowListWatcher
from edge.share.service import Sharing
from edge.share.state import read_sharing_state

READ = "alpr-edge/read/1"
HIT = "alpr-edge/hit/1"
ALL = ("reads", "hits", "heartbeat")


@dataclass
class TwoAgencyUnit:
    sharing: Sharing
    agencies: Path
    audit: Path
    brokers: dict[str, MosquittoBroker]
    inbox: dict[str, AgencySubscriber]
    entries: dict[str, str]

    def refusals(self) -> list[dict]:
        return [r for r in export_rows(self.audit) if r["event"] == "config_refused"]

    def shared_to(self, read_id: int) -> set[str]:
        """Agencies an allowed share row was written for, for messages of read `read_id`."""
        plate = synthetic_read(read_id)[0].plate
        return {
            r["destination"]
            for r in export_rows(self.audit)
            if r["event"] == "share" and r["decision"] == "allowed" and r["data_elements"] == plate
        }

    def edit(self, text: str) -> dict:
        """Write a new allow-list; wait for the unit to refuse it; the refusal row."""
        before = len(self.refusals())
        self.agencies.write_text(text)
        wait_until(lambda: len(self.refusals()) > before)
        return self.refusals()[-1]

    def share(self, read_id: int) -> None:
        self.sharing.on_read(read_id, *synthetic_read(read_id))


def wait_until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "not within the time allowed"
        time.sleep(0.05)


def received(inbox: AgencySubscriber, schema: str, plate: str) -> bool:
    return any(d["read"]["plate"] == plate for d in inbox.of_schema(schema))


# A second, invalid entry: it makes the whole file invalid (and must never be added).
FEDERAL_ENTRY = """[[agency]]
id = "hsi-sf"
name = "Homeland Security Investigations"
ori = "CA0389999"
kind = "federal"
state = "CA"
purpose = "none"
broker = "mqtts://127.0.0.1:1"
receives = ["reads"]
expires = 2099-01-01
"""


@pytest.fixture
def unit(tmp_path, broker_factory, subscriber_factory) -> Iterator[TwoAgencyUnit]:
    brokers = {"oakland-pd": broker_factory("oakland"), "chp": broker_factory("chp")}
    entries = {
        "oakland-pd": agency_toml(brokers["oakland-pd"], "oakland-pd"),
        "chp": agency_toml(brokers["chp"], "chp", ori="CA0349400"),
    }
    agencies = tmp_path / "agencies.toml"
    agencies.write_text(entries["oakland-pd"] + entries["chp"])
    settings = quiet_unit_settings(agencies, tmp_path / "share")
    inbox = {a: subscriber_factory(b, f"{a}-dispatch") for a, b in brokers.items()}
    with Sharing(settings) as sharing:
        watcher = AllowListWatcher(sharing)
        watcher.start()
        try:
            running = TwoAgencyUnit(
                sharing, agencies, settings.data_dir / "audit.sqlite", brokers, inbox, entries
            )
            # Both agencies receive before the edit.
            running.share(5)
            for box in inbox.values():
                assert box.wait_for(lambda s: s.of_schema(HIT), timeout=10)
            yield running
        finally:
            watcher.stop()


def test_revoking_chp_in_an_edit_with_a_recieves_typo_stops_chp_at_once(unit):
    # The acceptance failure: chp dropped, and `receives` misspelt in the same edit (here in
    # oakland's entry, so oakland is left receiving nothing too: a typo grants nothing).
    typo = unit.entries["oakland-pd"].replace("receives =", "recieves =")
    refusal = unit.edit(typo)
    narrowed = json.loads(refusal["details"])["narrowed"]
    assert narrowed["chp"].startswith("removed: no entry")
    assert narrowed["oakland-pd"].startswith("removed:")
    assert unit.sharing.allowlist.agencies == ()
    unit.share(10)
    assert unit.shared_to(10) == set()
    wait_until(lambda: "chp" not in unit.sharing.transport.connected())


def test_removed_agency_stops_while_an_unchanged_one_keeps_receiving(unit):
    # chp dropped; the file is invalid because of a new, misspelt entry that must not be added.
    newcomer = unit.entries["chp"].replace('id = "chp"', 'id = "newcomer"')
    refusal = unit.edit(unit.entries["oakland-pd"] + newcomer.replace("receives", "recieves"))
    assert "chp removed" in refusal["reason"]
    assert [a.id for a in unit.sharing.allowlist] == ["oakland-pd"]
    unit.share(10)
    assert unit.shared_to(10) == {"oakland-pd"}
    assert unit.inbox["oakland-pd"].wait_for(lambda s: received(s, HIT, "7ABC010"), timeout=10)
    wait_until(lambda: "chp" not in unit.sharing.transport.connected())
    assert not received(unit.inbox["chp"], HIT, "7ABC010")


def sharing_status(unit: TwoAgencyUnit, capsys) -> tuple[int, str]:
    config = unit.agencies.with_name("edge.toml")
    config.write_text(
        f'[sharing]\nagencies_file = "{unit.agencies}"\n'
        f'data_dir = "{unit.sharing.settings.data_dir}"\nunit_id = "unit-1"\n'
    )
    capsys.readouterr()
    code = main(["sharing", "status", "--config", str(config)])
    return code, capsys.readouterr().out


def test_sharing_status_reports_the_running_units_narrowed_list_and_the_invalid_file(unit, capsys):
    code, shown = sharing_status(unit, capsys)
    assert code == 0, shown
    assert "file on disk: valid" in shown and "the list in force" in shown
    unit.edit(unit.entries["oakland-pd"] + FEDERAL_ENTRY)
    # The unit writes its state just after the refusal's audit row.
    data_dir = unit.sharing.settings.data_dir
    wait_until(lambda: getattr(read_sharing_state(data_dir), "file_refused", False))
    code, shown = sharing_status(unit, capsys)
    # The acceptance failure: status said "INVALID, nothing is shared" while the unit shared.
    assert code == 1, shown
    assert f"pid {os.getpid()}; in force there" in shown and "NARROWED" in shown
    listed = [line.split()[0] for line in shown.splitlines() if line.startswith("  ")]
    assert [word for word in listed if word in unit.entries] == ["oakland-pd"]
    assert "file on disk: INVALID" in shown
    state = read_sharing_state(data_dir)
    assert state is not None and state.file_refused and state.alive
    assert [(a.id, a.receives) for a in state.agencies] == [("oakland-pd", tuple(sorted(ALL)))]


def test_expired_in_an_invalid_edit_stops_at_once(unit):
    expired = unit.entries["chp"].replace("expires = 2099-12-31", "expires = 2020-01-01")
    refusal = unit.edit(unit.entries["oakland-pd"] + expired + FEDERAL_ENTRY)
    assert "expires 2099-12-31 -> 2020-01-01" in json.loads(refusal["details"])["narrowed"]["chp"]
    assert "federal agencies are not California public agencies" in refusal["reason"]
    unit.share(10)
    assert unit.shared_to(10) == {"oakland-pd"}
    assert unit.sharing.allowlist.get("hsi-sf") is None


def test_fewer_receives_in_an_invalid_edit_stops_reads_but_keeps_hits(unit):
    fewer = unit.entries["chp"].replace(json.dumps(list(ALL)), '["hits"]')
    unit.edit(unit.entries["oakland-pd"] + fewer + FEDERAL_ENTRY)
    assert unit.sharing.allowlist.get("chp").receives == {"hits"}
    unit.share(11)  # no hit: a read only
    unit.share(15)  # a hit
    assert unit.inbox["oakland-pd"].wait_for(lambda s: received(s, READ, "7ABC011"), timeout=10)
    assert unit.inbox["chp"].wait_for(lambda s: received(s, HIT, "7ABC015"), timeout=10)
    assert not received(unit.inbox["chp"], READ, "7ABC011")
    assert not received(unit.inbox["chp"], READ, "7ABC015")


def test_another_broker_in_an_invalid_edit_removes_the_agency(unit, broker_factory):
    elsewhere = broker_factory("elsewhere")
    moved = unit.entries["chp"].replace(unit.brokers["chp"].url, elsewhere.url)
    refusal = unit.edit(unit.entries["oakland-pd"] + moved + FEDERAL_ENTRY)
    assert "changes broker" in json.loads(refusal["details"])["narrowed"]["chp"]
    unit.share(10)
    assert unit.shared_to(10) == {"oakland-pd"}
    wait_until(lambda: "chp" not in unit.sharing.transport.connected())
    time.sleep(0.5)
    assert elsewhere.clients_connected("unit-1") == 0


def test_an_invalid_edit_widens_nothing_then_a_valid_one_applies(unit):
    # Narrow chp to hits with a valid file, then widen it back inside an invalid one.
    hits_only = unit.entries["chp"].replace(json.dumps(list(ALL)), '["hits"]')
    unit.agencies.write_text(unit.entries["oakland-pd"] + hits_only)
    wait_until(lambda: unit.sharing.allowlist.get("chp").receives == {"hits"})
    unit.edit(unit.entries["oakland-pd"] + unit.entries["chp"] + FEDERAL_ENTRY)
    assert unit.sharing.allowlist.get("chp").receives == {"hits"}
    # The same widening in a valid file is applied.
    unit.agencies.write_text(unit.entries["oakland-pd"] + unit.entries["chp"])
    wait_until(lambda: unit.sharing.allowlist.get("chp").receives == set(ALL))
    assert unit.sharing.allowlist.narrowed_by is None


def test_the_last_good_file_written_back_after_a_refused_edit_applies_whole(unit):
    good = unit.agencies.read_text()
    unit.edit(unit.entries["oakland-pd"] + FEDERAL_ENTRY)
    assert unit.sharing.allowlist.get("chp") is None
    unit.agencies.write_text(good)
    wait_until(lambda: unit.sharing.allowlist.get("chp") is not None)
    assert unit.sharing.allowlist.narrowed_by is None
    unit.share(15)
    assert unit.inbox["chp"].wait_for(lambda s: received(s, HIT, "7ABC015"), timeout=10)


def test_a_file_that_is_not_toml_shares_nothing(unit):
    refusal = unit.edit(unit.entries["oakland-pd"] + "[[agency\n")
    assert "invalid TOML" in refusal["reason"]
    assert unit.sharing.allowlist.agencies == ()
    unit.share(10)
    assert unit.shared_to(10) == set()
