import sqlite3
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest

from edge.clock import UTC
from edge.errors import InputError
from edge.runtime.store import DB_NAME, ReadStore, StoreUnavailable
from edge.runtime.store.schema import SCHEMA_VERSION
from edge.runtime.types import Box, HotlistEntry, HotlistHit, VehicleRead


def make_read(plate="7ABC123", seen_at=None):
    return VehicleRead(
        plate=plate,
        region="CA",
        confidence=0.93,
        seen_at=seen_at or datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        camera_id="cam-a",
        box=Box(10, 20, 100, 30),
        frame_count=7,
        char_confidences=(0.9,) * len(plate),
    )


def crop():
    return np.full((30, 100, 3), 128, np.uint8)


def test_new_database_is_wal_with_current_schema_and_indexes(tmp_path):
    store = ReadStore(tmp_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexed = {tuple(i.columns) for i in store.db["reads"].indexes}
    assert {("plate",), ("seen_at",)} <= indexed
    store.close()
    # Reopening does not migrate again.
    ReadStore(tmp_path).close()


def test_database_from_newer_software_is_refused(tmp_path):
    ReadStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(InputError, match="newer than this software"):
        ReadStore(tmp_path)


def test_read_is_committed_with_its_crop_and_hits(tmp_path):
    store = ReadStore(tmp_path)
    hotlist_id = store.db["hotlist"].insert({"plate": "7ABC123", "loaded_at": "now"}).last_pk
    hit = HotlistHit(hotlist_id, "7ABC123", "CA", "stolen", "CHP", 0)
    read_id, stored = store.add_read(make_read(), crop(), [hit])
    # Another connection sees it: it is committed, not just written.
    other = sqlite3.connect(tmp_path / DB_NAME)
    assert other.execute("SELECT plate FROM reads WHERE id = ?", [read_id]).fetchone() == (
        "7ABC123",
    )
    assert other.execute("SELECT reason FROM hits WHERE read_id = ?", [read_id]).fetchone() == (
        "stolen",
    )
    assert (tmp_path / stored.crop_path).stat().st_size > 0


def test_search_by_wildcard_plate_and_time(tmp_path):
    store = ReadStore(tmp_path)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hour, plate in enumerate(["7ABC123", "7ABD999", "5XYZ000"]):
        store.add_read(make_read(plate, start + timedelta(hours=hour)), None)
    assert [r.read.plate for r in store.reads(plate="7AB*")] == ["7ABD999", "7ABC123"]
    assert [r.read.plate for r in store.reads(since=start + timedelta(minutes=90))] == ["5XYZ000"]
    assert [r.read.plate for r in store.reads(plate="7ab_123")] == []


def test_full_database_is_retried_then_refused_without_partial_rows(tmp_path):
    store = ReadStore(tmp_path, retry_attempts=3, retry_initial_s=0.01)
    store.add_read(make_read("1AAA111"), crop())
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    # SQLite reports SQLITE_FULL exactly as for a full disk once the page limit is reached.
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreUnavailable, match="full"):
        store.add_read(replace(make_read("2BBB222"), char_confidences=(0.5,) * 5000), crop())
    assert store.db["reads"].count == 1
    assert len(list(tmp_path.rglob("*.jpg"))) == 1  # the failed read left no crop behind
    store.db.execute("PRAGMA max_page_count = 1000000")
    read_id, _ = store.add_read(make_read("2BBB222"), crop())
    assert store.db["reads"].count == 2 and read_id == 2


def test_locked_database_is_retried_until_the_lock_is_released(tmp_path, caplog):
    store = ReadStore(tmp_path, retry_attempts=6, retry_initial_s=0.05)
    locker = sqlite3.connect(tmp_path / DB_NAME, check_same_thread=False, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.5, lambda: locker.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    read_id, _ = store.add_read(make_read(), crop())
    assert time.monotonic() - started >= 1.0
    assert read_id == 1
    assert "locked" in caplog.text
    release.join()


def test_a_read_keeps_its_candidates_and_a_hit_the_candidate_that_matched(tmp_path):
    from edge.runtime.types import Candidate

    store = ReadStore(tmp_path)
    read = replace(
        make_read("7ABC123"), candidates=(Candidate("7ABC123", 0.61), Candidate("7A8C123", 0.2))
    )
    hit = HotlistHit(
        1, "7A8C123", "CA", "stolen", "CHP", 0, matched_text="7A8C123", candidate_rank=1
    )
    entry = HotlistEntry(0, "7A8C123", "CA", "stolen", "CHP", None)
    store.upsert_hotlist([entry], "2026-01-01T00:00:00+00:00", "h.csv")
    read_id, _ = store.add_read(read, None, [hit])
    [stored] = store.reads()
    assert stored.read.candidates == read.candidates
    [stored_hit] = store.hits_for(read_id)
    assert (stored_hit.hit.matched_text, stored_hit.hit.candidate_rank) == ("7A8C123", 1)
    assert stored.as_row()["candidates"] == '[["7ABC123", 0.61], ["7A8C123", 0.2]]'


def test_a_version_2_database_gains_the_candidate_columns_and_keeps_its_reads(tmp_path):
    from edge.runtime.store.schema import MIGRATIONS

    store = ReadStore(tmp_path)
    store.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("ALTER TABLE reads DROP COLUMN candidates")
    conn.execute("ALTER TABLE hits DROP COLUMN matched_text")
    conn.execute("ALTER TABLE hits DROP COLUMN candidate_rank")
    conn.execute(
        "INSERT INTO reads (seen_at, camera_id, plate, confidence, frame_count) "
        "VALUES ('2026-01-02T03:04:05+00:00', 'cam-a', 'OLD123', 0.9, 3)"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    store = ReadStore(tmp_path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 3
    [old] = store.reads()
    assert (old.read.plate, old.read.candidates) == ("OLD123", ())
