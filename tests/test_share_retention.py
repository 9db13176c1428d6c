import json
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pytest

from edge.audit.export import export_rows
from edge.audit.log import AuditLog, verify
from edge.audit.retention import Retention, held_read_ids, record_hold
from edge.clock import UTC
from edge.config import parse_section
from edge.errors import ConfigError
from edge.runtime.store import ReadStore
from edge.runtime.types import Box, HotlistHit, VehicleRead

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def store_read(store: ReadStore, plate: str, age_days: float, hit: bool = False) -> int:
    read = VehicleRead(
        plate=plate,
        region="CA",
        confidence=0.9,
        seen_at=NOW - timedelta(days=age_days),
        camera_id="cam-1",
        box=Box(0, 0, 10, 10),
        frame_count=3,
    )
    crop = np.full((20, 60, 3), 128, np.uint8)
    hits = [HotlistHit(1, plate, "CA", "stolen", "NCIC", 0)] if hit else []
    if hit:
        store.db["hotlist"].insert(
            {"id": 1, "plate": plate, "loaded_at": NOW.isoformat()}, replace=True
        )
    read_id, _ = store.add_read(read, crop, hits)
    return read_id


class Unit:
    """The unit's store and audit log, and its retention (local policy, no sharing needed)."""

    def __init__(self, store: ReadStore, audit: AuditLog) -> None:
        self.audit = audit
        self.retention = Retention(store, audit, 30)


@pytest.fixture
def unit(tmp_path):
    store = ReadStore(tmp_path / "data")
    audit = AuditLog(tmp_path / "data" / "audit.sqlite")
    yield store, Unit(store, audit)
    audit.close()
    store.close()


def remaining(store: ReadStore) -> set[str]:
    return {row["plate"] for row in store.db.query("SELECT plate FROM reads")}


def test_reads_without_hits_are_purged_after_retention_with_their_crops_and_audited(unit):
    store, sharing = unit
    old = store_read(store, "7OLD001", 31)
    store_read(store, "7NEW001", 29)
    store_read(store, "7HIT001", 45, hit=True)
    [old_crop] = [r["crop_path"] for r in store.db.query("SELECT * FROM reads WHERE id = ?", [old])]
    assert (store.data_dir / old_crop).exists()

    result = sharing.retention.purge(NOW)

    assert result.purged == 1 and result.crops_removed == 1
    assert remaining(store) == {"7NEW001", "7HIT001"}, "hotlist hits and recent reads stay"
    assert not (store.data_dir / old_crop).exists()
    [row] = [r for r in export_rows(sharing.audit.path) if r["event"] == "purge"]
    assert row["record_count"] == 1 and row["data_elements"] == "", "no purged plate kept"
    assert json.loads(row["details"])["first_id"] == old
    assert json.loads(row["details"])["cutoff"] == (NOW - timedelta(days=30)).isoformat()
    assert sharing.retention.purge(NOW).purged == 0


def test_legal_hold_keeps_a_read_past_retention_until_released(unit):
    store, sharing = unit
    held = store_read(store, "7HOLD01", 90)
    record_hold(sharing.audit, [held], "24-001234", "Lt. Diaz", "court order 77", place=True)
    assert held_read_ids(sharing.audit) == {held}
    result = sharing.retention.purge(NOW)
    assert result.purged == 0 and result.held == 1
    assert remaining(store) == {"7HOLD01"}
    record_hold(sharing.audit, [held], "24-001234", "Lt. Diaz", "case closed", place=False)
    assert sharing.retention.purge(NOW).purged == 1
    events = [r["event"] for r in export_rows(sharing.audit.path)]
    assert events == ["legal_hold", "legal_hold_release", "purge"]
    assert verify(sharing.audit.path).ok


def test_retention_is_configurable_but_never_above_sixty_days(tmp_path):
    file = tmp_path / "edge.toml"
    settings = parse_section("store", {"retention_days": 60}, file)
    assert settings.retention_days == 60
    with pytest.raises(ConfigError) as caught:
        parse_section("store", {"retention_days": 90}, file)
    assert caught.value.key == "store.retention_days" and "legal hold" in caught.value.reason
    with pytest.raises(ValueError, match="1 to 60"):
        Retention(None, None, days=61)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"unit_id": "unit 1/#"}, "sharing.unit_id"),
        ({"data_dir": ""}, "sharing.data_dir"),
        ({"heartbeat_interval_s": 0}, "sharing.heartbeat_interval_s"),
        ({"national_lookup": True}, "sharing.national_lookup"),
    ],
)
def test_invalid_sharing_settings_name_the_key(tmp_path, change, key):
    table = {"agencies_file": "agencies.toml", "data_dir": "share", "unit_id": "unit-1"}
    with pytest.raises(ConfigError) as caught:
        parse_section("sharing", table | change, tmp_path / "edge.toml")
    assert caught.value.key == key


def test_hold_and_purge_commands_use_the_sharing_table_of_edge_toml(tmp_path):
    config = tmp_path / "edge.toml"
    config.write_text(
        '[store]\ndata_dir = "data"\n\n'
        '[sharing]\nagencies_file = "agencies.toml"\ndata_dir = "share"\nunit_id = "unit-1"\n'
    )
    store = ReadStore(tmp_path / "data")
    kept, gone = store_read(store, "7KEEP01", 400), store_read(store, "7GONE01", 400)
    store.close()

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "edge", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    held = cli("retention", "hold", str(kept), "--case", "24-001234", "--reason", "evidence")
    assert held.returncode == 0, held.stderr
    purged = cli("retention", "purge")
    assert purged.returncode == 0, purged.stderr
    assert (
        "purged 1 reads and 1 crops" in purged.stdout and "1 kept under legal hold" in purged.stdout
    )
    store = ReadStore(tmp_path / "data")
    assert remaining(store) == {"7KEEP01"} and gone not in {r.id for r in store.reads()}
    store.close()
    exported = cli("audit", "export", "--format", "jsonl")
    events = [json.loads(line)["event"] for line in exported.stdout.splitlines()]
    assert events == ["legal_hold", "purge"]
    missing = cli("retention", "hold", "1", "--case", "x")
    assert missing.returncode == 2 and "--reason" in missing.stderr
