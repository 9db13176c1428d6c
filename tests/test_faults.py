"""Faults a pole-mounted unit meets, injected for real: a crops folder or data folder that turns
read-only (a tmpfs remounted), a disk that fills (a small tmpfs), a stream that drops (a gap),
similar plates, motion zones that miss the frame. Each proves the read is kept."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import numpy as np
import pytest
from faults import remount, tmpfs

from edge.audit.events import Event
from edge.audit.log import AuditLog
from edge.audit.retention import Retention, local_retention, record_hold
from edge.clock import UTC
from edge.config import load_config
from edge.runtime.capture import SourceGap
from edge.runtime.pipeline.orchestrator import Pipeline
from edge.runtime.store import ReadStore
from edge.runtime.types import Box, Detection, Frame, PlateText, VehicleRead

START = datetime(2026, 1, 1, tzinfo=UTC)


def make_read(plate="7ABC123", seen_at=None, index=0):
    return VehicleRead(
        plate=plate,
        region="CA",
        confidence=0.93,
        seen_at=seen_at or START + timedelta(seconds=index),
        camera_id="cam-a",
        box=Box(10, 20, 100, 30),
        frame_count=7,
        char_confidences=(0.9,) * len(plate),
    )


def noisy_crop(seed=0, size=(60, 200)):
    # Noise does not compress: each crop takes real space on the disk.
    return np.random.default_rng(seed).integers(0, 255, (*size, 3), np.uint8)


# 1. A crops folder that turns read-only mid-run ------------------------------------------


def test_a_crops_folder_turned_read_only_drops_the_crop_with_a_warning_and_keeps_the_read(
    tmp_path, caplog
):
    data = tmp_path / "data"
    with tmpfs(data / "crops", "4m") as crops:
        store = ReadStore(data)
        _, first = store.add_read(make_read("1AAA111"), noisy_crop())
        assert first.crop_path is not None
        remount(crops, "ro")  # an SD card after I/O errors
        try:
            read_id, stored = store.add_read(make_read("2BBB222", index=1), noisy_crop(1))
        finally:
            remount(crops, "rw")
            store.close()
    assert stored.crop_path is None and read_id == 2
    assert "crop of 2BBB222 not saved" in caplog.text and "Read-only file system" in caplog.text


def test_a_crops_path_that_cannot_be_a_folder_keeps_every_read_without_crops(tmp_path, caplog):
    (tmp_path / "crops").write_text("not a folder")  # a write path where no folder can be made
    store = ReadStore(tmp_path)
    ids = [store.add_read(make_read(f"{i}AAA111", index=i), noisy_crop(i))[0] for i in range(3)]
    assert ids == [1, 2, 3] and store.db["reads"].count == 3
    assert all(r.read.crop_path is None for r in store.reads())
    assert caplog.text.count("not saved") == 3


def test_a_database_that_turned_read_only_keeps_reads_in_memory_without_stalling(tmp_path):
    config = unit_config(tmp_path, tmp_path / "data")
    store = ReadStore(tmp_path / "data", retry_attempts=5, retry_initial_s=0.2)
    pipeline = Pipeline(config, FixedDetector(), FixedReader("7ABC123"), store)
    # SQLITE_READONLY, as a database on a file system remounted read-only answers (a busy
    # tmpfs cannot be remounted read-only under an open database).
    store.db.execute("PRAGMA query_only = ON")
    started = time.monotonic()
    drive(pipeline, range(0, 5))
    pipeline.source_dropped()  # the pass ends while nothing can be written
    assert time.monotonic() - started < 1.0  # no retry stalls
    assert len(pipeline._backlog) == 1 and pipeline.stats.reads == 0
    store.db.execute("PRAGMA query_only = OFF")
    pipeline.finish()  # written as soon as the store takes writes again
    assert pipeline.stats.reads == 1 and pipeline.stats.unstored == 0
    store.close()


# 2. A track whose source dropped is committed at once ------------------------------------


class FixedDetector:
    """One plate, always at the same place."""

    def detect(self, image, areas, scale=1.0):
        return [Detection(Box(200, 200, 120, 40), 0.9)]


class FixedReader:
    def __init__(self, text):
        self.text = text

    def read(self, crops):
        return [PlateText(self.text, 0.95, (0.95,) * len(self.text), "CA", 0.9) for _ in crops]


def unit_config(tmp_path, data, **store):
    extra = "".join(f"{k} = {v}\n" for k, v in store.items())
    path = tmp_path / "edge.toml"
    path.write_text(
        '[camera]\nid = "cam-a"\n[motion]\nenabled = false\n'
        "[detector]\ndiscover_every_n_frames = 1\n"
        f'[store]\ndata_dir = "{data}"\n{extra}'
    )
    return load_config(path)


def frame(index, when=None):
    image = np.random.default_rng(index).integers(0, 255, (480, 640, 3), np.uint8)
    return Frame(image, index, when or START + timedelta(seconds=index / 30), "test")


def drive(pipeline, indices, offset_s=0.0):
    for index in indices:
        pipeline.process(frame(index, START + timedelta(seconds=offset_s + index / 30)))


def test_a_track_whose_source_dropped_is_committed_at_once_not_when_frames_return(tmp_path):
    config = unit_config(tmp_path, tmp_path / "data")
    store = ReadStore(tmp_path / "data")
    pipeline = Pipeline(config, FixedDetector(), FixedReader("7ABC123"), store)
    # The plate is seen, then the stream drops: no more frames, for as long as it is down.
    pipeline.run(iter([frame(i) for i in range(5)] + [SourceGap("cam")] + [frame(999)]))
    store_other = ReadStore(tmp_path / "data", readonly=True)
    assert [r.read.plate for r in store_other.reads()] == ["7ABC123"]
    assert pipeline.stats.gaps == 1


def test_the_gap_commits_the_read_before_the_next_frame_arrives(tmp_path):
    config = unit_config(tmp_path, tmp_path / "data")
    store = ReadStore(tmp_path / "data")
    pipeline = Pipeline(config, FixedDetector(), FixedReader("7ABC123"), store)
    drive(pipeline, range(5))
    assert store.db["reads"].count == 0  # still open: the plate may be seen again
    pipeline.source_dropped()
    assert store.db["reads"].count == 1  # committed while the stream is down (SIGKILL-safe)


# 3. Full disk: crops go first, then the oldest reads with no hit or hold -----------------


def ballast(path):
    """Fill the rest of the disk."""
    with path.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass


def fill(store, start=0, limit=2000):
    """Store reads with crops until the disk is full; returns how many were stored."""
    stored = 0
    for i in range(start, start + limit):
        try:
            _, read = store.add_read(make_read(f"{i % 9}ABC{i % 1000:03d}", index=i), noisy_crop(i))
        except Exception:
            break
        stored += 1
        if read.crop_path is None:
            break  # crops no longer fit
    return stored


def test_a_full_disk_deletes_old_crops_then_old_reads_and_keeps_reading_loudly(tmp_path, caplog):
    from dataclasses import replace

    from edge.runtime.types import HotlistHit

    data = tmp_path / "data"
    with tmpfs(data, "2m"):
        config = unit_config(tmp_path, data)
        store = ReadStore(data, retry_attempts=5, retry_initial_s=0.2)
        audit = AuditLog(config.audit_file)
        hit_id = store.db["hotlist"].insert({"plate": "0ABC000", "loaded_at": "now"}).last_pk
        hit = HotlistHit(hit_id, "0ABC000", "CA", "stolen", "CHP", 0)
        hit_read, with_hit = store.add_read(make_read("0ABC000"), noisy_crop(), [hit])
        held_read, held = store.add_read(make_read("0HLD000", index=1), noisy_crop(1))
        record_hold(audit, [held_read], "C-1", "officer", "evidence", True)
        store.reclaimer = Retention(store, audit, 30).reclaim_space
        assert fill(store, start=2) > 10  # reads with crops, until crops are held back
        # Far more than the disk holds (each ~1.5 KB): every one is still stored, fast.
        timings = []
        for i in range(3000, 5000):
            bulky = replace(
                make_read(f"9XYZ{i % 1000:03d}", index=i), char_confidences=(0.5,) * 250
            )
            started = time.monotonic()
            store.add_read(bulky, noisy_crop(i))
            timings.append(time.monotonic() - started)
        assert max(timings) < 1.0  # no 3-s retry stalls on a full disk
        assert "DISK FULL: deleted the crops" in caplog.text
        assert (
            "DISK FULL: deleted the " in caplog.text and "oldest reads with no hit" in caplog.text
        )
        kept = {r.id for r in store.reads(limit=100000)}
        assert {hit_read, held_read} <= kept  # a hit and a hold are never reclaimed
        assert (data / with_hit.crop_path).is_file() and (data / held.crop_path).is_file()
        assert [r.read.plate for r in store.reads(limit=1)] == ["9XYZ999"]
        with audit.reading() as conn:
            reasons = [
                row[0]
                for row in conn.execute(
                    "SELECT reason FROM audit WHERE event = ?", (Event.PURGE.value,)
                )
            ]
        assert any("crops of" in r for r in reasons) and any("oldest reads" in r for r in reasons)
        audit.close()
        store.close()


def test_a_full_disk_with_nothing_to_free_fails_fast_and_the_backlog_counts(tmp_path, caplog):
    data = tmp_path / "data"
    with tmpfs(data, "1m"):
        config = unit_config(tmp_path, data, backlog_limit=3, save_crops="false")
        store = ReadStore(data, retry_attempts=5, retry_initial_s=0.2)
        ballast(data / "ballast")
        pipeline = Pipeline(config, FixedDetector(), FixedReader("7ABC123"), store)
        started = time.monotonic()
        for n in range(6):
            pipeline.tracker._last_read.clear()  # six different passes
            pipeline._retry_at = 0
            drive(pipeline, range(n * 100, n * 100 + 5))
            pipeline.source_dropped()
        assert time.monotonic() - started < 3.0
        assert len(pipeline._backlog) == 3 and pipeline.stats.unstored == 3
        assert "dropped the read of 7ABC123 (3 dropped so far, 3 waiting)" in caplog.text
        (data / "ballast").unlink()
        pipeline.finish()
        assert pipeline.stats.reads == 3 and pipeline.stats.unstored == 3
        store.close()


def test_the_unit_purges_by_its_own_retention_without_sharing_and_audits_it(tmp_path):
    data = tmp_path / "data"
    config = unit_config(tmp_path, data, retention_days=30, purge_interval_s=3600)
    assert config.sharing is None
    store = ReadStore(data)
    old = datetime.now(UTC) - timedelta(days=31)
    store.add_read(make_read("1OLD111", seen_at=old), None)
    store.add_read(make_read("2NEW222", seen_at=datetime.now(UTC)), None)
    with local_retention(config, store):
        deadline = time.monotonic() + 10
        while store.db["reads"].count > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [r.read.plate for r in store.reads()] == ["2NEW222"]
    audit = AuditLog(config.audit_file)
    with audit.reading() as conn:
        (purges,) = conn.execute(
            "SELECT count(*) FROM audit WHERE event = ?", (Event.PURGE.value,)
        ).fetchone()
    audit.close()
    assert purges == 1


# 11. Motion zones outside the frame ---------------------------------------------------------


def test_motion_zones_outside_the_frame_are_an_error_at_the_first_frame(tmp_path, caplog):
    config = unit_config(tmp_path, tmp_path / "data")
    path = tmp_path / "edge.toml"
    path.write_text(
        path.read_text().replace(
            "enabled = false", "enabled = true\nzones = [[[0, 900], [1280, 900], [1280, 1000]]]"
        )
    )
    config = load_config(path)
    store = ReadStore(tmp_path / "data")
    pipeline = Pipeline(config, FixedDetector(), FixedReader("7ABC123"), store)
    with caplog.at_level(logging.ERROR):
        drive(pipeline, range(2))
    assert "zone 1 has points outside the 640x480 frame" in caplog.text


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_camera_id_is_refused_by_the_config(tmp_path, blank):
    from edge.errors import ConfigError

    path = tmp_path / "edge.toml"
    path.write_text(f'[camera]\nid = "{blank}"\n')
    with pytest.raises(ConfigError, match=r"camera\.id"):
        load_config(path)


# 15. The progress line and log lines share a terminal ----------------------------------------


def test_a_log_line_clears_the_progress_line_first_and_the_line_is_redrawn_after(monkeypatch):
    import io

    from edge.cli.progress import Progress
    from edge.runtime.pipeline.orchestrator import RunStats

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    progress = Progress(100, terminal, interval_s=0.0)
    progress(RunStats(frames=1))
    logging.getLogger("edge.test").warning("HOTLIST HIT 7ABC123")
    progress(RunStats(frames=2))
    progress.close()
    out = terminal.getvalue()
    # The line is wiped before the log line, which so starts at the left margin on its own.
    assert "frames 1/100" in out and "\r\x1b[KHOTLIST HIT 7ABC123\n" in out
    assert out.index("HOTLIST HIT") < out.index("frames 2/100")
    assert out.endswith("\n") and handler.filters == []
